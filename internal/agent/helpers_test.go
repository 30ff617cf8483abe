package agent

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
)

// memSink keeps the records, checking each; fail makes Emit fail.
type memSink struct {
	mu   sync.Mutex
	t    testing.TB
	recs []*core.Record
	fail error
}

func (s *memSink) Emit(_ context.Context, r *core.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if err := r.Validate(); err != nil {
		s.t.Errorf("invalid record %+v: %v", r, err)
	}
	s.recs = append(s.recs, r)
	return nil
}

func (s *memSink) events(kind core.EventKind) []*core.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*core.Record
	for _, r := range s.recs {
		if r.Kind == core.KindEvent && r.Event.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func (s *memSink) kind(k core.RecordKind) []*core.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*core.Record
	for _, r := range s.recs {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

// fakeClock is set by the test; its monotonic clock follows its wall clock unless stepped.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	mono time.Duration
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// Set moves both clocks to t.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mono += t.Sub(c.now)
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mono += d
	c.now = c.now.Add(d)
}

// Step moves the wall clock alone, as an NTP step or an operator would.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var errFull = errors.New("journal full")

func loadSample(t testing.TB, site string) *config.Config {
	t.Helper()
	cfg, err := config.Load("../../examples/" + site + "/automation_config.xml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
