package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// Defaults of a Watchdog: an outage is announced after 3 failed probes in a row spanning at least 3
// minutes, so that a restart of the server or one lost probe does not reach every subscriber.
const (
	DefaultDownProbes = 3
	DefaultDownFor    = 3 * time.Minute
	// DefaultProbeTimeout bounds one probe: a hung intake is as down as a refusing one.
	DefaultProbeTimeout = 20 * time.Second
)

// Watchdog raises an unplanned-unavailability notice for System when akciz's own intake is down, and ends
// it when the intake works again (issue #8: "the server … can raise an unplanned-unavailability notice
// when ingest is down"; docs/notices.md, "Raised by the server"). Probe is what "works" means; akciz server
// gives a read of the store and an HTTPS GET of the intake's checkpoint over the listener it serves.
//
// The notice is raised once the probe has failed Probes times in a row and for at least For since the
// first of those failures, with that first failure as the start of the outage. The first success after
// it ends the notice at the time of that success, threaded as the notice's end (every subscriber who got
// the notice gets its end). The first success after a start also ends a notice a previous run of the
// server left open, so that a restart during an outage does not leave it open for ever; notices an
// administrator published are never touched (Service.EndUnavailable ends only the server's own).
//
// A planned unavailability of System (maintenance an administrator scheduled, not cancelled) that holds
// the time of a probe raises nothing: the subscribers were told. If the intake is still down when the
// window ends, the outage is raised from the window's end.
//
// A Watchdog is used from one goroutine (Run, or Check in turn).
type Watchdog struct {
	// Service publishes the notices.
	Service *Service
	// System is the catalogue code of the information system that stands for the intake.
	System string
	// Probe returns nil when the intake works. It gets a context bounded by Timeout.
	Probe func(ctx context.Context) error
	// Probes and For: how many failures in a row, over how long, make an outage (zero: the defaults
	// DefaultDownProbes, DefaultDownFor; a negative For: the count alone).
	Probes int
	For    time.Duration
	// Timeout bounds one probe (default DefaultProbeTimeout).
	Timeout time.Duration
	// Clock is the time (default the Service's).
	Clock Clock
	// Logf, when not nil, is told of every change of state and of every error.
	Logf func(format string, args ...any)

	failures int       // failed probes in a row
	since    time.Time // the first of them
	checked  bool      // a probe has succeeded since the start
	raised   bool      // a notice of ours is open (as far as this run knows)
}

// WatchState is what one Check found and did.
type WatchState int

// The states a Check reports.
const (
	// WatchUp: the probe succeeded and no notice is open.
	WatchUp WatchState = iota
	// WatchFailing: the probe failed, not yet long enough for a notice.
	WatchFailing
	// WatchDown: the probe failed and the notice is open (raised now or before).
	WatchDown
	// WatchRecovered: the probe succeeded and an open notice was ended now.
	WatchRecovered
	// WatchPlanned: the probe failed long enough, but within a planned unavailability of the system
	// that subscribers were told of: nothing is raised.
	WatchPlanned
)

func (w *Watchdog) logf(format string, args ...any) {
	if w.Logf != nil {
		w.Logf(format, args...)
	}
}

func (w *Watchdog) now() time.Time {
	c := w.Clock
	if c == nil {
		c = w.Service.cfg.Clock
	}
	return c.Now().UTC().Truncate(time.Millisecond)
}

// Check probes once and raises or ends the notice as the probes so far say. An error is a failure to
// publish (the store may be what is down); the next Check tries again.
func (w *Watchdog) Check(ctx context.Context) (WatchState, error) {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	perr := w.Probe(pctx)
	cancel()
	if ctx.Err() != nil {
		// Shutting down: the failed probe says nothing about the intake.
		return WatchUp, ctx.Err()
	}
	now := w.now()
	if perr == nil {
		wasFailing := w.failures
		w.failures = 0
		if w.raised || !w.checked {
			// Ends ours, or one a previous run left open; nothing when none is open.
			n, ended, err := w.Service.EndUnavailable(ctx, w.System, now)
			if err != nil {
				w.logf("notify: watchdog %s: end the unavailability: %v", w.System, err)
				return WatchDown, fmt.Errorf("notify: watchdog %s: %w", w.System, err)
			}
			w.checked, w.raised = true, false
			if ended {
				w.logf("notify: watchdog %s: the intake works again; notice %d ended", w.System, n.ID)
				return WatchRecovered, nil
			}
		}
		if wasFailing > 0 {
			w.logf("notify: watchdog %s: the intake answers again after %d failed probes", w.System, wasFailing)
		}
		return WatchUp, nil
	}
	if w.failures == 0 {
		w.since = now
	}
	w.failures++
	w.logf("notify: watchdog %s: probe %d failed: %v", w.System, w.failures, perr)
	if w.raised {
		return WatchDown, nil
	}
	probes, span := w.Probes, w.For
	if probes <= 0 {
		probes = DefaultDownProbes
	}
	if span == 0 {
		span = DefaultDownFor
	}
	if w.failures < probes || now.Sub(w.since) < span {
		return WatchFailing, nil
	}
	// Maintenance the subscribers were told of is not an unplanned outage; one that overruns its window
	// is, from the window's end.
	since := w.since
	ends, covered, err := w.Service.plannedWindow(ctx, w.System, since, now)
	if err != nil {
		w.logf("notify: watchdog %s: planned windows: %v", w.System, err)
		return WatchFailing, fmt.Errorf("notify: watchdog %s: %w", w.System, err)
	}
	if covered {
		return WatchPlanned, nil
	}
	if ends.After(since) {
		// Overrunning: the same grace as any outage, counted from the window's end.
		if since = ends; now.Sub(since) < span {
			return WatchFailing, nil
		}
	}
	// The error is the log's, not the subscribers': it names addresses and internals of the server.
	n, created, err := w.Service.RaiseUnavailable(ctx, w.System, since, "")
	if err != nil {
		w.logf("notify: watchdog %s: raise the unavailability: %v", w.System, err)
		return WatchFailing, fmt.Errorf("notify: watchdog %s: %w", w.System, err)
	}
	w.raised = true
	if created {
		w.logf("notify: watchdog %s: the intake is down since %s; notice %d raised", w.System, since.Format(time.RFC3339), n.ID)
	}
	return WatchDown, nil
}

// plannedWindow looks at the planned unavailabilities of system (not cancelled): covered is true when
// one holds t; otherwise ends is the latest end of a window that ended after from (zero if none).
func (s *Service) plannedWindow(ctx context.Context, system string, from, t time.Time) (ends time.Time, covered bool, err error) {
	ns, err := s.s.Notices(ctx, store.NoticeFilter{System: system, Kind: store.NoticeOperability, Limit: 50})
	if err != nil {
		return time.Time{}, false, err
	}
	for _, n := range ns {
		r := n.Latest()
		if r == nil || !r.Planned || r.Action == store.ActionCancel || r.Start.After(t) {
			continue
		}
		if r.End.IsZero() || t.Before(r.End) {
			return time.Time{}, true, nil
		}
		if r.End.After(from) && r.End.After(ends) {
			ends = r.End
		}
	}
	return ends, false, nil
}

// Run checks every interval until ctx ends. The first check is one interval after the start, when the
// server listens.
func (w *Watchdog) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check(ctx) // errors are logged; the next tick tries again
		}
	}
}
