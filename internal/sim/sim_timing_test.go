package sim

import (
	"io"
	"testing"
)

// BenchmarkStep measures one tick of the fuel depot (5 points, 48 registers): the cost of simulated
// time in fast runs and tests.
func BenchmarkStep(b *testing.B) {
	s, err := New(loadSample(b, "fuel-depot"), Options{Seed: 1, Start: t0, Truth: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Step(); err != nil {
			b.Fatal(err)
		}
	}
}
