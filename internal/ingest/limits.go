package ingest

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// busyReason says which bound refused a batch with 503.
type busyReason int

const (
	notBusy      busyReason = iota
	busyServer              // --max-inflight batches are in flight
	busyClient              // the client's operator has its share of batches in flight
	busyBytes               // the in-flight bodies would pass the server's byte budget
	busyClientBy            // … or the operator's share of it
)

var busyNames = [...]string{"", "server", "client", "bytes", "client-bytes"}

// gate is the admission of batches: bounds on the batches and the bytes of request bodies in flight, for
// the whole server and for each client operator, so that one operator (a hung agent fleet, a
// misconfiguration, an attack with a stolen certificate) cannot take every slot and starve the others.
// A batch over a bound is answered 503 with Retry-After, which the agent retries (docs/protocol.md).
type gate struct {
	maxBatches       int   // per server (--max-inflight)
	maxClientBatches int   // per operator (--max-inflight-client)
	maxBytes         int64 // of bodies in flight, per server (--max-inflight-mb)
	maxClientBytes   int64 // per operator

	mu      sync.Mutex
	batches int
	bytes   int64
	clients map[string]*use

	refused [len(busyNames)]atomic.Int64
}

type use struct {
	batches int
	bytes   int64
}

func newGate(batches, clientBatches int, bytes, clientBytes, minBytes int64) *gate {
	if batches <= 0 {
		batches = 64
	}
	if clientBatches <= 0 {
		clientBatches = max(1, batches/4)
	}
	if bytes <= 0 {
		bytes = 512 << 20
	}
	if clientBytes <= 0 {
		clientBytes = bytes / 4
	}
	// One batch of the largest size must always fit, or such a batch would be refused for ever.
	bytes, clientBytes = max(bytes, minBytes), max(clientBytes, minBytes)
	return &gate{maxBatches: batches, maxClientBatches: min(clientBatches, batches), maxBytes: bytes,
		maxClientBytes: min(clientBytes, bytes), clients: map[string]*use{}}
}

// take admits a batch of client whose body is n bytes (at most), or says which bound refuses it. A
// batch admitted must be given back with put(client, n).
func (g *gate) take(client string, n int64) busyReason {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.clients[client]
	if u == nil {
		u = &use{}
	}
	r := notBusy
	switch {
	case g.batches >= g.maxBatches:
		r = busyServer
	case u.batches >= g.maxClientBatches:
		r = busyClient
	case u.bytes+n > g.maxClientBytes:
		r = busyClientBy
	case g.bytes+n > g.maxBytes:
		r = busyBytes
	}
	if r != notBusy {
		g.refused[r].Add(1)
		return r
	}
	g.batches, g.bytes = g.batches+1, g.bytes+n
	u.batches, u.bytes = u.batches+1, u.bytes+n
	g.clients[client] = u
	return notBusy
}

func (g *gate) put(client string, n int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.batches, g.bytes = g.batches-1, g.bytes-n
	u := g.clients[client]
	u.batches, u.bytes = u.batches-1, u.bytes-n
	if u.batches == 0 {
		delete(g.clients, client) // the map holds only operators with batches in flight
	}
}

func (g *gate) writeMetrics(w io.Writer) {
	g.mu.Lock()
	batches, bytes, clients := g.batches, g.bytes, len(g.clients)
	g.mu.Unlock()
	fmt.Fprintf(w, "# HELP akciz_server_inflight_batches Batches being received, verified or committed.\n# TYPE akciz_server_inflight_batches gauge\nakciz_server_inflight_batches %d\n", batches)
	fmt.Fprintf(w, "# HELP akciz_server_inflight_bytes Bytes of request bodies reserved by batches in flight.\n# TYPE akciz_server_inflight_bytes gauge\nakciz_server_inflight_bytes %d\n", bytes)
	fmt.Fprintf(w, "# HELP akciz_server_inflight_clients Operators with batches in flight.\n# TYPE akciz_server_inflight_clients gauge\nakciz_server_inflight_clients %d\n", clients)
	fmt.Fprintf(w, "# HELP akciz_server_busy_total Batches answered 503 (retry), by the bound that refused them.\n# TYPE akciz_server_busy_total counter\n")
	for r := busyServer; int(r) < len(busyNames); r++ {
		fmt.Fprintf(w, "akciz_server_busy_total{bound=%q} %d\n", busyNames[r], g.refused[r].Load())
	}
}
