package watch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// cutCursor is the real store whose n-th SetWatchCursor fails: a server that stops between an alarm's
// change and the saving of its cursor.
type cutCursor struct {
	store.Store
	n, calls int
}

func (s *cutCursor) SetWatchCursor(ctx context.Context, name string, at int64) error {
	s.calls++
	if s.calls == s.n {
		return errors.New("power cut")
	}
	return s.Store.SetWatchCursor(ctx, name, at)
}

// A server that stops in the middle of a check, at any of its cursor writes, acts on every event once
// after the restart: the door opened twice is noted once, closed once, the power loss is one alarm
// (чл. 36, 30(1); nothing missed, nothing counted twice).
func TestRestartMidCheckActsOnce(t *testing.T) {
	for n := 1; n <= 5; n++ {
		t.Run(fmt.Sprint("cut at write ", n), func(t *testing.T) {
			f := newFixture(t, store.SiteLive)
			now := f.clock.Now()
			f.send(
				event("", now, core.Event{Kind: core.EventDoorOpened, Tag: "door"}),
				event("", now.Add(time.Second), core.Event{Kind: core.EventDoorOpened, Tag: "door"}),
				reading(point1, now.Add(2*time.Second)),
				event("", now.Add(3*time.Second), core.Event{Kind: core.EventDoorClosed, Tag: "door"}),
				event("", now.Add(4*time.Second), core.Event{Kind: core.EventPowerLost, Tag: "ups"}),
			)
			cut := &cutCursor{Store: f.st, n: n}
			first, err := watch.New(cut, watch.Options{Clock: f.clock, Decode: decode})
			f.must(err)
			if err := first.Tick(f.ctx); err == nil && n <= 4 {
				t.Errorf("the check with a failed cursor write reported no error")
			}
			f.clock.Advance(30 * time.Second)
			again := f.engine(nil) // the restarted server
			f.tick(again)
			f.tick(again)
			as, err := f.st.Alarms(f.ctx, store.AlarmFilter{})
			f.must(err)
			if len(as) != 2 {
				t.Fatalf("%d alarms, want door and power: %+v", len(as), as)
			}
			door := f.open(store.AlarmDoorOpened)[""]
			want := []store.AlarmAction{store.AlarmOpened, store.AlarmNoted, store.AlarmRestored}
			if got := f.history(door.ID); !slices.Equal(got, want) {
				t.Errorf("door history %v, want %v", got, want)
			}
			if got := f.history(f.open(store.AlarmPowerLoss)[""].ID); len(got) != 1 {
				t.Errorf("power history %v", got)
			}
		})
	}
}

// A device that delivers a long backlog is examined at most Options.MaxRecords records a check: every
// event is acted on, in order, over several checks, none twice.
func TestBacklogBoundedPerCheck(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	e, err := watch.New(f.st, watch.Options{Clock: f.clock, Decode: decode, MaxRecords: 3})
	f.must(err)
	now := f.clock.Now()
	f.send(
		event("", now, core.Event{Kind: core.EventDoorOpened}), // 1
		reading(point1, now),   // 2
		reading(point2(), now), // 3
		event("", now.Add(time.Second), core.Event{Kind: core.EventDoorClosed}),   // 4
		event("", now.Add(2*time.Second), core.Event{Kind: core.EventDoorOpened}), // 5
		reading(point1, now.Add(3*time.Second)),                                   // 6
		event("", now.Add(4*time.Second), core.Event{Kind: core.EventPowerLost}),  // 7
	)
	f.tick(e)
	door := f.open(store.AlarmDoorOpened)[""]
	if got := f.history(door.ID); !slices.Equal(got, []store.AlarmAction{store.AlarmOpened}) {
		t.Errorf("after the first check (records 1–3): %v", got)
	}
	if at, _ := f.st.WatchCursor(f.ctx, device); at != 3 {
		t.Errorf("cursor %d after the first check, want 3", at)
	}
	f.tick(e)
	if got := f.history(door.ID); !slices.Equal(got, []store.AlarmAction{store.AlarmOpened, store.AlarmRestored, store.AlarmRecurred}) {
		t.Errorf("after the second check (records 4–6): %v", got)
	}
	if len(f.open(store.AlarmPowerLoss)) != 0 {
		t.Error("record 7 examined in the second check")
	}
	f.tick(e)
	f.tick(e)
	if len(f.open(store.AlarmPowerLoss)) != 1 {
		t.Error("record 7 never examined")
	}
	if got := f.history(door.ID); len(got) != 3 {
		t.Errorf("door history after more checks: %v", got)
	}
}

func point2() string { return device + "002" }

// Ingest incidents (issue #6): after a restart, an incident already alarmed is not alarmed again, even
// when an officer has closed its alarm; one stored while the server was down, or stored a moment after a
// later one was examined (ingest stamps it before it stores it), is alarmed.
func TestIncidentsAfterRestartAndLateStored(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	add := func(at time.Time, kind store.IncidentKind) int64 {
		id, err := f.st.AddIncident(f.ctx, store.Incident{Kind: kind, Device: device, First: 5, Last: 5, Time: at})
		f.must(err)
		return id
	}
	first := add(f.clock.Now(), store.IncidentReplay)
	e := f.engine(nil)
	f.tick(e)
	a := f.open(store.AlarmIncident)[""]
	if a.Incident != first {
		t.Fatalf("incident alarm %+v", a)
	}
	x := watch.NewAlarms(f.st, f.clock, nil)
	_, err := x.Close(f.ctx, officer, a.ID, "повторно изпратен пакет, без загуба")
	f.must(err)
	// Stamped 2 s before the time already examined, stored only now.
	f.clock.Advance(10 * time.Second)
	late := add(f.clock.Now().Add(-12*time.Second), store.IncidentReorder)
	f.tick(e)
	// The server restarts; meanwhile one more incident.
	f.clock.Advance(time.Hour)
	down := add(f.clock.Now().Add(-time.Minute), store.IncidentAltered)
	again := f.engine(nil)
	f.tick(again)
	f.tick(again)
	as, err := f.st.Alarms(f.ctx, store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmIncident}})
	f.must(err)
	got := map[int64]int{}
	for _, a := range as {
		got[a.Incident]++
	}
	if len(as) != 3 || got[first] != 1 || got[late] != 1 || got[down] != 1 {
		t.Errorf("alarms per incident %v (%d alarms), want one each of %d, %d, %d", got, len(as), first, late, down)
	}
}

// A backlog of incidents (a client that kept sending bad batches) is worked off a bounded number a check,
// none missed.
func TestIncidentFloodBoundedPerCheck(t *testing.T) {
	defer watch.SetIncidentPage(1)() // 20 pages of 1 a check
	f := newFixture(t, store.SiteLive)
	for i := range 30 {
		_, err := f.st.AddIncident(f.ctx, store.Incident{Kind: store.IncidentBadSignature, Device: device,
			Time: f.clock.Now().Add(-2*time.Hour + time.Duration(i)*time.Minute)})
		f.must(err)
	}
	count := func() int {
		as, err := f.st.Alarms(f.ctx, store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmIncident}})
		f.must(err)
		return len(as)
	}
	e := f.engine(nil)
	f.tick(e)
	if n := count(); n == 0 || n >= 30 {
		t.Errorf("first check alarmed %d of 30 incidents, want some but not more than its bound", n)
	}
	for range 5 {
		f.clock.Advance(30 * time.Second)
		f.tick(e)
	}
	if n := count(); n != 30 {
		t.Errorf("after six checks: %d incident alarms, want all 30", n)
	}
}

// closeOnFind is the real store in which a person closes the open alarm right after the engine looked it
// up: the race between an officer's "close" and the engine's next event.
type closeOnFind struct {
	store.Store
	armed bool
}

func (s *closeOnFind) FindOpenAlarm(ctx context.Context, k store.AlarmKey) (store.Alarm, error) {
	a, err := s.Store.FindOpenAlarm(ctx, k)
	if err == nil && s.armed {
		s.armed = false
		if _, err := s.Store.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "CN=Мария Георгиева", Role: "officer",
			Action: store.AlarmClosed, Comment: "проверено"}); err != nil {
			return a, err
		}
	}
	return a, err
}

// The door is opened again just as an officer closes the alarm of the first opening: the new opening is
// not lost on the closed alarm, it opens a new one (чл. 36).
func TestEventRacingACloseOpensANewAlarm(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	st := &closeOnFind{Store: f.st}
	e, err := watch.New(st, watch.Options{Clock: f.clock, Decode: decode})
	f.must(err)
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventDoorOpened}))
	f.must(e.Tick(f.ctx))
	first := f.open(store.AlarmDoorOpened)[""]
	f.clock.Advance(time.Minute)
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventDoorOpened}))
	st.armed = true
	f.must(e.Tick(f.ctx))
	second, ok := f.open(store.AlarmDoorOpened)[""]
	if !ok || second.ID == first.ID || !second.Opened.Equal(f.clock.Now()) {
		t.Fatalf("after the race: open door alarm %+v (first %d)", second, first.ID)
	}
	if got := f.history(first.ID); !slices.Equal(got, []store.AlarmAction{store.AlarmOpened, store.AlarmClosed}) {
		t.Errorf("first alarm's history %v", got)
	}
}

// Чл. 30(13), every class: a point is late when its last reading is older than its class's interval plus
// the grace, not a second before — road and alcohol 10 min, rail 15 min, marine terminals and pipelines
// 1 h, scales 2 min, counters 15 s, CNG dispensers 3 min. The site's other points keep reading, so that
// the site as a whole is not silent.
func TestLatePointEveryClass_Art30_13(t *testing.T) {
	for _, class := range core.IntervalClasses {
		t.Run(string(class), func(t *testing.T) {
			f := newFixture(t, store.SiteLive)
			// The road points 001–003 become points of the class, read every 10 s (within every class's
			// interval, as the configuration must say).
			file := replaceAll(exampleConfig(t), `zone="Автоналивна естакада" class="road" mode="transaction" direction="out" interval="1m"`,
				`zone="Автоналивна естакада" class="`+string(class)+`" mode="transaction" direction="out" interval="10s"`)
			if c, diags := config.Parse("automation_config.xml", file); c == nil || diags.HasErrors() {
				t.Fatalf("the configuration with point 001 of class %s: %v", class, diags)
			}
			_, err := f.st.AddConfigVersion(f.ctx, store.ConfigVersion{Site: site, File: file, UploadedBy: "test",
				UploadedAt: f.clock.Now(), Verdict: store.ConfigAccepted})
			f.must(err)
			e := f.engine(nil) // grace 1 min
			f.readAll()
			f.tick(e)
			others := func() {
				var recs []core.Record
				for i := 2; i <= 5; i++ {
					recs = append(recs, reading(fmt.Sprintf("%s%03d", device, i), f.clock.Now()))
				}
				f.send(recs...)
			}
			limit := class.MaxInterval() + time.Minute
			// Keep the others fresh on the way (the shortest other interval is road's 10 min).
			for step := 5 * time.Minute; f.clock.Now().Add(step).Before(t0.Add(limit - time.Second)); {
				f.clock.Advance(step)
				others()
			}
			f.clock.Advance(t0.Add(limit - time.Second).Sub(f.clock.Now()))
			others()
			f.tick(e)
			if _, late := f.open(store.AlarmLatePoint)[point1]; late {
				t.Fatalf("late 1 s before %v", limit)
			}
			f.clock.Advance(2 * time.Second)
			others()
			f.tick(e)
			a, late := f.open(store.AlarmLatePoint)[point1]
			if !late {
				t.Fatalf("not late 1 s after %v", limit)
			}
			if a.Detail["class"] != string(class) || !a.Opened.Equal(t0.Add(limit)) {
				t.Errorf("alarm %+v, want opened at %v", a, t0.Add(limit))
			}
			if n := len(f.open(store.AlarmLateSite)); n != 0 {
				t.Errorf("%d late-site alarms while other points read", n)
			}
		})
	}
}

// A new configuration accepted while a point is late gives its new points time to read, but does not end
// the silence of an old one: only a reading does (чл. 30(13), чл. 26).
func TestNewConfigDoesNotRestoreLatePoint(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.accept()
	e := f.engine(nil)
	f.readAll()
	f.tick(e)
	f.clock.Advance(12 * time.Minute)
	f.send(reading(point5, f.clock.Now()), reading(device+"004", f.clock.Now()))
	f.tick(e)
	a, late := f.open(store.AlarmLatePoint)[point1]
	if !late {
		t.Fatal("road point not late after 12 min")
	}
	f.clock.Advance(30 * time.Second)
	f.accept() // version 2, accepted now
	f.send(reading(point5, f.clock.Now()))
	f.tick(e)
	got, err := f.st.Alarm(f.ctx, a.ID)
	f.must(err)
	if !got.Restored.IsZero() {
		t.Errorf("the late point's alarm was restored by a new configuration, without a reading: %v", f.history(a.ID))
	}
	f.send(reading(point1, f.clock.Now()))
	f.tick(e)
	if got, _ := f.st.Alarm(f.ctx, a.ID); got.Restored.IsZero() {
		t.Error("a fresh reading did not restore the alarm")
	}
}

// When every box delivers a backlog at once, one check examines at most Options.MaxRecordsPerCheck
// records in all, and the next goes on where it stopped: each event is acted on once, in order.
func TestBacklogBoundedPerCheckOverAllDevices(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	second := site + "002"
	f.must(f.st.PutDevice(f.ctx, store.Device{ID: second}))
	now := f.clock.Now()
	f.send(event("", now, core.Event{Kind: core.EventDoorOpened}), event("", now.Add(time.Second), core.Event{Kind: core.EventPowerLost}))
	box := func(ev core.Event, at time.Time) core.Record {
		return core.Record{Kind: core.KindEvent, Time: at, Device: second, Event: &ev}
	}
	f.send(box(core.Event{Kind: core.EventDoorOpened}, now), box(core.Event{Kind: core.EventDoorClosed}, now.Add(time.Second)))
	e, err := watch.New(f.st, watch.Options{Clock: f.clock, Decode: decode, MaxRecords: 10, MaxRecordsPerCheck: 3})
	f.must(err)
	f.tick(e)
	doors, err := f.st.Alarms(f.ctx, store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmDoorOpened}})
	f.must(err)
	if len(doors) != 2 || len(f.open(store.AlarmPowerLoss)) != 1 {
		t.Fatalf("first check (3 of 4 records): %d door alarms, power %v", len(doors), f.open(store.AlarmPowerLoss))
	}
	for _, d := range doors {
		if !d.Restored.IsZero() {
			t.Errorf("door of %s restored in the first check, whose budget ended before the door closed", d.Device)
		}
	}
	if at, _ := f.st.WatchCursor(f.ctx, second); at != 1 {
		t.Errorf("second box's cursor %d after the first check, want 1", at)
	}
	f.tick(e)
	f.tick(e)
	doors, err = f.st.Alarms(f.ctx, store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmDoorOpened}, Device: second})
	f.must(err)
	if len(doors) != 1 || doors[0].Restored.IsZero() {
		t.Errorf("second box's door after more checks: %+v", doors)
	}
	if got := f.history(doors[0].ID); !slices.Equal(got, []store.AlarmAction{store.AlarmOpened, store.AlarmRestored}) {
		t.Errorf("history %v", got)
	}
}
