package sim

import (
	"context"
	"time"
)

// A Pacer ties simulated time to wall time: Pace returns when the simulation may reach elapsed
// simulated time since its start, or with ctx's error when ctx is cancelled first.
type Pacer interface {
	Pace(ctx context.Context, elapsed time.Duration) error
}

// RealTime paces a run at speed times wall time (1 is real time). It measures from its first Pace, and
// if the machine falls behind it runs ticks back to back until it has caught up rather than skipping
// any: the truth log must hold every tick.
func RealTime(speed float64) Pacer {
	if speed <= 0 {
		speed = 1
	}
	return &realTime{speed: speed, now: time.Now}
}

type realTime struct {
	speed  float64
	now    func() time.Time
	origin time.Time
	base   time.Duration
}

func (r *realTime) Pace(ctx context.Context, elapsed time.Duration) error {
	if r.origin.IsZero() {
		r.origin = r.now()
		r.base = elapsed
	}
	due := r.origin.Add(time.Duration(float64(elapsed-r.base) / r.speed))
	wait := due.Sub(r.now())
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fast never waits: the run goes as fast as the machine can step it.
func Fast() Pacer { return fast{} }

type fast struct{}

func (fast) Pace(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// Run steps the simulation as the pacer allows until ctx is cancelled or, if limit is positive, until
// limit of simulated time has passed. The tick in progress always finishes; Run returns nil on either
// end and an error only when the truth log cannot be written.
func (s *Sim) Run(ctx context.Context, p Pacer, limit time.Duration) error {
	for {
		next := s.Elapsed() + s.tick
		if limit > 0 && next > limit {
			return nil
		}
		if p.Pace(ctx, next) != nil {
			return nil
		}
		if err := s.Step(); err != nil {
			return err
		}
	}
}
