package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// testWatch checks the Watch part of store.Store.
func testWatch(t *testing.T, s store.Store) {
	reg := register(t, s, 2)
	t.Run("AlarmLifecycle", func(t *testing.T) { testAlarmLifecycle(t, s, reg) })
	t.Run("AlarmOneOpenPerKey", func(t *testing.T) { testAlarmOneOpenPerKey(t, s, reg) })
	t.Run("AlarmOpenCloseRace", func(t *testing.T) { testAlarmOpenCloseRace(t, s, reg) })
	t.Run("AlarmFilters", func(t *testing.T) { testAlarmFilters(t, s, reg) })
	t.Run("WatchCursor", func(t *testing.T) { testWatchCursor(t, s, reg) })
	t.Run("WatchLease", func(t *testing.T) { testWatchLease(t, s) })
	t.Run("WatchLeaseRace", func(t *testing.T) { testWatchLeaseRace(t, s) })
	t.Run("SiteMoves", func(t *testing.T) { testSiteMoves(t, s, reg) })
	t.Run("ConfigVersions", func(t *testing.T) { testConfigVersions(t, s, reg) })
	t.Run("Commissioning", func(t *testing.T) { testCommissioning(t, s, reg) })
	t.Run("Comparisons", func(t *testing.T) { testComparisons(t, s, reg) })
}

var engine = store.AlarmEntry{Who: "engine", Role: "engine"}

func testAlarmLifecycle(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	a, created, err := s.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmLatePoint, Site: reg.site, Device: reg.devices[0],
		Point: reg.points[0], Opened: t0, Detail: map[string]string{"last": t0.Add(-time.Hour).Format(time.RFC3339)}}, engine)
	must(t, err)
	if !created || a.ID == 0 || a.State != store.AlarmStateOpen || !a.Opened.Equal(t0) || !a.Updated.Equal(t0) {
		t.Fatalf("opened %+v created=%v", a, created)
	}
	if a.Operator != reg.operator || a.CustomsOffice != "BG002000" || a.Detail["last"] == "" {
		t.Errorf("alarm's site fields or detail not given back: %+v", a)
	}
	ack, err := s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "CN=Иван Петров", Role: "operator",
		Action: store.AlarmAcknowledged, Comment: "проверяваме", Time: t0.Add(time.Minute)})
	must(t, err)
	if ack.State != store.AlarmStateAcknowledged || !ack.Updated.Equal(t0.Add(time.Minute)) {
		t.Errorf("acknowledged: %+v", ack)
	}
	rest, err := s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmRestored,
		Time: t0.Add(2 * time.Minute), Detail: map[string]string{"at": "x"}})
	must(t, err)
	if !rest.Restored.Equal(t0.Add(2*time.Minute)) || rest.State != store.AlarmStateAcknowledged {
		t.Errorf("restored: %+v", rest)
	}
	rec, err := s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmRecurred,
		Time: t0.Add(150 * time.Second)})
	must(t, err)
	if !rec.Restored.IsZero() {
		t.Errorf("recurred, yet restored at %v", rec.Restored)
	}
	_, err = s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmRestored,
		Time: t0.Add(160 * time.Second)})
	must(t, err)
	closed, err := s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "CN=Мария", Role: "officer", Action: store.AlarmClosed,
		Comment: "изяснено", Time: t0.Add(3 * time.Minute)})
	must(t, err)
	if closed.State != store.AlarmStateClosed || !closed.Closed.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("closed: %+v", closed)
	}
	if _, err := s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "x", Action: store.AlarmNoted}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("entry on a closed alarm: %v, want ErrInvalid", err)
	}
	if _, err := s.ChangeAlarm(ctx, a.ID+1000, store.AlarmEntry{Who: "x", Action: store.AlarmNoted}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown alarm: %v, want ErrNotFound", err)
	}
	h, err := s.AlarmHistory(ctx, a.ID)
	must(t, err)
	wantActions := []store.AlarmAction{store.AlarmOpened, store.AlarmAcknowledged, store.AlarmRestored,
		store.AlarmRecurred, store.AlarmRestored, store.AlarmClosed}
	if len(h) != len(wantActions) {
		t.Fatalf("history %+v", h)
	}
	for i, e := range h {
		if e.Action != wantActions[i] || e.Seq != i+1 || e.Alarm != a.ID {
			t.Errorf("history[%d] = %+v, want action %s", i, e, wantActions[i])
		}
	}
	if h[1].Comment != "проверяваме" || h[1].Role != "operator" || h[2].Detail["at"] != "x" || !h[0].Time.Equal(t0) {
		t.Errorf("history fields lost: %+v", h)
	}
	if _, err := s.AlarmHistory(ctx, a.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("history of an unknown alarm: %v", err)
	}
	// Once closed, the key is free: the condition again opens a new alarm.
	b, created, err := s.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmLatePoint, Site: reg.site, Device: reg.devices[0],
		Point: reg.points[0], Opened: t0.Add(time.Hour)}, engine)
	must(t, err)
	if !created || b.ID == a.ID {
		t.Errorf("after closing, a new alarm: %+v created=%v", b, created)
	}
	// Shape errors.
	for _, bad := range []store.Alarm{
		{Kind: "nonsense", Site: reg.site},
		{Kind: store.AlarmIncident, Site: reg.site},               // no incident id
		{Kind: store.AlarmPowerLoss, Site: reg.site, Incident: 4}, // incident on another kind
		{Kind: store.AlarmLatePoint, Site: reg.site, Point: reg.points[0]},
	} {
		if _, _, err := s.OpenAlarm(ctx, bad, engine); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("OpenAlarm(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := s.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmLateSite, Site: "BGNCA00009999"}, engine); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alarm of an unknown site: %v, want ErrNotFound", err)
	}
}

func testAlarmOneOpenPerKey(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	key := store.Alarm{Kind: store.AlarmPowerLoss, Site: reg.site, Device: reg.devices[1], Opened: t0}
	const n = 8
	var wg sync.WaitGroup
	ids := make([]int64, n)
	createdN := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, c, err := s.OpenAlarm(ctx, key, engine)
			ids[i], createdN[i], errs[i] = a.ID, c, err
		}()
	}
	wg.Wait()
	created := 0
	for i := range n {
		must(t, errs[i])
		if ids[i] != ids[0] {
			t.Errorf("concurrent opens gave alarms %d and %d", ids[0], ids[i])
		}
		if createdN[i] {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d opens reported created, want 1", created)
	}
	got, err := s.FindOpenAlarm(ctx, key.Key())
	must(t, err)
	if got.ID != ids[0] {
		t.Errorf("FindOpenAlarm = %d, want %d", got.ID, ids[0])
	}
	// The same kind on the other box, or at the box's point, is another alarm.
	other, created2, err := s.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmPowerLoss, Site: reg.site, Device: reg.devices[0]}, engine)
	must(t, err)
	if !created2 || other.ID == ids[0] {
		t.Errorf("another device's alarm merged: %+v", other)
	}
	// Incident alarms: one per incident.
	i1, c1, err := s.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmIncident, Site: reg.site, Device: reg.devices[1], Incident: 1}, engine)
	must(t, err)
	i2, c2, err := s.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmIncident, Site: reg.site, Device: reg.devices[1], Incident: 2}, engine)
	must(t, err)
	if !c1 || !c2 || i1.ID == i2.ID {
		t.Errorf("two incidents, one alarm: %d %d", i1.ID, i2.ID)
	}
	if _, err := s.FindOpenAlarm(ctx, store.AlarmKey{Kind: store.AlarmDoorOpened, Site: reg.site}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindOpenAlarm of nothing: %v", err)
	}
	h, err := s.AlarmHistory(ctx, ids[0])
	must(t, err)
	if len(h) != 1 {
		t.Errorf("repeated opens wrote %d history entries, want 1", len(h))
	}
}

func testAlarmFilters(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	// A second operator's site, which the first operator's filter must not show.
	other := eik(t, 1)
	must(t, s.PutOperator(ctx, store.Operator{EIK: other, Name: "Спирт ООД"}))
	must(t, s.PutSite(ctx, store.Site{Warehouse: "BGNCA00005002", Operator: other, Name: "Дестилерия",
		CustomsOffice: "BG003000", State: store.SiteLive}))
	open := func(a store.Alarm) store.Alarm {
		got, _, err := s.OpenAlarm(ctx, a, engine)
		must(t, err)
		return got
	}
	base := t0.Add(24 * time.Hour)
	a1 := open(store.Alarm{Kind: store.AlarmDoorOpened, Site: reg.site, Device: reg.devices[0], Opened: base})
	a2 := open(store.Alarm{Kind: store.AlarmLateSite, Site: "BGNCA00005002", Opened: base.Add(time.Hour)})
	a3 := open(store.Alarm{Kind: store.AlarmOutOfLimits, Site: reg.site, Device: reg.devices[0], Point: reg.points[0],
		Opened: base.Add(2 * time.Hour)})
	_, err := s.ChangeAlarm(ctx, a3.ID, store.AlarmEntry{Who: "x", Role: "officer", Action: store.AlarmClosed})
	must(t, err)
	ids := func(f store.AlarmFilter) []int64 {
		f.Since = base
		as, err := s.Alarms(ctx, f)
		must(t, err)
		var out []int64
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	check := func(name string, got []int64, want ...int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %v, want %v", name, got, want)
				return
			}
		}
	}
	check("all, newest first", ids(store.AlarmFilter{}), a3.ID, a2.ID, a1.ID)
	check("operator", ids(store.AlarmFilter{Operator: reg.operator}), a3.ID, a1.ID)
	check("customs office", ids(store.AlarmFilter{CustomsOffice: "BG003000"}), a2.ID)
	check("site", ids(store.AlarmFilter{Site: "BGNCA00005002"}), a2.ID)
	check("point", ids(store.AlarmFilter{Point: reg.points[0]}), a3.ID)
	check("not closed", ids(store.AlarmFilter{States: []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged}}), a2.ID, a1.ID)
	check("kinds", ids(store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmDoorOpened, store.AlarmOutOfLimits}}), a3.ID, a1.ID)
	check("period", ids(store.AlarmFilter{Until: base.Add(time.Hour)}), a1.ID)
	check("page", ids(store.AlarmFilter{Limit: 1, Offset: 1}), a2.ID)
}

func testWatchCursor(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	seq, err := s.WatchCursor(ctx, reg.devices[0])
	must(t, err)
	if seq != 0 {
		t.Errorf("new cursor = %d", seq)
	}
	must(t, s.SetWatchCursor(ctx, reg.devices[0], 41))
	must(t, s.SetWatchCursor(ctx, reg.devices[0], 42))
	if seq, err = s.WatchCursor(ctx, reg.devices[0]); err != nil || seq != 42 {
		t.Errorf("cursor = %d, %v; want 42", seq, err)
	}
}

// testWatchLease: two holders (two servers over one database) and a clock the test moves. Only one holds
// the lease at a time; the holder keeps it by renewing; the other takes it over once it has expired,
// and at once when it is released; the one taken over from cannot renew (it must step down).
func testWatchLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	const name, ttl = "watch-engine", 90 * time.Second
	if _, err := s.WatchLease(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lease never held: %v, want ErrNotFound", err)
	}
	acquire := func(holder string, at time.Duration, want bool) store.WatchLease {
		t.Helper()
		l, ok, err := s.AcquireWatchLease(ctx, name, holder, t0.Add(at), ttl)
		must(t, err)
		if ok != want {
			t.Fatalf("%s at +%v: held %v, want %v (lease %+v)", holder, at, ok, want, l)
		}
		return l
	}
	check := func(l store.WatchLease, holder string, acquired, expires time.Duration) {
		t.Helper()
		if l.Name != name || l.Holder != holder || !l.Acquired.Equal(t0.Add(acquired)) || !l.Expires.Equal(t0.Add(expires)) {
			t.Errorf("lease %+v, want %s acquired +%v until +%v", l, holder, acquired, expires)
		}
	}
	check(acquire("node-a", 0, true), "node-a", 0, ttl)
	check(acquire("node-b", 10*time.Second, false), "node-a", 0, ttl)               // held: b learns by whom, until when
	check(acquire("node-a", 30*time.Second, true), "node-a", 0, 30*time.Second+ttl) // a renewal keeps Acquired
	check(acquire("node-b", 30*time.Second+ttl-time.Millisecond, false), "node-a", 0, 30*time.Second+ttl)
	// a stopped renewing: at its expiry b takes over.
	takeover := 30*time.Second + ttl
	check(acquire("node-b", takeover, true), "node-b", takeover, takeover+ttl)
	check(acquire("node-a", takeover+time.Second, false), "node-b", takeover, takeover+ttl)
	got, err := s.WatchLease(ctx, name)
	must(t, err)
	check(got, "node-b", takeover, takeover+ttl)
	// Only the holder releases; once released, a takes it at once.
	must(t, s.ReleaseWatchLease(ctx, name, "node-a"))
	acquire("node-a", takeover+2*time.Second, false)
	must(t, s.ReleaseWatchLease(ctx, name, "node-b"))
	if got, err = s.WatchLease(ctx, name); err != nil || !got.Expires.IsZero() {
		t.Errorf("released lease %+v, %v", got, err)
	}
	check(acquire("node-a", takeover+3*time.Second, true), "node-a", takeover+3*time.Second, takeover+3*time.Second+ttl)
	// Another lease is another name.
	if _, ok, err := s.AcquireWatchLease(ctx, "other", "node-b", t0, ttl); err != nil || !ok {
		t.Errorf("another lease: %v, %v", ok, err)
	}
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "x", ttl}, {name, "", ttl}, {name, "x", 0}} {
		if _, _, err := s.AcquireWatchLease(ctx, bad.name, bad.holder, t0, bad.ttl); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AcquireWatchLease(%q, %q, %v) = %v, want ErrInvalid", bad.name, bad.holder, bad.ttl, err)
		}
	}
}

// testWatchLeaseRace: holders that try at once, for a free lease and for an expired one, never both get it.
func testWatchLeaseRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n, ttl = 8, time.Minute
	for round, at := range []time.Time{t0, t0.Add(ttl)} { // free, then expired
		var wg sync.WaitGroup
		held := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, held[i], errs[i] = s.AcquireWatchLease(ctx, "race", fmt.Sprintf("node-%d-%d", round, i), at, ttl)
			}()
		}
		wg.Wait()
		winners := 0
		for i := range n {
			must(t, errs[i])
			if held[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Errorf("round %d: %d holders got the lease at once, want 1", round, winners)
		}
	}
}

// testSiteMoves: every lifecycle move is logged, and a move from a state the site is no longer in is
// refused (чл. 6, 17–21).
func testSiteMoves(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	must(t, s.PutSite(ctx, store.Site{Warehouse: "BGNCA00005003", Operator: reg.operator, Name: "Нов склад",
		CustomsOffice: "BG002000", State: store.SiteDraft}))
	m, err := s.MoveSite(ctx, store.SiteMove{Site: "BGNCA00005003", From: store.SiteDraft, To: store.SiteApproved,
		Who: "CN=Мария", Role: "officer", Time: t0, Reason: "проект № 12"})
	must(t, err)
	if m.ID == 0 {
		t.Error("move without id")
	}
	if _, err := s.MoveSite(ctx, store.SiteMove{Site: "BGNCA00005003", From: store.SiteDraft, To: store.SiteApproved,
		Who: "x", Role: "officer"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale move: %v, want ErrConflict", err)
	}
	if _, err := s.MoveSite(ctx, store.SiteMove{Site: "BGNCA00009999", From: store.SiteDraft, To: store.SiteApproved}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown site: %v, want ErrNotFound", err)
	}
	if _, err := s.MoveSite(ctx, store.SiteMove{Site: "BGNCA00005003", From: store.SiteApproved, To: "flying"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown state: %v, want ErrInvalid", err)
	}
	_, err = s.MoveSite(ctx, store.SiteMove{Site: "BGNCA00005003", From: store.SiteApproved, To: store.SiteTesting,
		Who: "CN=Мария", Role: "officer", Time: t0.Add(time.Hour)})
	must(t, err)
	site, err := s.Site(ctx, "BGNCA00005003")
	must(t, err)
	if site.State != store.SiteTesting {
		t.Errorf("site state %s after moves", site.State)
	}
	ms, err := s.SiteMoves(ctx, "BGNCA00005003")
	must(t, err)
	if len(ms) != 2 || ms[0].To != store.SiteApproved || ms[1].To != store.SiteTesting || ms[0].Reason != "проект № 12" ||
		!ms[0].Time.Equal(t0) || ms[0].Who != "CN=Мария" || ms[0].Role != "officer" {
		t.Errorf("moves %+v", ms)
	}
}

func testConfigVersions(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	file := []byte("<automationConfig/>")
	v1, err := s.AddConfigVersion(ctx, store.ConfigVersion{Site: reg.site, File: file, UploadedBy: "CN=Интегратор",
		UploadedAt: t0, Verdict: store.ConfigAccepted,
		Notices: []store.ProductNotice{{Point: reg.points[0], Product: "E430", Change: "added", Due: "2026-11-20"}}})
	must(t, err)
	if v1.Version != 1 || v1.SHA256 != sha256.Sum256(file) || len(v1.Notices) != 1 || v1.Notices[0].ID == 0 {
		t.Fatalf("v1 = %+v", v1)
	}
	v2, err := s.AddConfigVersion(ctx, store.ConfigVersion{Site: reg.site, File: []byte("<bad/>"), UploadedBy: "x",
		Verdict: store.ConfigRefused, Reasons: []store.ConfigReason{{Kind: "address-changed", Refused: true, Tag: "T1",
			Text: map[string]string{"bg": "адресът е сменен", "en": "address changed"}}}})
	must(t, err)
	if v2.Version != 2 {
		t.Errorf("v2.Version = %d", v2.Version)
	}
	got, err := s.ConfigVersion(ctx, reg.site, 2)
	must(t, err)
	if string(got.File) != "<bad/>" || got.Verdict != store.ConfigRefused || len(got.Reasons) != 1 ||
		got.Reasons[0].Text["bg"] != "адресът е сменен" || !got.Reasons[0].Refused {
		t.Errorf("version 2 = %+v", got)
	}
	if _, err := s.ConfigVersion(ctx, reg.site, 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("version 3: %v", err)
	}
	list, err := s.ConfigVersions(ctx, reg.site)
	must(t, err)
	if len(list) != 2 || list[0].File != nil || list[0].Version != 1 || !list[0].UploadedAt.Equal(t0) || len(list[0].Notices) != 1 {
		t.Errorf("versions %+v", list)
	}
	if _, err := s.AddConfigVersion(ctx, store.ConfigVersion{Site: reg.site, File: file, Verdict: "maybe"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad verdict: %v", err)
	}
	if _, err := s.AddConfigVersion(ctx, store.ConfigVersion{Site: "BGNCA00009999", File: file, Verdict: store.ConfigAccepted}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown site: %v", err)
	}
	owed, err := s.ProductNotices(ctx, store.ProductNoticeFilter{Operator: reg.operator, Owed: true, DueUntil: "2026-11-30"})
	must(t, err)
	if len(owed) != 1 || owed[0].Product != "E430" || owed[0].Version != 1 {
		t.Fatalf("owed notices %+v", owed)
	}
	one, err := s.ProductNotice(ctx, owed[0].ID)
	must(t, err)
	if one != owed[0] || one.Site != reg.site || one.Point != reg.points[0] || one.Change != "added" || one.Due != "2026-11-20" {
		t.Errorf("notice %d = %+v, want %+v", owed[0].ID, one, owed[0])
	}
	if _, err := s.ProductNotice(ctx, owed[0].ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown notice: %v, want ErrNotFound", err)
	}
	n, err := s.GiveProductNotice(ctx, owed[0].ID, "CN=Мария", t0.Add(time.Hour))
	must(t, err)
	if n.GivenBy != "CN=Мария" || !n.Given.Equal(t0.Add(time.Hour)) {
		t.Errorf("given %+v", n)
	}
	if _, err := s.GiveProductNotice(ctx, owed[0].ID, "x", t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("given twice: %v", err)
	}
	if one, err = s.ProductNotice(ctx, n.ID); err != nil || !one.Given.Equal(n.Given) || one.GivenBy != "CN=Мария" {
		t.Errorf("given notice read back: %+v, %v", one, err)
	}
	if owed, _ = s.ProductNotices(ctx, store.ProductNoticeFilter{Owed: true}); len(owed) != 0 {
		t.Errorf("still owed %+v", owed)
	}
}

func testCommissioning(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	c, err := s.AddCommissioning(ctx, store.Commissioning{Site: reg.site, Time: t0, Officer: "CN=Мария",
		Representative: "Иван Петров", Protocol: "21-7", Controller: "PLC-1", Computer: "IPC-2", UPS: "UPS-3",
		Seals: []string{"BG 000123", "BG 000124"},
		Files: []store.CommissionFile{{Role: "config", Name: "automation_config.xml", Size: 10, MD5: "aa", SHA256: "bb"}}})
	must(t, err)
	got, err := s.Commissioning(ctx, c.ID)
	must(t, err)
	if got.UPS != "UPS-3" || len(got.Seals) != 2 || got.Seals[1] != "BG 000124" || len(got.Files) != 1 ||
		got.Files[0].SHA256 != "bb" || !got.Time.Equal(t0) || got.Protocol != "21-7" {
		t.Errorf("commissioning %+v", got)
	}
	list, err := s.Commissionings(ctx, reg.site)
	must(t, err)
	if len(list) != 1 || list[0].ID != c.ID {
		t.Errorf("list %+v", list)
	}
	if _, err := s.Commissioning(ctx, c.ID+1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}

func testComparisons(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	c, err := s.AddComparison(ctx, store.Comparison{Kind: store.ComparisonThreeWay, Site: reg.site, By: "CN=Мария",
		Time: t0, From: t0.Add(-time.Hour), To: t0, Sources: []string{"officer", "agent", "server"}, Matches: 1, Misses: 1,
		Lines: []store.ComparisonLine{
			{Point: reg.points[0], Time: t0, Item: "volume", Values: []string{"10", "10", "10"}, Match: true},
			{Point: reg.points[0], Time: t0, Item: "mass", Values: []string{"8", "", "8"}, Note: "watch.compare.missing"},
		}})
	must(t, err)
	got, err := s.Comparison(ctx, c.ID)
	must(t, err)
	if got.Kind != store.ComparisonThreeWay || len(got.Lines) != 2 || got.Lines[1].Values[1] != "" ||
		got.Lines[1].Note == "" || !got.From.Equal(t0.Add(-time.Hour)) || got.Sources[2] != "server" || got.Misses != 1 {
		t.Errorf("comparison %+v", got)
	}
	list, err := s.Comparisons(ctx, reg.site)
	must(t, err)
	if len(list) != 1 || list[0].Lines != nil {
		t.Errorf("list %+v", list)
	}
	if _, err := s.AddComparison(ctx, store.Comparison{Kind: store.ComparisonTestData, Site: reg.site,
		Sources: []string{"a", "b"}, Lines: []store.ComparisonLine{{Values: []string{"1"}}}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("line with too few values: %v", err)
	}
}

// testAlarmOpenCloseRace: the engine opens while people close, at once, over and over. Every open
// succeeds (an alarm closed under it does not make it fail), every close of an alarm closed already is
// ErrInvalid, and there is never more than one open alarm of the key.
func testAlarmOpenCloseRace(t *testing.T, s store.Store, reg registry) {
	ctx := context.Background()
	key := store.Alarm{Kind: store.AlarmCommunicationLoss, Site: reg.site, Device: reg.devices[0], Opened: t0}
	const workers, rounds = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*2)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				a, _, err := s.OpenAlarm(ctx, key, engine)
				if err != nil {
					errs <- err
					continue
				}
				_, err = s.ChangeAlarm(ctx, a.ID, store.AlarmEntry{Who: "CN=Мария", Role: "officer", Action: store.AlarmClosed,
					Comment: "x"})
				if err != nil && !errors.Is(err, store.ErrInvalid) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("open/close race: %v", err)
	}
	open, err := s.Alarms(ctx, store.AlarmFilter{Device: reg.devices[0], Kinds: []store.AlarmKind{store.AlarmCommunicationLoss},
		States: []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged}})
	must(t, err)
	if len(open) > 1 {
		t.Errorf("%d open alarms of one key", len(open))
	}
	all, err := s.Alarms(ctx, store.AlarmFilter{Device: reg.devices[0], Kinds: []store.AlarmKind{store.AlarmCommunicationLoss}})
	must(t, err)
	for _, a := range all {
		h, err := s.AlarmHistory(ctx, a.ID)
		must(t, err)
		if len(h) == 0 || h[0].Action != store.AlarmOpened || len(h) > 2 {
			t.Errorf("alarm %d history %+v", a.ID, h)
		}
	}
}
