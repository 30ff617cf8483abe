package deliver

import (
	"testing"
	"time"
)

// The pause after a failure is jittered: many boxes that lost the link in one outage must not all knock
// at the same moment when it returns. For the same attempt the pauses spread over [d/2, d], not one value.
func TestBackoffJitter(t *testing.T) {
	f := newFixture(t)
	s := f.sender(f.opts)
	for attempt := 1; attempt <= 4; attempt++ {
		d := f.opts.Backoff << (attempt - 1)
		seen := map[time.Duration]bool{}
		lo, hi := d, time.Duration(0)
		for range 200 {
			s.failures = attempt - 1
			w := s.fail(LinkDown, "down", 0)
			if w < d/2 || w > d {
				t.Fatalf("attempt %d waits %v, want within [%v, %v]", attempt, w, d/2, d)
			}
			seen[w] = true
			lo, hi = min(lo, w), max(hi, w)
		}
		if len(seen) < 100 || hi-lo < d/4 {
			t.Fatalf("attempt %d: %d distinct pauses from %v to %v: no jitter", attempt, len(seen), lo, hi)
		}
	}
}
