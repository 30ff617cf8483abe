package deliver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/wire"
)

// TestIngest delivers to the real intake of akciz server (package ingest over a SQLite store), with an
// outage (the server closed and started again on the same store) and a sender restart in between: every
// record is stored once, in order, and the journal is trimmed through the last one.
func TestIngest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "akciz.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const eik = "175074752"
	for _, err := range []error{
		s.PutOperator(ctx, store.Operator{EIK: eik, Name: "Нефтена база ЕООД"}),
		s.PutSite(ctx, store.Site{Warehouse: testDevice[:13], Operator: eik, Name: "Склад", State: store.SiteLive}),
		s.PutDevice(ctx, store.Device{ID: testDevice, Name: "ИКУНК"}),
		s.PutCertificate(ctx, store.Certificate{Fingerprint: store.Fingerprint(f.pki.cert.Raw), DER: f.pki.cert.Raw, Operator: eik,
			Subject: f.pki.cert.Subject.String(), NotBefore: f.pki.cert.NotBefore, NotAfter: f.pki.cert.NotAfter}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, _, err := ingest.OpenLog(dir, ingest.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ingest.NewTrust(ctx, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ing, err := ingest.New(ingest.Config{Store: s, Trust: tr, Log: l})
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Close(ctx)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvCert := f.pki.issue(t, srvKey.Public(), "localhost", []string{"localhost"})
	hs := httptest.NewUnstartedServer(ing.Handler())
	hs.TLS = ingest.TLSConfig(tls.Certificate{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey})
	hs.StartTLS()
	defer hs.Close()

	o := f.opts
	o.URL, o.LogKeys = hs.URL, l.Verifiers()
	f.append(230)
	sn := f.sender(o)
	f.drain(sn, 10)

	// A crash between the server's receipt and the trim, once with the batch in flight kept (the server
	// answers 200 with its receipt), once without it (replay, the server's tip, onward).
	for _, stateDir := range []string{o.StateDir, ""} {
		f.append(20)
		oc := o
		oc.StateDir = stateDir
		oc.Journal = &failingTrim{Journal: f.j, fail: true}
		if _, err := f.sender(oc).Step(ctx); err == nil {
			t.Fatal("trim failure not reported")
		}
		oc.Journal = f.j
		f.drain(f.sender(oc), 5)
	}

	// The server goes away: attempts fail and back off; the sender is restarted; the server comes back.
	hs.Close()
	f.append(40)
	if w, _ := sn.Step(ctx); w <= 0 || sn.Status().Link != LinkDown {
		t.Fatalf("outage not seen: wait %v, %+v", w, sn.Status())
	}
	hs2 := httptest.NewUnstartedServer(ing.Handler())
	hs2.TLS = hs.TLS
	hs2.StartTLS()
	defer hs2.Close()
	o.URL = hs2.URL
	f.reopen()
	o.Journal = f.j
	sn = f.sender(o)
	f.drain(sn, 10)

	var prev wire.Hash
	n := 0
	err = s.Records(ctx, testDevice, 1, 1<<40, func(r *store.Row) error {
		n++
		e, err := wire.DecodeRecord(r.Bytes)
		if err != nil {
			return err
		}
		if e.Seq != uint64(n) || e.Prev != prev {
			t.Fatalf("stored record %d: seq %d, chain ok %v", n, e.Seq, e.Prev == prev)
		}
		prev = e.Hash
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 310 || f.j.Stats().Acked != 310 {
		t.Fatalf("stored %d, acked %d; want 310", n, f.j.Stats().Acked)
	}

	// Bit rot in two records not yet sent: the journal is reissued with a records-lost event in their place
	// and the real intake, unchanged, accepts the rest (docs/protocol.md, "Records lost in the agent's
	// journal").
	f.append(20) // 311-330
	f.j.Close()
	seg := filepath.Join(f.dir, "00000000000000000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []string{`{"seq":315,`, `{"seq":316,`} {
		i := bytes.Index(b, []byte(rec))
		if i < 0 {
			t.Fatalf("%s not in the segment", rec)
		}
		b[i+30] ^= 1
	}
	os.WriteFile(seg, b, 0o600)
	j, _, done, err := journal.Reissue(f.dir, journal.Options{Device: testDevice}, Reissuer{Device: testDevice})
	if err != nil || done == nil || done.Err != nil {
		t.Fatalf("reissue: %v %+v", err, done)
	}
	f.j = j
	t.Cleanup(func() { j.Close() })
	o.Journal = j
	f.drain(f.sender(o), 10)
	n, prev = 0, wire.Hash{}
	lost := ""
	err = s.Records(ctx, testDevice, 1, 1<<40, func(r *store.Row) error {
		n++
		e, err := wire.DecodeRecord(r.Bytes)
		if err != nil {
			return err
		}
		if e.Seq != uint64(n) || e.Prev != prev {
			t.Fatalf("stored record %d: seq %d, chain ok %v", n, e.Seq, e.Prev == prev)
		}
		prev = e.Hash
		if ev := e.Record.Event; ev != nil && ev.Kind == core.EventRecordsLost {
			lost += fmt.Sprintf("%d:%s-%s", e.Seq, ev.Previous, ev.Value)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 329 || lost != "315:315-316" {
		t.Fatalf("stored %d records, records-lost %q; want 329 and 315:315-316", n, lost)
	}

	// The real intake refuses a batch dated before the device's previous one. A batch accepted whose
	// receipt a crash lost before last-created was kept, then the clock stepped back an hour: the restart's
	// batch is a replay, the tip's created becomes the floor, and the rest is accepted on the first retry
	// after the back-off (no malformed refusal, no SlowRetry).
	ahead := time.Now().Add(5 * time.Minute) // within the intake's tolerance for a clock ahead
	f.append(5)                              // 330-334
	oc := o
	oc.StateDir, oc.Now = "", func() time.Time { return ahead }
	oc.Journal = &failingTrim{Journal: f.j, fail: true}
	if _, err := f.sender(oc).Step(ctx); err == nil {
		t.Fatal("trim failure not reported")
	}
	f.append(3) // 335-337
	back := ahead.Add(-time.Hour)
	oc = o
	oc.StateDir, oc.Now = t.TempDir(), func() time.Time { return back }
	sn = f.sender(oc)
	var waits []time.Duration
	for js := f.j.Stats(); js.Acked < js.Durable; js = f.j.Stats() {
		if len(waits) == 3 {
			t.Fatalf("not delivered after 3 steps (waits %v): %+v", waits, sn.Status())
		}
		w, err := sn.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	st := sn.Status()
	if len(waits) != 2 || waits[0] > oc.Backoff || waits[1] != 0 || st.Failures != 1 || len(st.Alarms) != 0 ||
		!st.LastCreated.Equal(core.Stamp(ahead)) {
		t.Errorf("after a lost receipt and the clock stepped back: waits %v, status %+v; want one back-off, floor %v",
			waits, st, core.Stamp(ahead))
	}
	if h, err := s.DeviceHead(ctx, testDevice); err != nil || h.Seq != 337 {
		t.Errorf("device head %+v, %v; want 337", h, err)
	}
}
