package ingest_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/wire"
)

// TestGracefulShutdown: a batch in flight when the server is told to stop is finished, committed and
// answered with its receipt; the server's own http.Server (ingest.HTTPServer) is what runs.
func TestGracefulShutdown(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eik := validEIK(t, 0)
	registry(t, s, eik, wh1, dev1)
	ca := newCA(t, "CA")
	id := identity{key: ecKey(t)}
	id.cert = ca.issue(t, id.key, "A", eik, time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	registerCert(t, s, eik, id.cert)
	l, _, err := ingest.OpenLog(t.TempDir(), ingest.DefaultOrigin)
	must(t, err)
	tr, err := ingest.NewTrust(ctx, s, nil, nil)
	must(t, err)
	ing, err := ingest.New(ingest.Config{Store: s, Trust: tr, Log: l})
	must(t, err)

	tlsCA := newCA(t, "TLS CA")
	k := ecKey(t)
	cert := tlsCA.issue(t, k, "localhost", "", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	hs := ing.HTTPServer("127.0.0.1:0", tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: k}, nil)
	// The batch counts as in flight once the handler has it: net/http drops a request whose headers were
	// read but that has not reached its handler when Shutdown starts (StateActive fires before that).
	active := make(chan struct{}, 1)
	inner := hs.Handler
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case active <- struct{}{}:
		default:
		}
		inner.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()

	sv := &server{ca: tlsCA}
	client := sv.client(id)
	body, h := newAgent(dev1, id).batch(t, 20)
	pr, pw := io.Pipe()
	type result struct {
		resp *http.Response
		err  error
	}
	answered := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "https://"+ln.Addr().String()+wire.BatchesPath, pr)
		req.Header.Set("Content-Type", wire.BatchType)
		resp, err := client.Do(req)
		answered <- result{resp, err}
	}()
	first := make(chan struct{})
	go func() { pw.Write(body[:10]); close(first) }() // the request is in flight, its body unfinished
	select {
	case <-active:
	case res := <-answered:
		t.Fatalf("answered before the server read the request: %v", res.err)
	}
	shutting := make(chan struct{})
	hs.RegisterOnShutdown(func() { close(shutting) })
	stopped := make(chan error, 1)
	go func() { stopped <- hs.Shutdown(ctx) }()
	<-shutting // (Shutdown calls it at once) the listener is closed; Shutdown waits for the active connection
	<-first    // the rest of the body must follow its start, not race it
	pw.Write(body[10:])
	pw.Close()
	var res result
	select {
	case res = <-answered:
	case <-time.After(20 * time.Second): // a failure's bound, not a timing
		t.Fatal("no answer to the in-flight batch")
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	b, _ := io.ReadAll(res.resp.Body)
	res.resp.Body.Close()
	a := answer{status: res.resp.StatusCode, raw: b}
	if r, err := wire.ParseReceipt(b); err == nil {
		a.receipt = r
	}
	if a.status != http.StatusCreated || a.receipt == nil {
		t.Fatalf("in-flight batch: %d %s", a.status, a.raw)
	}
	if _, err := a.receipt.Verify(l.Verifiers(), h, nil); err != nil {
		t.Error(err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("ServeTLS: %v", err)
	}
	must(t, ing.Close(ctx))
	if got := countRecords(t, s, dev1); got != 20 {
		t.Errorf("records: %d, want 20", got)
	}
	if cp, err := s.LatestCheckpoint(ctx); err != nil || cp.Size != 1 {
		t.Errorf("stored checkpoint after Close: %+v %v", cp, err)
	}
}
