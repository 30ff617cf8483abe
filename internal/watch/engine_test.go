package watch_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// Чл. 30(13): a road loading point must read at least every 10 minutes, a pipeline every hour. With a
// grace of 1 minute, the road points are late after 11 minutes of silence while the pipeline is not.
func TestLatePointByIntervalClass_Art30_13(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.accept()
	rec := &recorder{}
	e := f.engine(rec)
	f.readAll()
	f.tick(e)
	if n := len(f.open(store.AlarmLatePoint)); n != 0 {
		t.Fatalf("fresh readings, %d late points", n)
	}
	// The pipeline keeps reading; the road points fall silent.
	f.clock.Advance(10*time.Minute + 59*time.Second)
	f.send(reading(point5, f.clock.Now()))
	f.tick(e)
	if n := len(f.open(store.AlarmLatePoint)); n != 0 {
		t.Fatalf("10 min 59 s after the last reading (limit 10 min + 1 min grace): %d late points", n)
	}
	f.clock.Advance(2 * time.Second)
	f.tick(e)
	late := f.open(store.AlarmLatePoint)
	for _, p := range []string{device + "001", device + "002", device + "003"} {
		a, ok := late[p]
		if !ok {
			t.Errorf("road point %s not late after 11 min", p)
			continue
		}
		if want := t0.Add(11 * time.Minute); !a.Opened.Equal(want) {
			t.Errorf("%s opened %v, want when it became late %v", p, a.Opened, want)
		}
		if a.Detail["class"] != "road" || a.Detail["last"] == "" {
			t.Errorf("detail %v", a.Detail)
		}
	}
	if _, ok := late[point5]; ok {
		t.Error("pipeline point late after 11 min (its limit is 1 h)")
	}
	if _, ok := late[device+"004"]; ok {
		t.Error("rail point late after 11 min (its limit is 15 min)")
	}
	// The next check changes nothing: one alarm per point, no repeated notices.
	n := rec.count()
	f.clock.Advance(30 * time.Second)
	f.tick(e)
	if rec.count() != n {
		t.Errorf("a second check told the notifier %d more times", rec.count()-n)
	}
	// The point reads again: the alarm is marked restored and stays for a person to close.
	f.send(reading(point1, f.clock.Now()))
	f.tick(e)
	a, err := f.st.Alarm(f.ctx, late[point1].ID)
	f.must(err)
	if a.State != store.AlarmStateOpen || a.Restored.IsZero() {
		t.Errorf("after fresh data: state %s, restored %v", a.State, a.Restored)
	}
	// Silent again: the same alarm, recurred.
	f.clock.Advance(12 * time.Minute)
	f.send(reading(point5, f.clock.Now()))
	f.tick(e)
	if got := f.history(a.ID); !slices.Equal(got, []store.AlarmAction{store.AlarmOpened, store.AlarmRestored, store.AlarmRecurred}) {
		t.Errorf("history %v", got)
	}
}

// Чл. 28: a live site from which nothing arrives at all is one late-site alarm (its points are not
// reported one by one), and the officer and the operator are told at once.
func TestSilentSite_Art28(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.accept()
	rec := &recorder{}
	e := f.engine(rec)
	f.readAll()
	f.tick(e)
	f.clock.Advance(11*time.Minute + time.Second)
	f.tick(e)
	site := f.open(store.AlarmLateSite)
	if len(site) != 1 {
		t.Fatalf("late-site alarms: %v", site)
	}
	if n := len(f.open(store.AlarmLatePoint)); n != 0 {
		t.Errorf("%d late-point alarms beside the late-site one", n)
	}
	if rec.count() != 1 || rec.changes[0].Action != store.AlarmOpened || rec.alarms[0].Operator != opEIK ||
		rec.alarms[0].CustomsOffice != office {
		t.Errorf("notifier told %+v", rec.changes)
	}
}

// A site is not late for the time before it went live (чл. 21), nor for the time before its
// configuration was accepted; a site in testing (чл. 17) raises no alarm at all.
func TestNoAlarmBeforeLiveOrInTesting_Art17_21(t *testing.T) {
	f := newFixture(t, store.SiteTesting)
	f.accept()
	e := f.engine(nil)
	f.clock.Advance(3 * time.Hour)
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventDoorOpened, Tag: "door"}))
	f.tick(e)
	if as, _ := f.st.Alarms(f.ctx, store.AlarmFilter{}); len(as) != 0 {
		t.Fatalf("site in testing raised %d alarms", len(as))
	}
	_, err := f.st.MoveSite(f.ctx, store.SiteMove{Site: site, From: store.SiteTesting, To: store.SiteLive, Who: "x",
		Role: "officer", Time: f.clock.Now()})
	f.must(err)
	f.clock.Advance(5 * time.Minute)
	f.tick(e)
	if as, _ := f.st.Alarms(f.ctx, store.AlarmFilter{}); len(as) != 0 {
		t.Fatalf("5 min after going live: %d alarms", len(as))
	}
	f.clock.Advance(7 * time.Minute)
	f.tick(e)
	if len(f.open(store.AlarmLateSite)) != 1 {
		t.Error("12 min after going live without data: no late-site alarm")
	}
}

// Test records (чл. 17) of a live site raise nothing either: they are kept and marked, not watched.
func TestTestRecordsRaiseNothing_Art17(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	e := f.engine(nil)
	r := event("", f.clock.Now(), core.Event{Kind: core.EventPowerLost, Tag: "ups"})
	r.Test = true
	f.send(r)
	f.tick(e)
	if len(f.open(store.AlarmPowerLoss)) != 0 {
		t.Error("a test record raised an alarm")
	}
}

// Events raise alarms and their counterparts mark them restored: power (чл. 30(1)), the box's door
// (чл. 36), error bits (чл. 35(5)), communication, limits; a totalizer that went down (чл. 30(6)) and
// unsent records have no counterpart.
func TestEventsRaiseAndRestore_Art30_36(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	rec := &recorder{}
	e := f.engine(rec)
	now := f.clock.Now()
	f.send(
		event("", now, core.Event{Kind: core.EventPowerLost, Tag: "ups"}),
		event("", now, core.Event{Kind: core.EventDoorOpened, Tag: "door"}),
		event(point1, now, core.Event{Kind: core.EventTotalizerDecreased, Tag: "vol", Previous: "1000.5", Value: "999.0", Unit: "L"}),
		event(point1, now, core.Event{Kind: core.EventErrorBitsSet, Tag: "err", Bits: []int{3, 7}}),
		event("", now, core.Event{Kind: core.EventCommunicationLost}),
		event(point1, now, core.Event{Kind: core.EventOutOfLimits, Tag: "temp", Value: "99"}),
		event("", now, core.Event{Kind: core.EventUnsentTooLong}),
		event("", now, core.Event{Kind: core.EventAgentStarted}),
	)
	f.tick(e)
	for kind, point := range map[store.AlarmKind]string{
		store.AlarmPowerLoss: "", store.AlarmDoorOpened: "", store.AlarmTotalizerDecreased: point1,
		store.AlarmErrorBits: point1, store.AlarmCommunicationLoss: "", store.AlarmOutOfLimits: point1,
		store.AlarmUnsentTooLong: "",
	} {
		if _, ok := f.open(kind)[point]; !ok {
			t.Errorf("no %s alarm at %q", kind, point)
		}
	}
	if got := f.open(store.AlarmTotalizerDecreased)[point1].Detail; got["previous"] != "1000.5" || got["value"] != "999.0" {
		t.Errorf("totalizer detail %v", got)
	}
	if got := f.open(store.AlarmErrorBits)[point1].Detail["bits"]; got != "3,7" {
		t.Errorf("bits %q", got)
	}
	as, _ := f.st.Alarms(f.ctx, store.AlarmFilter{})
	if len(as) != 7 || rec.count() != 7 {
		t.Errorf("%d alarms, %d notices; want 7 (agent-started raises nothing)", len(as), rec.count())
	}
	// The door is opened again before anyone closed the alarm: noted on the same alarm (each opening counts).
	f.clock.Advance(time.Minute)
	later := f.clock.Now()
	f.send(
		event("", later, core.Event{Kind: core.EventDoorOpened, Tag: "door"}),
		event("", later, core.Event{Kind: core.EventDoorClosed, Tag: "door"}),
		event("", later, core.Event{Kind: core.EventPowerRestored, Tag: "ups"}),
		event(point1, later, core.Event{Kind: core.EventErrorBitsCleared, Tag: "err", Bits: []int{3, 7}}),
		event("", later, core.Event{Kind: core.EventCommunicationRestored}),
		event(point1, later, core.Event{Kind: core.EventBackInLimits, Tag: "temp", Value: "20"}),
	)
	f.tick(e)
	door := f.open(store.AlarmDoorOpened)[""]
	if got := f.history(door.ID); !slices.Equal(got, []store.AlarmAction{store.AlarmOpened, store.AlarmNoted, store.AlarmRestored}) {
		t.Errorf("door history %v", got)
	}
	for _, kind := range []store.AlarmKind{store.AlarmPowerLoss, store.AlarmDoorOpened, store.AlarmErrorBits,
		store.AlarmCommunicationLoss, store.AlarmOutOfLimits} {
		open := f.open(kind)
		if len(open) != 1 {
			t.Errorf("%s: %d open alarms, want 1", kind, len(open))
		}
		for _, a := range open {
			if !a.Restored.Equal(f.clock.Now()) {
				t.Errorf("%s restored at %v, want the check's time %v", kind, a.Restored, f.clock.Now())
			}
			h, err := f.st.AlarmHistory(f.ctx, a.ID)
			f.must(err)
			if last := h[len(h)-1]; last.Action != store.AlarmRestored || last.Detail["ended"] != core.Stamp(later).Format(time.RFC3339Nano) {
				t.Errorf("%s: last entry %+v, want restored, ended at %v", kind, last, later)
			}
		}
	}
	if a := f.open(store.AlarmTotalizerDecreased)[point1]; !a.Restored.IsZero() {
		t.Error("totalizer alarm restored by nothing")
	}
	// Records already examined are not examined again.
	n := rec.count()
	f.tick(e)
	if rec.count() != n {
		t.Error("a second check re-read old events")
	}
}

// An ingest incident (gap, replay, reorder, altered record, bad signature) is an alarm of its own kind
// that only an officer can close (issue #6; чл. 28).
func TestIncidentAlarmOfficerOnly(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	e := f.engine(nil)
	id, err := f.st.AddIncident(f.ctx, store.Incident{Kind: store.IncidentGap, Device: device, First: 10, Last: 12,
		Detail: "seq 10 expected, 13 received", Time: f.clock.Now()})
	f.must(err)
	_, err = f.st.AddIncident(f.ctx, store.Incident{Kind: store.IncidentUnknownCertificate, Time: f.clock.Now()})
	f.must(err)
	f.tick(e)
	f.tick(e)
	as, err := f.st.Alarms(f.ctx, store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmIncident}})
	f.must(err)
	if len(as) != 1 || as[0].Incident != id || as[0].Detail["incident"] != "gap" || as[0].Device != device {
		t.Fatalf("incident alarms %+v", as)
	}
	x := watch.NewAlarms(f.st, f.clock, nil)
	if _, err := x.Acknowledge(f.ctx, operator, as[0].ID, "проверяваме връзката"); err != nil {
		t.Fatalf("operator acknowledges: %v", err)
	}
	for _, who := range []watch.Actor{operator, admin} {
		if _, err := x.Close(f.ctx, who, as[0].ID, "готово"); !errors.Is(err, watch.ErrForbidden) {
			t.Errorf("%s closes an incident: %v, want ErrForbidden", who.Role, err)
		}
	}
	got, err := x.Close(f.ctx, officer, as[0].ID, "проверено, няма липсващи данни")
	f.must(err)
	if got.State != store.AlarmStateClosed {
		t.Errorf("state %s", got.State)
	}
	// Closed, the incident does not come back at the next check.
	f.tick(e)
	if open := f.open(store.AlarmIncident); len(open) != 0 {
		t.Errorf("closed incident alarm reopened: %+v", open)
	}
}

// Alarm lifecycle: acknowledged with a comment, closed, with history; who sees what.
func TestAlarmLifecycle(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	rec := &recorder{}
	e := f.engine(rec)
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventPowerLost}))
	f.tick(e)
	a := f.open(store.AlarmPowerLoss)[""]
	x := watch.NewAlarms(f.st, f.clock, rec)
	if _, err := x.Acknowledge(f.ctx, operator, a.ID, "  "); !errors.Is(err, watch.ErrInvalid) {
		t.Errorf("acknowledge without a comment: %v", err)
	}
	if _, err := x.Acknowledge(f.ctx, stranger, a.ID, "не е мое"); !errors.Is(err, watch.ErrNotFound) {
		t.Errorf("another operator's alarm: %v, want ErrNotFound", err)
	}
	if _, err := x.Acknowledge(f.ctx, watch.Actor{Who: "x", Role: store.RoleOfficer, Office: "BG001000"}, a.ID, "x"); !errors.Is(err, watch.ErrNotFound) {
		t.Errorf("another office's officer: %v, want ErrNotFound", err)
	}
	f.clock.Advance(time.Minute)
	got, err := x.Acknowledge(f.ctx, operator, a.ID, "UPS работи, токът е спрян от ЕРП")
	f.must(err)
	if got.State != store.AlarmStateAcknowledged {
		t.Errorf("state %s", got.State)
	}
	// The operator may not close an alarm whose condition goes on.
	if _, err := x.Close(f.ctx, operator, a.ID, "x"); !errors.Is(err, watch.ErrForbidden) {
		t.Errorf("operator closes an ongoing power loss: %v", err)
	} else if m, ok := watch.Message(err); !ok || m.Key != "watch.alarm.operator_close_ongoing" {
		t.Errorf("message %+v", m)
	}
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventPowerRestored}))
	f.tick(e)
	if _, err := x.Close(f.ctx, operator, a.ID, "токът е възстановен"); err != nil {
		t.Errorf("operator closes a restored alarm: %v", err)
	}
	if _, err := x.Note(f.ctx, officer, a.ID, "късно"); !errors.Is(err, watch.ErrRefused) {
		t.Errorf("note on a closed alarm: %v", err)
	}
	_, h, err := x.Get(f.ctx, officer, a.ID)
	f.must(err)
	var actions []store.AlarmAction
	for _, en := range h {
		actions = append(actions, en.Action)
	}
	want := []store.AlarmAction{store.AlarmOpened, store.AlarmAcknowledged, store.AlarmRestored, store.AlarmClosed}
	if !slices.Equal(actions, want) || h[1].Who != operator.Who || h[1].Role != "operator" || !h[1].Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("history %+v", h)
	}
	if rec.count() != 4 {
		t.Errorf("notifier told %d times, want 4", rec.count())
	}
	list, err := x.List(f.ctx, stranger, store.AlarmFilter{})
	f.must(err)
	if len(list) != 0 {
		t.Errorf("another operator lists %d alarms", len(list))
	}
	list, err = x.List(f.ctx, operator, store.AlarmFilter{Operator: otherOp})
	f.must(err)
	if len(list) != 1 {
		t.Errorf("an operator's filter for another EIK is overridden by its own: %d", len(list))
	}
}

// Run checks every Options.Every by the clock, without sleeping: the fake clock fires the engine's timer,
// and the test waits on what the engine does, not on time.
func TestRunFollowsTheClock(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.clock.set = make(chan struct{}, 1)
	opened := make(chan store.Alarm, 1)
	e, err := watch.New(f.st, watch.Options{Clock: f.clock, Decode: decode, Every: time.Minute, Grace: time.Minute,
		Notifier: notifyFunc(func(a store.Alarm) { opened <- a })})
	f.must(err)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	<-f.clock.set // the first check is done and the timer set
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventDoorOpened}))
	f.clock.Advance(time.Minute)
	a := <-opened
	<-f.clock.set
	cancel()
	<-done
	if a.Kind != store.AlarmDoorOpened {
		t.Errorf("the check after the clock moved told of %+v", a)
	}
}

type notifyFunc func(store.Alarm)

func (f notifyFunc) AlarmChanged(_ context.Context, a store.Alarm, _ store.AlarmEntry) error {
	f(a)
	return nil
}

// Records the agent's journal lost to disk damage are evidence lost: an alarm only an officer closes,
// whatever the operator says.
func TestRecordsLostOfficerOnly(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	e := f.engine(nil)
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventRecordsLost, Detail: "segment 3 unreadable"}))
	f.tick(e)
	a, ok := f.open(store.AlarmRecordsLost)[""]
	if !ok {
		t.Fatal("no records-lost alarm")
	}
	x := watch.NewAlarms(f.st, f.clock, nil)
	if _, err := x.Close(f.ctx, operator, a.ID, "дискът е сменен"); !errors.Is(err, watch.ErrForbidden) {
		t.Errorf("operator closes: %v", err)
	}
	if _, err := x.Close(f.ctx, officer, a.ID, "проверено"); err != nil {
		t.Errorf("officer closes: %v", err)
	}
}

// A suspended site (чл. 28) is not watched; resumed, it is watched from the move back into live, not
// reported late for the time it was suspended.
func TestSuspendedThenResumed_Art28(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.accept()
	e := f.engine(nil)
	l := watch.NewLifecycle(f.st, f.clock)
	f.readAll()
	f.tick(e)
	_, err := l.Move(f.ctx, officer, site, store.SiteSuspended, "ремонт")
	f.must(err)
	f.clock.Advance(5 * time.Hour)
	f.tick(e)
	if as, _ := f.st.Alarms(f.ctx, store.AlarmFilter{}); len(as) != 0 {
		t.Fatalf("suspended site: %d alarms", len(as))
	}
	_, err = l.Move(f.ctx, officer, site, store.SiteLive, "ремонтът е завършен")
	f.must(err)
	f.tick(e)
	if as, _ := f.st.Alarms(f.ctx, store.AlarmFilter{}); len(as) != 0 {
		t.Fatalf("just resumed: %d alarms", len(as))
	}
	f.clock.Advance(12 * time.Minute)
	f.tick(e)
	if len(f.open(store.AlarmLateSite)) != 1 {
		t.Error("12 min after resuming without data: no late-site alarm")
	}
}
