package ingest_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/wire"
)

// TestGreedyClient: one operator holding as many batches in flight as it may (bodies that never finish)
// gets 503 with Retry-After for more, while another operator's batch goes through; then the same for
// the bytes of request bodies in flight.
func TestGreedyClient(t *testing.T) {
	s := sqliteOpener(t)(t)
	defer s.Close()
	eikA, eikB := validEIK(t, 0), validEIK(t, 1)
	registry(t, s, eikA, wh1, dev1)
	registry(t, s, eikB, wh2, dev2)
	opCA := newCA(t, "Operators' CA")
	now := time.Now()
	idA, idB := identity{key: ecKey(t)}, identity{key: ecKey(t)}
	idA.cert = opCA.issue(t, idA.key, "A", eikA, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	idB.cert = opCA.issue(t, idB.key, "B", eikB, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	registerCert(t, s, eikA, idA.cert)
	registerCert(t, s, eikB, idB.cert)

	const limit = 64 << 10
	sv := startServer(t, s, t.TempDir(), ingest.Config{MaxInFlight: 3, MaxClientInFlight: 2,
		MaxInFlightBytes: 4 * (limit + 1), MaxClientInFlightBytes: limit + 1, Limits: wire.Limits{MaxCompressed: limit}})
	admitted, left := make(chan string, 16), make(chan string, 16)
	sv.ing.OnGate(func(client string, in bool) {
		if in {
			admitted <- client
		} else {
			left <- client
		}
	})
	cA, cB := sv.client(idA), sv.client(idB)
	// wait takes the next event of ch; the bound is a failure's, not a timing.
	wait := func(ch chan string, what string) string {
		t.Helper()
		select {
		case c := <-ch:
			return c
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event", what)
			return ""
		}
	}
	agB := newAgent(dev2, idB)

	// hold starts a POST of A whose body of n bytes never comes, and gives the function that ends it.
	hold := func(n int64) func() {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodPost, sv.srv.URL+wire.BatchesPath, pr)
		req.Header.Set("Content-Type", wire.BatchType)
		req.ContentLength = n
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := cA.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		if c := wait(admitted, "admission"); c != eikA {
			t.Fatalf("admitted %s, want A", c)
		}
		var once sync.Once
		end := func() {
			once.Do(func() {
				pw.CloseWithError(io.ErrUnexpectedEOF)
				<-done
				wait(left, "leaving") // the server let go of it
			})
		}
		t.Cleanup(end)
		return end
	}
	busy := func(name string, a answer, detail string) {
		t.Helper()
		if a.status != http.StatusServiceUnavailable || a.problem.Code != ingest.CodeUnavailable || !strings.Contains(a.raw2(), detail) {
			t.Fatalf("%s: %d %s, want 503 unavailable saying %q", name, a.status, a.raw, detail)
		}
	}
	postB := func(name string) {
		t.Helper()
		body, _ := agB.batch(t, 5)
		if a := post(t, cB, sv.srv.URL, body, 0); a.status != http.StatusCreated {
			t.Fatalf("%s: B's batch: %d %s", name, a.status, a.raw)
		}
		wait(admitted, "admission")
		wait(left, "leaving")
	}

	// Two batches of A in flight: its share. A third is refused; B's goes through.
	release1, release2 := hold(100), hold(100)
	agA := newAgent(dev1, idA)
	body, _ := agA.batch(t, 5)
	req, _ := http.NewRequest(http.MethodPost, sv.srv.URL+wire.BatchesPath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", wire.BatchType)
	a, retry := doWithHeader(t, cA, req, "Retry-After")
	busy("A's third batch", a, eikA)
	if retry == "" {
		t.Error("503 without Retry-After")
	}
	postB("batches")
	release1()
	release2()

	// A batch of A's as large as the limit is its whole byte share: another of A's is refused, B's is not.
	release := hold(limit)
	a = post(t, cA, sv.srv.URL, body, 0)
	busy("A's batch over its byte share", a, "твърде много данни")
	postB("bytes")
	release()

	// Free again: A's batch is accepted.
	if a := post(t, cA, sv.srv.URL, body, 0); a.status != http.StatusCreated {
		t.Fatalf("A's batch after the others ended: %d %s", a.status, a.raw)
	}
	var m strings.Builder
	sv.ing.WriteMetrics(&m)
	for _, want := range []string{`akciz_server_busy_total{bound="client"} 1`, `akciz_server_busy_total{bound="client-bytes"} 1`, "akciz_server_inflight_batches 0"} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, m.String())
		}
	}
}

func (a answer) raw2() string { return string(a.raw) }

func doWithHeader(t *testing.T, c *http.Client, req *http.Request, header string) (answer, string) {
	t.Helper()
	var got string
	c2 := *c
	tr := c.Transport
	c2.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if err == nil {
			got = resp.Header.Get(header)
		}
		return resp, err
	})
	return do(t, &c2, req), got
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
