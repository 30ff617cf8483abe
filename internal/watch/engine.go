package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
)

// Decoder reads the stored bytes of one record (the wire format's record: wire.DecodeRecord's Record).
// The engine is given it rather than importing the wire format, which is the intake's business.
type Decoder func(b []byte) (core.Record, error)

// Options tune the engine; the zero value of each field has a default.
type Options struct {
	Clock    Clock    // SystemClock{} when nil
	Notifier Notifier // NopNotifier{} when nil
	Decode   Decoder  // required: how to read a stored record
	// Every is the time between two checks (default 30 s). A point is reported late at most this much
	// after it became late.
	Every time.Duration
	// Grace is added to a point's interval of чл. 30(13) before it counts as late (default 2 min): the
	// agent sends batches every few seconds, but a batch takes its time to be signed, sent and stored.
	Grace time.Duration
	// SiteSilence is how long a live site without an accepted configuration (so without known points) may
	// send nothing before it is late (default 1 h + Grace: the longest interval of чл. 30(13)).
	SiteSilence time.Duration
	// MaxRecords bounds the records of one device examined in one check (default 20,000), so that a
	// device that delivers a day's backlog does not hold up the others; the rest wait for the next check.
	MaxRecords int
	// MaxRecordsPerCheck bounds the records of all devices examined in one check (default 500,000), so
	// that a check stays short when every box delivers a backlog at once (after an outage of the agency's
	// network): the next check goes on from the site where this one stopped.
	MaxRecordsPerCheck int
	// IncidentLookback is how far back the very first check of a database looks for ingest incidents not
	// yet turned into alarms (default 7 days); later checks, after a restart too, continue from the
	// store's cursor (see scanIncidents).
	IncidentLookback time.Duration
	// Logf logs what the engine cannot report otherwise (a notifier that failed, a record that does not
	// decode, the lease taken or lost); nil discards.
	Logf func(format string, args ...any)
	// Holder names this engine in the store's lease (LeaseName): one engine checks at a time, however
	// many servers share the database (docs/watching.md, "One engine per database"). Default: the host
	// name, the process id and a random part, the same for every engine of this process.
	Holder string
	// LeaseTTL is how long the lease lasts without renewal (default 3 × Every; at least 2 × Every): when
	// the server that holds it stops, another takes over at most LeaseTTL + Every later. The engine
	// renews it at every check, and during a check once a third of it has passed.
	LeaseTTL time.Duration
}

// LeaseName is the store's lease (store.Watch.AcquireWatchLease) whose holder is the one engine that checks.
const LeaseName = "watch-engine"

// processHolder is this process's default lease holder: a second process on the same host, even with
// the same pid in another container, is another holder.
var processHolder = func() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}()

// Engine watches the sites (чл. 28): cadence per control point (чл. 30(13)), silence per site, the
// events that raise alarms, and ingest incidents. Tick does one check; Run checks every Options.Every.
type Engine struct {
	st store.Store
	o  Options

	mu      sync.Mutex // one check at a time
	started time.Time  // the baseline of a live site that has no move into live on record
	configs map[string]*siteConfig
	incNext time.Time // where the next check lists incidents from (zero: from the cursor)
	resume  int       // the index of the site where the previous check ran out of its records' budget

	leading atomic.Bool      // this engine holds the lease (as of renewed); read without mu by Leading
	renewed time.Time        // when it last took or renewed the lease
	standby store.WatchLease // the lease as last seen held by another (to log a change of holder once)
}

// ErrLeaseLost ends a check whose engine found, renewing during the check, that another engine holds the
// lease now: it steps down and leaves the rest to that one.
var ErrLeaseLost = errors.New("watch: the lease was taken over by another engine")

// siteConfig is what the engine needs of a site's accepted configuration.
type siteConfig struct {
	version  int
	accepted time.Time
	points   []pointSpec
}

type pointSpec struct {
	id, device string
	class      core.IntervalClass
}

// New gives an engine over st.
func New(st store.Store, o Options) (*Engine, error) {
	if o.Decode == nil {
		return nil, errors.New("watch: engine: no record decoder")
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Notifier == nil {
		o.Notifier = NopNotifier{}
	}
	if o.Every <= 0 {
		o.Every = 30 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Minute
	}
	if o.SiteSilence <= 0 {
		o.SiteSilence = time.Hour + o.Grace
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 20000
	}
	if o.MaxRecordsPerCheck <= 0 {
		o.MaxRecordsPerCheck = 500_000
	}
	if o.IncidentLookback <= 0 {
		o.IncidentLookback = 7 * 24 * time.Hour
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Holder == "" {
		o.Holder = processHolder
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 3 * o.Every
	}
	if o.LeaseTTL < 2*o.Every {
		// A lease shorter than two checks would lapse between them, and the engines take turns.
		return nil, fmt.Errorf("watch: engine: lease of %v is shorter than two checks of %v", o.LeaseTTL, o.Every)
	}
	return &Engine{st: st, o: o, started: o.Clock.Now(), configs: map[string]*siteConfig{}}, nil
}

// Run checks every Options.Every until ctx ends. A check that fails is logged and the next one tries
// again: watching must not stop because the store hiccupped once. An engine that does not hold the lease
// tries to take it at each tick, and checks once it has it. When ctx ends, the lease is released, so
// that another server's engine takes over at its next tick rather than after the lease expires.
func (e *Engine) Run(ctx context.Context) {
	defer e.release(context.WithoutCancel(ctx))
	for {
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.o.Logf("watch: check: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-e.o.Clock.After(e.o.Every):
		}
	}
}

// Leading reports whether the engine held the lease at its last check (or took it since): whether it is
// the engine that watches.
func (e *Engine) Leading() bool { return e.leading.Load() }

// lead takes or renews the lease and reports whether this engine holds it. Losing it, or failing to
// renew it (the store does not answer: another may take it meanwhile), the engine steps down; it takes
// it again at a later tick when it is free or still its own.
func (e *Engine) lead(ctx context.Context) (bool, error) {
	now := e.o.Clock.Now()
	l, held, err := e.st.AcquireWatchLease(ctx, LeaseName, e.o.Holder, now, e.o.LeaseTTL)
	switch {
	case err != nil:
		if e.leading.Swap(false) {
			e.o.Logf("watch: stepping down: the lease cannot be renewed: %v", err)
		}
		return false, fmt.Errorf("watch: lease: %w", err)
	case !held:
		if e.leading.Swap(false) {
			e.o.Logf("watch: stepping down: %s holds the lease until %s", l.Holder, stamp(l.Expires))
		} else if l.Holder != e.standby.Holder || !l.Acquired.Equal(e.standby.Acquired) {
			e.o.Logf("watch: standing by: %s watches (lease until %s)", l.Holder, stamp(l.Expires))
		}
		e.standby = l
		return false, nil
	}
	if !e.leading.Swap(true) {
		e.o.Logf("watch: %s took the lease (until %s): watching", e.o.Holder, stamp(l.Expires))
		// Another engine may have checked meanwhile: go on from the store's cursors, not from this one's
		// memory of them.
		e.incNext, e.resume = time.Time{}, 0
	}
	e.renewed, e.standby = now, store.WatchLease{}
	return true, nil
}

// still renews the lease during a check once a third of it has passed since the last renewal, so that a
// long check keeps it; it gives ErrLeaseLost when another engine has it now.
func (e *Engine) still(ctx context.Context) error {
	if e.o.Clock.Now().Sub(e.renewed) < e.o.LeaseTTL/3 {
		return nil
	}
	held, err := e.lead(ctx)
	if err != nil {
		return err
	}
	if !held {
		return ErrLeaseLost
	}
	return nil
}

// release gives the lease up, if held, so that another engine need not wait for it to expire.
func (e *Engine) release(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.st.ReleaseWatchLease(ctx, LeaseName, e.o.Holder); err != nil {
		e.o.Logf("watch: release the lease: %v", err)
		return
	}
	e.leading.Store(false)
	e.o.Logf("watch: %s released the lease", e.o.Holder)
}

// Tick does one check, if this engine holds the lease (taking it when it is free; renewing it): for every
// site, the new records of its devices (events) and, when it is live, the cadence of the site and its
// points; then the new ingest incidents. A failure at one site is reported (joined with the others) and
// does not stop the check of the rest. An engine that does not hold the lease checks nothing and gives
// nil (an error only when the store cannot tell who holds it).
func (e *Engine) Tick(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if held, err := e.lead(ctx); !held {
		return err
	}
	sites, err := e.st.Sites(ctx, "")
	if err != nil {
		return fmt.Errorf("watch: sites: %w", err)
	}
	var errs []error
	// The records' budget of this check is spent from the site where the previous check ran out of it, so
	// that in a national backlog every site gets its turn.
	budget, start, ranOut := e.o.MaxRecordsPerCheck, 0, false
	if len(sites) > 0 {
		start = e.resume % len(sites)
	}
	for i := range sites {
		if err := e.still(ctx); err != nil {
			// Another engine has the lease: it does the rest of this check (its own), not both.
			return errors.Join(append(errs, err)...)
		}
		s := sites[(start+i)%len(sites)]
		devices, err := e.st.Devices(ctx, store.DeviceFilter{Site: s.Warehouse})
		if err != nil {
			errs = append(errs, fmt.Errorf("watch: devices of %s: %w", s.Warehouse, err))
			continue
		}
		for _, d := range devices {
			if budget <= 0 {
				if !ranOut {
					ranOut, e.resume = true, (start+i)%len(sites)
				}
				break
			}
			n, err := e.scanRecords(ctx, s, d.ID, min(e.o.MaxRecords, budget))
			budget -= n
			if err != nil {
				errs = append(errs, err)
			}
		}
		if s.State != store.SiteLive {
			continue
		}
		if err := e.checkCadence(ctx, s, devices); err != nil {
			errs = append(errs, err)
		}
	}
	if !ranOut {
		e.resume = 0
	}
	if err := e.still(ctx); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := e.scanIncidents(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// eventRule says what an event does to an alarm: open (raise) or end (restore) one of a kind.
type eventRule struct {
	kind  store.AlarmKind
	raise bool
}

// eventRules: the events that raise alarms and those that end them (docs/watching.md, "Events").
var eventRules = map[core.EventKind]eventRule{
	core.EventPowerLost:             {store.AlarmPowerLoss, true},
	core.EventPowerRestored:         {store.AlarmPowerLoss, false},
	core.EventDoorOpened:            {store.AlarmDoorOpened, true},
	core.EventDoorClosed:            {store.AlarmDoorOpened, false},
	core.EventTotalizerDecreased:    {store.AlarmTotalizerDecreased, true},
	core.EventErrorBitsSet:          {store.AlarmErrorBits, true},
	core.EventErrorBitsCleared:      {store.AlarmErrorBits, false},
	core.EventCommunicationLost:     {store.AlarmCommunicationLoss, true},
	core.EventCommunicationRestored: {store.AlarmCommunicationLoss, false},
	core.EventOutOfLimits:           {store.AlarmOutOfLimits, true},
	core.EventBackInLimits:          {store.AlarmOutOfLimits, false},
	core.EventUnsentTooLong:         {store.AlarmUnsentTooLong, true},
	core.EventRecordsLost:           {store.AlarmRecordsLost, true},
}

// scanRecords examines the device's records stored since the last check, at most limit of them, and
// gives how many it read. Only events of a live site that are not test data (чл. 17) act on alarms; the cursor moves over
// all of them. The cursor is saved after every event that acted, so that a check that fails or a server
// that stops half-way resumes at the next event: an event's act is never done twice (and, should the
// process die between an act and its cursor, the act recognises its own seq, see actedOn).
func (e *Engine) scanRecords(ctx context.Context, s store.Site, device string, limit int) (int, error) {
	cursor, err := e.st.WatchCursor(ctx, device)
	if err != nil {
		return 0, fmt.Errorf("watch: %w", err)
	}
	head, err := e.st.DeviceHead(ctx, device)
	if err != nil {
		return 0, fmt.Errorf("watch: %w", err)
	}
	if head.Seq <= cursor {
		return 0, nil
	}
	if s.State != store.SiteLive {
		// Nothing of a site that is not live raises an alarm: skip its records without reading them.
		if err := e.st.SetWatchCursor(ctx, device, head.Seq); err != nil {
			return 0, fmt.Errorf("watch: %w", err)
		}
		return 0, nil
	}
	to := min(head.Seq, cursor+int64(limit))
	n := int(to - cursor)
	type act struct {
		seq   int64
		rule  eventRule
		alarm store.Alarm
		at    time.Time
	}
	var acts []act
	err = e.st.Records(ctx, device, cursor+1, to, func(r *store.Row) error {
		if r.Kind != core.KindEvent || r.Test {
			return nil
		}
		rec, err := e.o.Decode(r.Bytes)
		if err != nil || rec.Event == nil {
			e.o.Logf("watch: %s seq %d: event does not decode: %v", device, r.Seq, err)
			return nil
		}
		rule, ok := eventRules[rec.Event.Kind]
		if !ok {
			return nil
		}
		// Acting inside the walk would write while a read is open: collect (at most MaxRecords), then act.
		acts = append(acts, act{seq: r.Seq, rule: rule, at: r.Time, alarm: store.Alarm{Kind: rule.kind, Site: s.Warehouse,
			Device: device, Point: rec.Point, Opened: r.Time, Detail: eventDetail(r, rec.Event)}})
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("watch: records of %s: %w", device, err)
	}
	for _, x := range acts {
		if x.rule.raise {
			err = e.raise(ctx, x.alarm, true)
		} else {
			err = e.restore(ctx, x.alarm.Key(), x.at, x.alarm.Detail)
		}
		if err != nil {
			return n, err
		}
		if err := e.st.SetWatchCursor(ctx, device, x.seq); err != nil {
			return n, fmt.Errorf("watch: %w", err)
		}
	}
	if len(acts) == 0 || acts[len(acts)-1].seq != to {
		if err := e.st.SetWatchCursor(ctx, device, to); err != nil {
			return n, fmt.Errorf("watch: %w", err)
		}
	}
	return n, nil
}

func eventDetail(r *store.Row, ev *core.Event) map[string]string {
	d := map[string]string{"event": string(ev.Kind), "time": stamp(r.Time), "seq": strconv.FormatInt(r.Seq, 10)}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("tag", ev.Tag)
	set("value", ev.Value)
	set("previous", ev.Previous)
	set("unit", ev.Unit)
	if len(ev.Bits) > 0 {
		bits := make([]string, len(ev.Bits))
		for i, b := range ev.Bits {
			bits[i] = strconv.Itoa(b)
		}
		d["bits"] = strings.Join(bits, ",")
	}
	return d
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// find gives the open alarm of k, or nil.
func (e *Engine) find(ctx context.Context, k store.AlarmKey) (*store.Alarm, error) {
	open, err := e.st.FindOpenAlarm(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return &open, nil
}

// raise opens an alarm of a's key, or, if one is open, notes that the condition began again (recurred,
// when it had ended; noted, when repeat is set and it still holds: each door opening counts).
func (e *Engine) raise(ctx context.Context, a store.Alarm, repeat bool) error {
	open, err := e.find(ctx, a.Key())
	if err != nil {
		return err
	}
	return e.raiseOver(ctx, a, open, repeat)
}

// raiseOver is raise when the open alarm of a's key (or nil) is known.
func (e *Engine) raiseOver(ctx context.Context, a store.Alarm, open *store.Alarm, repeat bool) error {
	switch {
	case open == nil:
		entry := store.AlarmEntry{Who: engineWho, Role: engineRole, Action: store.AlarmOpened, Time: e.o.Clock.Now(),
			Detail: a.Detail}
		got, created, err := e.st.OpenAlarm(ctx, a, entry)
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		if created {
			e.notify(ctx, got, entry)
		}
		return nil
	case open.Restored.IsZero() && !repeat:
		return nil
	}
	if done, err := e.actedOn(ctx, open, a.Detail); err != nil || done {
		return err
	}
	action := store.AlarmNoted
	if !open.Restored.IsZero() {
		action = store.AlarmRecurred
	}
	err := e.change(ctx, open.ID, store.AlarmEntry{Who: engineWho, Role: engineRole, Action: action,
		Time: e.o.Clock.Now(), Detail: a.Detail})
	if errors.Is(err, errClosedMeanwhile) {
		// A person closed it between the look-up and now: the condition is new, and so is its alarm.
		return e.raiseOver(ctx, a, nil, repeat)
	}
	return err
}

// actedOn reports whether the engine's last act on the open alarm was for the very event of detail d (its
// "seq"). The cursor of a device is saved after each act; a server that stopped between the two reads the
// event again, and the event must not count twice (a second door opening that never was).
func (e *Engine) actedOn(ctx context.Context, open *store.Alarm, d map[string]string) (bool, error) {
	seq := d["seq"]
	if seq == "" {
		return false, nil
	}
	if open.Detail["seq"] == seq {
		return true, nil
	}
	h, err := e.st.AlarmHistory(ctx, open.ID)
	if err != nil {
		return false, fmt.Errorf("watch: %w", err)
	}
	for _, en := range slices.Backward(h) {
		if en.Role == engineRole {
			return en.Detail["seq"] == seq, nil
		}
	}
	return false, nil
}

// restore notes on the open alarm of k that its condition ended at; the alarm stays for a person to close.
func (e *Engine) restore(ctx context.Context, k store.AlarmKey, at time.Time, detail map[string]string) error {
	open, err := e.find(ctx, k)
	if err != nil {
		return err
	}
	return e.restoreOver(ctx, open, at, detail)
}

// restoreOver is restore when the open alarm (or nil) is known.
func (e *Engine) restoreOver(ctx context.Context, open *store.Alarm, at time.Time, detail map[string]string) error {
	if open == nil || !open.Restored.IsZero() {
		return nil
	}
	d := map[string]string{"ended": stamp(at)}
	for k, v := range detail {
		d[k] = v
	}
	err := e.change(ctx, open.ID, store.AlarmEntry{Who: engineWho, Role: engineRole, Action: store.AlarmRestored,
		Time: e.o.Clock.Now(), Detail: d})
	if errors.Is(err, errClosedMeanwhile) {
		return nil // closed by a person meanwhile: nothing left to restore
	}
	return err
}

// errClosedMeanwhile: the alarm the engine was about to add to was closed by a person since it was read.
var errClosedMeanwhile = errors.New("watch: alarm closed meanwhile")

// change adds the engine's entry to alarm id and tells the notifier.
func (e *Engine) change(ctx context.Context, id int64, entry store.AlarmEntry) error {
	a, err := e.st.ChangeAlarm(ctx, id, entry)
	if errors.Is(err, store.ErrInvalid) {
		// The engine's entries are well formed: the only refusal left is a closed alarm.
		return errClosedMeanwhile
	}
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	e.notify(ctx, a, entry)
	return nil
}

func (e *Engine) notify(ctx context.Context, a store.Alarm, entry store.AlarmEntry) {
	if err := e.o.Notifier.AlarmChanged(ctx, a, entry); err != nil {
		e.o.Logf("watch: notify alarm %d: %v", a.ID, err)
	}
}

// checkCadence raises late-site when nothing at all came from a live site for its limit, else late-point
// for every control point of its accepted configuration whose last reading is older than its class's
// interval (чл. 30(13)) plus the grace; it restores those whose data came back.
func (e *Engine) checkCadence(ctx context.Context, s store.Site, devices []store.Device) error {
	now := e.o.Clock.Now()
	cfg, err := e.siteConfig(ctx, s.Warehouse)
	if err != nil {
		return err
	}
	base, err := e.baseline(ctx, s)
	if err != nil {
		return err
	}
	if cfg != nil && cfg.accepted.After(base) {
		base = cfg.accepted
	}
	var last time.Time
	for _, d := range devices {
		t, err := e.lastRecord(ctx, d.ID)
		if err != nil {
			return err
		}
		if t.After(last) {
			last = t
		}
	}
	limit := e.o.SiteSilence
	if cfg != nil && len(cfg.points) > 0 {
		limit = cfg.points[0].class.MaxInterval()
		for _, p := range cfg.points[1:] {
			limit = min(limit, p.class.MaxInterval())
		}
		limit += e.o.Grace
	}
	// Each open lateness alarm is looked up by its key (the store's index of open alarms), not by listing
	// the site's alarms: the cost of a check must not grow with the years of closed alarms behind a site.
	siteKey := store.AlarmKey{Kind: store.AlarmLateSite, Site: s.Warehouse}
	ref := later(last, base)
	if now.Sub(ref) > limit {
		return e.raise(ctx, store.Alarm{Kind: store.AlarmLateSite, Site: s.Warehouse, Opened: ref.Add(limit),
			Detail: map[string]string{"last": stamp(last), "limit": limit.String()}}, false)
	}
	// Ended only by data that came: a new baseline (a configuration accepted, a move into live) gives time
	// to read, it does not end a silence.
	if fresh(now, last, limit) {
		if err := e.restore(ctx, siteKey, last, map[string]string{"last": stamp(last)}); err != nil {
			return err
		}
	}
	if cfg == nil {
		return nil
	}
	for _, p := range cfg.points {
		row, err := e.st.Latest(ctx, p.device, p.id, core.KindReading)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("watch: %w", err)
		}
		limit := p.class.MaxInterval() + e.o.Grace
		ref := later(row.Time, base)
		a := store.Alarm{Kind: store.AlarmLatePoint, Site: s.Warehouse, Device: p.device, Point: p.id,
			Opened: ref.Add(limit), Detail: map[string]string{"last": stamp(row.Time), "limit": limit.String(),
				"class": string(p.class)}}
		if now.Sub(ref) > limit {
			if err := e.raise(ctx, a, false); err != nil {
				return err
			}
			continue
		}
		if !fresh(now, row.Time, limit) {
			continue
		}
		if err := e.restore(ctx, a.Key(), row.Time, map[string]string{"last": stamp(row.Time)}); err != nil {
			return err
		}
	}
	return nil
}

// fresh reports whether data of time t is within limit of now.
func fresh(now, t time.Time, limit time.Duration) bool { return !t.IsZero() && now.Sub(t) <= limit }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lastRecord gives the time of the device's last stored record (zero when none).
func (e *Engine) lastRecord(ctx context.Context, device string) (time.Time, error) {
	head, err := e.st.DeviceHead(ctx, device)
	if err != nil || head.Seq == 0 {
		return time.Time{}, err
	}
	var t time.Time
	err = e.st.Records(ctx, device, head.Seq, head.Seq, func(r *store.Row) error { t = r.Time; return nil })
	if err != nil {
		return t, fmt.Errorf("watch: last record of %s: %w", device, err)
	}
	return t, nil
}

// baseline gives the time a live site is watched from: its last move into live, or the engine's start
// when there is none on record. A site is not late for the time before it went live. It is read at every
// check (a site's moves are few): a site suspended and resumed between two checks is watched from the
// resumption.
func (e *Engine) baseline(ctx context.Context, s store.Site) (time.Time, error) {
	moves, err := e.st.SiteMoves(ctx, s.Warehouse)
	if err != nil {
		return time.Time{}, fmt.Errorf("watch: %w", err)
	}
	since := e.started
	for _, m := range slices.Backward(moves) {
		if m.To == store.SiteLive {
			since = m.Time
			break
		}
	}
	return since, nil
}

// siteConfig gives the control points of the site's latest accepted configuration (nil when it has none).
func (e *Engine) siteConfig(ctx context.Context, site string) (*siteConfig, error) {
	versions, err := e.st.ConfigVersions(ctx, site)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	var latest *store.ConfigVersion
	for i := range versions {
		if versions[i].Verdict == store.ConfigAccepted {
			latest = &versions[i]
		}
	}
	if latest == nil {
		return nil, nil
	}
	if c, ok := e.configs[site]; ok && c.version == latest.Version {
		return c, nil
	}
	v, err := e.st.ConfigVersion(ctx, site, latest.Version)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	c, diags := config.Parse(fmt.Sprintf("%s v%d", site, v.Version), v.File)
	if c == nil || diags.HasErrors() {
		// An accepted version was valid when accepted; one that is not now (a newer validator) still
		// names its points, if it parsed at all.
		e.o.Logf("watch: configuration %d of %s does not load cleanly", v.Version, site)
		if c == nil {
			return nil, nil
		}
	}
	sc := &siteConfig{version: v.Version, accepted: v.UploadedAt}
	for _, p := range c.Points {
		if !p.Class.Valid() || len(p.ID) < 16 {
			continue
		}
		sc.points = append(sc.points, pointSpec{id: p.ID, device: p.ID[:16], class: p.Class})
	}
	e.configs[site] = sc
	return sc, nil
}

// incidentCursor names the engine's place among ingest incidents in store.WatchCursor: the time (ms since
// the epoch) up to which incidents were examined.
const incidentCursor = "incident-time"

// incidentOverlap is how far before its cursor a check looks for incidents again. Ingest stamps an
// incident when it makes it and stores it a moment later, and concurrent requests store theirs in any
// order: one stamped just before the cursor may be stored after a check passed it. Whether an incident
// was examined is told by its alarm (opened at the incident's time), never by the cursor alone.
const incidentOverlap = 5 * time.Minute

// incidentPage bounds the incidents read at once, and incidentPages the pages of one check: a flood of
// incidents (a client that keeps sending bad batches) is worked off over several checks in bounded memory.
var incidentPage = 500

const incidentPages = 20

// scanIncidents turns each new ingest incident about a registered site into an alarm of its own that only
// an officer closes. An incident that has its alarm already (open or closed) is not raised again, so a
// restart, a check that failed half-way or the overlap never makes a second alarm of one incident.
func (e *Engine) scanIncidents(ctx context.Context) error {
	at, err := e.st.WatchCursor(ctx, incidentCursor)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	now := e.o.Clock.Now()
	since := now.Add(-e.o.IncidentLookback)
	switch {
	case !e.incNext.IsZero():
		since = e.incNext
	case at != 0:
		since = time.UnixMilli(at).UTC().Add(-incidentOverlap)
	}
	// Every incident stamped before now - overlap is stored by now: the next check need not look before
	// that, nor before where this one got to (a backlog is worked off, never read again); and never before
	// where this one began.
	from := since
	defer func() {
		next := time.UnixMilli(at).UTC()
		if at == 0 || now.Add(-incidentOverlap).Before(next) {
			next = now.Add(-incidentOverlap)
		}
		e.incNext = later(from, next)
	}()
	sites := map[string]bool{} // registered, by warehouse number
	for range incidentPages {
		list, err := e.st.Incidents(ctx, store.IncidentFilter{Since: since, Limit: incidentPage})
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		if len(list) == 0 {
			return nil
		}
		first, last := list[0].Time, list[len(list)-1].Time
		alarmed, err := e.st.Alarms(ctx, store.AlarmFilter{Kinds: []store.AlarmKind{store.AlarmIncident}, Since: first,
			Until: last.Add(time.Millisecond)})
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		done := make(map[int64]bool, len(alarmed))
		for _, a := range alarmed {
			done[a.Incident] = true
		}
		for _, in := range list {
			if done[in.ID] || len(in.Device) < 13 {
				continue // alarmed already, or about no known device (an unknown certificate): the incidents list shows it
			}
			site := in.Device[:13]
			known, seen := sites[site]
			if !seen {
				_, err := e.st.Site(ctx, site)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("watch: %w", err)
				}
				known = err == nil
				sites[site] = known
			}
			if !known {
				continue
			}
			a := store.Alarm{Kind: store.AlarmIncident, Site: site, Device: in.Device, Incident: in.ID, Opened: in.Time,
				Detail: map[string]string{"incident": string(in.Kind), "first": strconv.FormatInt(in.First, 10),
					"last": strconv.FormatInt(in.Last, 10), "detail": in.Detail}}
			if err := e.raise(ctx, a, false); err != nil {
				return err
			}
		}
		if last.UnixMilli() > at {
			at = last.UnixMilli()
			if err := e.st.SetWatchCursor(ctx, incidentCursor, at); err != nil {
				return fmt.Errorf("watch: %w", err)
			}
		}
		if len(list) < incidentPage {
			return nil
		}
		if last.After(since) {
			since = last
		} else {
			// A whole page stamped in one millisecond: go on after it (the rest of that millisecond waits for
			// no one, but a page of incidents in one ms is a flood, and the log says so).
			e.o.Logf("watch: more than %d incidents at %s; going on after them", incidentPage, stamp(last))
			since = last.Add(time.Millisecond)
		}
	}
	return nil
}
