package ingest

import "testing"

// TestGate: the bounds on batches and body bytes in flight, for the server and for each operator, and
// that what is given back is available again.
func TestGate(t *testing.T) {
	const kb = 1 << 10
	g := newGate(4, 2, 10*kb, 4*kb, kb)
	steps := []struct {
		take   bool
		client string
		n      int64
		want   busyReason
	}{
		{true, "A", kb, notBusy},
		{true, "A", kb, notBusy},
		{true, "A", kb, busyClient}, // A has its 2 batches
		{true, "B", 3 * kb, notBusy},
		{true, "B", 2 * kb, busyClientBy}, // B's share is 4 KiB
		{true, "C", 4 * kb, notBusy},
		{true, "D", 2 * kb, busyServer}, // 4 batches in flight
		{false, "A", kb, notBusy},
		{true, "D", 4 * kb, busyBytes}, // 9 KiB in flight of 10
		{true, "D", kb, notBusy},
		{false, "C", 4 * kb, notBusy},
		{true, "A", kb, notBusy},
	}
	for i, st := range steps {
		if !st.take {
			g.put(st.client, st.n)
			continue
		}
		if got := g.take(st.client, st.n); got != st.want {
			t.Fatalf("step %d: take(%s, %d) = %s, want %s", i, st.client, st.n, busyNames[got], busyNames[st.want])
		}
	}
	if g.batches != 4 || g.bytes != 6*kb || len(g.clients) != 3 {
		t.Errorf("in flight: %d batches, %d bytes, %d operators", g.batches, g.bytes, len(g.clients))
	}
	// Defaults, and a largest batch always fits.
	d := newGate(0, 0, 0, 0, 16<<20+1)
	if d.maxBatches != 64 || d.maxClientBatches != 16 || d.maxBytes != 512<<20 || d.maxClientBytes != 128<<20 {
		t.Errorf("defaults: %+v", d)
	}
	small := newGate(1, 5, 10, 10, 100)
	if small.maxClientBatches != 1 || small.maxBytes != 100 || small.maxClientBytes != 100 {
		t.Errorf("bounds not raised to one batch: %+v", small)
	}
}
