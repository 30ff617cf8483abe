package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// intake is a real HTTP server on a fixed address that the test stops and starts, standing for the
// intake's listener.
type intake struct {
	t    *testing.T
	addr string
	srv  *http.Server
}

func startIntake(t *testing.T) *intake {
	in := &intake{t: t, addr: "127.0.0.1:0"}
	in.start()
	t.Cleanup(func() { in.srv.Close() })
	return in
}

// start listens on the intake's address again (the first time, on a free port).
func (in *intake) start() {
	in.t.Helper()
	ln, err := net.Listen("tcp", in.addr)
	must(in.t, err)
	in.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/checkpoint" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "akciz.test/log\n1\nAAAA")
	})}
	go in.srv.Serve(ln)
	in.addr = ln.Addr().String()
}

func (in *intake) stop() { must(in.t, in.srv.Close()) }

// probe is what akciz server's probe does without the TLS: a GET of the checkpoint, 200 or down.
func (in *intake) probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+in.addr+"/api/v1/checkpoint", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("checkpoint: %s", resp.Status)
	}
	return nil
}

// TestWatchdogRaisesUnavailableWhenIngestDown: "the server … can raise an unplanned-unavailability
// notice when ingest is down" (issue #8). With a real HTTP server as the intake, stopped and started,
// and a fake clock: nothing while it answers; one or two failed probes (a restart) raise nothing; 3
// failed probes over 3 minutes raise one unplanned notice starting at the first failure, sent to the
// system's operability subscribers; further failures raise nothing more; the first success ends it at
// that time, threaded under the first message (In-Reply-To), and the intake answering raises nothing.
func TestWatchdogRaisesUnavailableWhenIngestDown(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	box, conn := startSMTP(t)
	w := NewSender(f.svc, conn)
	alice := user("alice", "alice@firma.bg")
	form := Prefill(alice)
	form.System, form.Events, form.Delivery = "BACIS", []store.EventKind{store.EventOperability}, store.DeliveryEmail
	_, err := f.svc.Subscribe(ctx, alice, form)
	must(t, err)

	in := startIntake(t)
	var logged []string
	wd := &Watchdog{Service: f.svc, System: "BACIS", Probe: in.probe, Clock: f.clock,
		Logf: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
	step := func(want WatchState) {
		t.Helper()
		got, err := wd.Check(ctx)
		must(t, err)
		if got != want {
			t.Fatalf("at %s: state %d, want %d\n%s", f.clock.Now().Format(time.TimeOnly), got, want, strings.Join(logged, "\n"))
		}
		f.clock.Advance(time.Minute)
	}
	notices := func() []store.Notice {
		ns, err := f.st.Notices(ctx, store.NoticeFilter{System: "BACIS", Kind: store.NoticeOperability})
		must(t, err)
		return ns
	}

	step(WatchUp)
	// A restart: two failed probes, then it answers again. Nobody is told.
	in.stop()
	step(WatchFailing)
	step(WatchFailing)
	in.start()
	step(WatchUp)
	if n := notices(); len(n) != 0 {
		t.Fatalf("a short restart raised %d notices", len(n))
	}

	// Down: probes at +0, +1, +2 fail (3 probes, but only 2 minutes), +3 raises.
	in.stop()
	down := f.clock.Now()
	step(WatchFailing)
	step(WatchFailing)
	step(WatchFailing)
	step(WatchDown)
	step(WatchDown)
	ns := notices()
	if len(ns) != 1 {
		t.Fatalf("%d notices, want 1", len(ns))
	}
	r := ns[0].Latest()
	if r.Planned || r.Author != Author || !r.Start.Equal(down) || !strings.Contains(r.Text, FormatTime(i18n.For(i18n.BG), down)) {
		t.Errorf("the notice: %+v", r)
	}
	if n := sendAll(t, w); n != 1 {
		t.Fatalf("sent %d, want alice's one", n)
	}
	first := parse(t, box.to("alice@firma.bg")[0].Data)

	// Up again: the notice ends at the first successful probe, and alice gets the end in the thread.
	in.start()
	up := f.clock.Now()
	step(WatchRecovered)
	step(WatchUp)
	ns = notices()
	if len(ns) != 1 || ns[0].Latest().Action != store.ActionEnd || !ns[0].Latest().End.Equal(up) {
		t.Fatalf("after recovery: %+v", ns)
	}
	if n := sendAll(t, w); n != 1 {
		t.Fatalf("sent %d, want alice's end", n)
	}
	end := parse(t, box.to("alice@firma.bg")[1].Data)
	if irt, _ := end.h.Text("In-Reply-To"); irt != "<"+msgID(t, first)+">" {
		t.Errorf("the end is not threaded: In-Reply-To %q, first %q", irt, msgID(t, first))
	}
	if len(first.attachments) != 0 || len(end.attachments) != 0 {
		t.Error("an operability message with an attachment")
	}
}

// TestWatchdogEndsNoticeLeftOpen: a server restarted during an outage (a new Watchdog) ends the notice
// the previous run raised at its first successful probe, and never ends an administrator's notice.
func TestWatchdogEndsNoticeLeftOpen(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	ours, _, err := f.svc.RaiseUnavailable(ctx, "BACIS", start, "")
	must(t, err)
	theirs, err := f.svc.Publish(ctx, "admin", Publication{System: "EMCS", Kind: store.NoticeOperability,
		Title: "Прекъсване", Text: "Системата не работи.", Start: start})
	must(t, err)
	f.clock.Advance(10 * time.Minute)
	for _, sys := range []string{"BACIS", "EMCS"} {
		wd := &Watchdog{Service: f.svc, System: sys, Probe: func(context.Context) error { return nil }}
		st, err := wd.Check(ctx)
		must(t, err)
		if want := map[string]WatchState{"BACIS": WatchRecovered, "EMCS": WatchUp}[sys]; st != want {
			t.Errorf("%s: state %d, want %d", sys, st, want)
		}
	}
	if n, _ := f.st.Notice(ctx, ours.ID); n.Latest().Action != store.ActionEnd || !n.Latest().End.Equal(start.Add(10*time.Minute)) {
		t.Errorf("ours: %+v", n.Latest())
	}
	if n, _ := f.st.Notice(ctx, theirs.ID); n.Latest().Action == store.ActionEnd {
		t.Error("the administrator's notice was ended by the watchdog")
	}
}

// TestWatchdogStoreDown: when publishing fails (here: a system not in the catalogue; in a server, a store
// that is down), Check says so and tries again on the next probe; a timed-out probe counts as a failure;
// a negative For is the count alone (--ingest-down-for 0).
func TestWatchdogStoreDown(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	wd := &Watchdog{Service: f.svc, System: "NOPE", Probes: 1, For: -1, Timeout: time.Millisecond,
		Probe: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	if st, err := wd.Check(ctx); err == nil || st != WatchFailing {
		t.Errorf("raising for an unknown system: %d, %v", st, err)
	}
	wd.System = "BACIS"
	f.clock.Advance(time.Minute)
	if st, err := wd.Check(ctx); err != nil || st != WatchDown {
		t.Errorf("retry: %d, %v", st, err)
	}
	ns, err := f.st.Notices(ctx, store.NoticeFilter{System: "BACIS"})
	must(t, err)
	if len(ns) != 1 || !ns[0].Latest().Start.Equal(start) {
		t.Errorf("the notice starts at the first failed probe: %+v", ns)
	}
}

// TestWatchdogPlannedMaintenance: "the server publishes operability notices itself when an administrator
// schedules maintenance, and can raise an unplanned-unavailability notice when ingest is down" (issue
// #8): an intake down within a planned window the subscribers were told of raises nothing; one still
// down 3 minutes after the window's end is an unplanned outage from that end; a cancelled window covers
// nothing.
func TestWatchdogPlannedMaintenance(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	from, to := start.Add(time.Hour), start.Add(2*time.Hour)
	_, err := f.svc.ScheduleMaintenance(ctx, "admin", "BACIS", from, to, "Профилактика", "Няма да се приемат данни.")
	must(t, err)
	down := errors.New("connection refused")
	wd := &Watchdog{Service: f.svc, System: "BACIS", Probe: func(context.Context) error { return down }}
	f.clock.Set(from)
	for i, want := range []WatchState{WatchFailing, WatchFailing, WatchFailing, WatchPlanned} {
		if st, err := wd.Check(ctx); err != nil || st != want {
			t.Fatalf("probe %d in the window: %d, %v; want %d", i, st, err, want)
		}
		f.clock.Advance(time.Minute)
	}
	f.clock.Set(to.Add(-time.Minute))
	if st, _ := wd.Check(ctx); st != WatchPlanned {
		t.Errorf("the last minute of the window: %d", st)
	}
	f.clock.Set(to.Add(2 * time.Minute))
	if st, _ := wd.Check(ctx); st != WatchFailing {
		t.Errorf("2 minutes past the window: %d, want failing (grace)", st)
	}
	f.clock.Set(to.Add(3 * time.Minute))
	if st, err := wd.Check(ctx); err != nil || st != WatchDown {
		t.Fatalf("3 minutes past the window: %d, %v", st, err)
	}
	ns, err := f.st.Notices(ctx, store.NoticeFilter{System: "BACIS"})
	must(t, err)
	var raised []store.Notice
	for _, n := range ns {
		if n.Revisions[0].Author == Author {
			raised = append(raised, n)
		}
	}
	if len(raised) != 1 || raised[0].Latest().Planned || !raised[0].Latest().Start.Equal(to) {
		t.Errorf("raised: %+v, want one unplanned from the window's end", raised)
	}

	// A cancelled window covers nothing (EMCS: down during a window that was cancelled).
	f.clock.Set(start)
	c, err := f.svc.ScheduleMaintenance(ctx, "admin", "EMCS", from, to, "Профилактика", "Текст.")
	must(t, err)
	_, err = f.svc.Publish(ctx, "admin", Publication{Notice: c.ID, Action: store.ActionCancel})
	must(t, err)
	wd = &Watchdog{Service: f.svc, System: "EMCS", Probes: 1, For: -1, Probe: func(context.Context) error { return down }}
	f.clock.Set(from.Add(time.Minute))
	if st, err := wd.Check(ctx); err != nil || st != WatchDown {
		t.Errorf("within a cancelled window: %d, %v", st, err)
	}
}
