// Package storetest is the conformance suite of store.Store: every backend's tests call Run (and Reopen),
// so that the backends cannot drift apart in what they promise.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
)

// Run runs the conformance suite; open gives a new, empty, migrated store for each subtest (the suite
// closes it).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Operators", testOperators},
		{"SitesDevicesPoints", testSitesDevicesPoints},
		{"Certificates", testCertificates},
		{"TrustAnchors", testTrustAnchors},
		{"AppendNew", testAppendNew},
		{"AppendDuplicate", testAppendDuplicate},
		{"AppendAltered", testAppendAltered},
		{"AppendReplay", testAppendReplay},
		{"AppendContinuity", testAppendContinuity},
		{"AppendConcurrent", testAppendConcurrent},
		{"AppendAtomic", testAppendAtomic},
		{"AppendInvalid", testAppendInvalid},
		{"Incidents", testIncidents},
		{"TransparencyLog", testTransparencyLog},
		{"Queries", testQueries},
		{"BulkInsert", testBulkInsert},
		{"LastData", testLastData},
		{"Watch", testWatch},
		{"Console", testConsole},
		{"Notices", testNotices},
		{"Submissions", testSubmissions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Reopen checks that what AppendBatch acknowledged is there after the store is closed and opened again,
// and that opening a migrated store again changes nothing. open must open the same database every time.
func Reopen(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := open(t)
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b1 := c.batch(5, t0)
	mustAppend(t, s, b1)
	b2 := c.batch(3, t0.Add(time.Minute))
	mustAppend(t, s, b2)
	if err := s.PutCheckpoint(ctx, store.Checkpoint{Size: 2, Note: []byte("note 2\n")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s = open(t)
		h, err := s.DeviceHead(ctx, c.device)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.Head{Seq: 8, Chain: b2.LastChain, Batch: b2.Digest, Created: b2.Created}); !sameHead(h, want) {
			t.Errorf("head after reopen: %+v, want %+v", h, want)
		}
		if got := countRecords(t, s, c.device); got != 8 {
			t.Errorf("%d records after reopen, want 8", got)
		}
		if n, _ := s.TreeSize(ctx); n != 2 {
			t.Errorf("tree size after reopen %d, want 2", n)
		}
		if cp, err := s.LatestCheckpoint(ctx); err != nil || string(cp.Note) != "note 2\n" {
			t.Errorf("checkpoint after reopen: %+v, %v", cp, err)
		}
		res, err := s.AppendBatch(ctx, b2)
		if err != nil || !res.Duplicate || res.Index != 1 {
			t.Errorf("append again after reopen: %+v, %v; want duplicate at index 1", res, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// eik gives the n-th valid 9-digit EIK from a fixed start.
func eik(t testing.TB, n int) string {
	t.Helper()
	for v := 121000000; v < 122000000; v++ {
		if s := strconv.Itoa(v); core.ValidEIK(s) {
			if n == 0 {
				return s
			}
			n--
		}
	}
	t.Fatal("no valid EIK found")
	return ""
}

type registry struct {
	operator string
	site     string
	devices  []string
	points   []string // points[i] is a point of devices[i]
}

// register creates an operator, a live site and n devices with one control point each.
func register(t *testing.T, s store.Store, n int) registry { return registerN(t, s, n) }

func registerTB(b *testing.B, s store.Store) registry { return registerN(b, s, 1) }

func registerN(t testing.TB, s store.Store, n int) registry {
	t.Helper()
	ctx := context.Background()
	r := registry{operator: eik(t, 0), site: "BGNCA00005001"}
	must(t, s.PutOperator(ctx, store.Operator{EIK: r.operator, Name: "Нефт АД", ExciseNumber: "BGNCA00005"}))
	must(t, s.PutSite(ctx, store.Site{Warehouse: r.site, Operator: r.operator, Name: "Склад Бургас",
		CustomsOffice: "BG002000", State: store.SiteLive}))
	for i := range n {
		d := fmt.Sprintf("%s%03d", r.site, i+1)
		must(t, s.PutDevice(ctx, store.Device{ID: d, Name: "box " + d}))
		p := d + "001"
		must(t, s.PutPoint(ctx, store.Point{ID: p, Name: "island 1"}))
		r.devices, r.points = append(r.devices, d), append(r.points, p)
	}
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// chain makes the records of one device, hash-chained as agents make them. Record bytes are JSON lines
// of the store's own making: the store keeps bytes, it does not read them.
type chain struct {
	device, point string
	seq           int64
	prev          store.Hash
	batchHash     store.Hash
	n             int    // makes successive batches' bytes differ
	salt          string // added to every record's salt (the benchmarks' padding)
}

func newChain(device, point string) *chain { return &chain{device: device, point: point} }

func recordBytes(device, point string, seq int64, prev store.Hash, kind core.RecordKind, tm time.Time, salt string) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"prev":"%s","kind":"%s","time":"%s","device":"%s","point":"%s","salt":%q}`,
		seq, prev, kind, tm.Format("2006-01-02T15:04:05.000Z"), device, point, salt)
}

// batch makes the next n readings, one a second from start, and advances the chain.
func (c *chain) batch(n int, start time.Time) *store.Batch {
	return c.batchOf(n, start, func(int) core.RecordKind { return core.KindReading })
}

func (c *chain) batchOf(n int, start time.Time, kind func(i int) core.RecordKind) *store.Batch {
	c.n++
	b := &store.Batch{Device: c.device, First: c.seq + 1, Last: c.seq + int64(n), PrevChain: c.prev,
		PrevBatch: c.batchHash, Created: start.Add(time.Duration(n) * time.Second), Signature: []byte("sig"),
		Signer: sha256.Sum256([]byte("cert")), Config: fmt.Sprintf("%064x", 7),
		ReceivedAt: start.Add(time.Duration(n+1) * time.Second), Header: fmt.Appendf(nil, `{"format":"akciz-batch","n":%d}`, c.n)}
	prev := c.prev
	for i := range n {
		seq := c.seq + 1 + int64(i)
		tm := start.Add(time.Duration(i) * time.Second)
		k := kind(i)
		point := c.point
		if k == core.KindEvent {
			point = ""
		}
		bs := recordBytes(c.device, point, seq, prev, k, tm, strconv.Itoa(c.n)+c.salt)
		r := store.Row{Device: c.device, Seq: seq, Hash: sha256.Sum256(bs), Kind: k, Time: tm, Point: point, Bytes: bs}
		b.Records = append(b.Records, r)
		prev = r.Hash
	}
	b.LastChain = prev
	b.Digest = sha256.Sum256(fmt.Appendf(nil, "%s %d %d %s %s %s %d", b.Device, b.First, b.Last, b.PrevChain, b.LastChain,
		b.PrevBatch, b.Created.UnixMilli()))
	c.seq, c.prev, c.batchHash = b.Last, b.LastChain, b.Digest
	return b
}

// clone copies b deeply enough to alter a record.
func clone(b *store.Batch) *store.Batch {
	c := *b
	c.Records = append([]store.Row(nil), b.Records...)
	return &c
}

// alter changes record seq of b (and re-chains everything after it, as a forger would).
func alter(b *store.Batch, seq int64) {
	prev := b.PrevChain
	for i := range b.Records {
		r := &b.Records[i]
		if r.Seq == seq {
			r.Bytes = append(append([]byte(nil), r.Bytes[:len(r.Bytes)-1]...), []byte(`,"x":1}`)...)
		} else if r.Seq > seq {
			r.Bytes = recordBytes(r.Device, r.Point, r.Seq, prev, r.Kind, r.Time, "forged")
		}
		r.Hash = sha256.Sum256(r.Bytes)
		prev = r.Hash
	}
	b.LastChain = prev
	b.Digest = sha256.Sum256(append(b.Digest[:], 'x'))
}

func mustAppend(t *testing.T, s store.Store, b *store.Batch) store.Result {
	t.Helper()
	res, err := s.AppendBatch(context.Background(), b)
	if err != nil {
		t.Fatalf("append %s %d..%d: %v", b.Device, b.First, b.Last, err)
	}
	if res.Duplicate {
		t.Fatalf("append %s %d..%d: duplicate, want new", b.Device, b.First, b.Last)
	}
	return res
}

func countRecords(t *testing.T, s store.Store, device string) int {
	t.Helper()
	n := 0
	must(t, s.Records(context.Background(), device, 0, 1<<62, func(*store.Row) error { n++; return nil }))
	return n
}

func wantSeqError(t *testing.T, err, kind error, seq int64) {
	t.Helper()
	var se *store.SeqError
	if !errors.As(err, &se) || !errors.Is(err, kind) || se.Seq != seq {
		t.Fatalf("error %v, want %v at seq %d", err, kind, seq)
	}
}

func testOperators(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := eik(t, 0), eik(t, 1)
	if _, err := s.Operator(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("operator before put: %v, want ErrNotFound", err)
	}
	must(t, s.PutOperator(ctx, store.Operator{EIK: b, Name: "Б"}))
	must(t, s.PutOperator(ctx, store.Operator{EIK: a, Name: "А", ExciseNumber: "X1"}))
	must(t, s.PutOperator(ctx, store.Operator{EIK: a, Name: "А ЕООД", ExciseNumber: "X2"}))
	o, err := s.Operator(ctx, a)
	if err != nil || o != (store.Operator{EIK: a, Name: "А ЕООД", ExciseNumber: "X2"}) {
		t.Fatalf("operator after update: %+v, %v", o, err)
	}
	all, err := s.Operators(ctx)
	if err != nil || len(all) != 2 || all[0].EIK != a || all[1].EIK != b {
		t.Fatalf("operators: %+v, %v", all, err)
	}
	if err := s.PutOperator(ctx, store.Operator{EIK: "123", Name: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad EIK: %v, want ErrInvalid", err)
	}
}

func testSitesDevicesPoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	op, other := eik(t, 0), eik(t, 1)
	site := store.Site{Warehouse: "BGNCA00005001", Operator: op, Name: "Склад", CustomsOffice: "BG002000", State: store.SiteDraft}
	if err := s.PutSite(ctx, site); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("site of unknown operator: %v, want ErrNotFound", err)
	}
	must(t, s.PutOperator(ctx, store.Operator{EIK: op, Name: "A"}))
	must(t, s.PutOperator(ctx, store.Operator{EIK: other, Name: "B"}))
	must(t, s.PutSite(ctx, site))
	must(t, s.PutSite(ctx, store.Site{Warehouse: "BGNCA00007001", Operator: other, Name: "Друг", State: store.SiteLive}))
	for _, st := range []store.SiteState{store.SiteApproved, store.SiteTesting, store.SiteLive, store.SiteSuspended} {
		site.State = st
		must(t, s.PutSite(ctx, site))
		got, err := s.Site(ctx, site.Warehouse)
		if err != nil || got != site {
			t.Fatalf("site: %+v, %v; want %+v", got, err, site)
		}
	}
	site.State = "paused"
	if err := s.PutSite(ctx, site); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unknown state: %v, want ErrInvalid", err)
	}
	sites, err := s.Sites(ctx, op)
	if err != nil || len(sites) != 1 || sites[0].Warehouse != "BGNCA00005001" {
		t.Fatalf("sites of operator: %+v, %v", sites, err)
	}
	if sites, _ := s.Sites(ctx, ""); len(sites) != 2 {
		t.Fatalf("all sites: %d, want 2", len(sites))
	}
	if _, err := s.Site(ctx, "BGNCA00009001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown site: %v", err)
	}

	if err := s.PutDevice(ctx, store.Device{ID: "BGNCA00009001001"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("device of unknown site: %v, want ErrNotFound", err)
	}
	if err := s.PutDevice(ctx, store.Device{ID: "BGNCA0000500101"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad device id: %v, want ErrInvalid", err)
	}
	must(t, s.PutDevice(ctx, store.Device{ID: "BGNCA00005001002", Name: "2"}))
	must(t, s.PutDevice(ctx, store.Device{ID: "BGNCA00005001001", Name: "old"}))
	must(t, s.PutDevice(ctx, store.Device{ID: "BGNCA00005001001", Name: "1"}))
	must(t, s.PutDevice(ctx, store.Device{ID: "BGNCA00007001001", Name: "other"}))
	if d, err := s.Device(ctx, "BGNCA00005001001"); err != nil || d.Name != "1" {
		t.Fatalf("device: %+v, %v", d, err)
	}
	if _, err := s.Device(ctx, "BGNCA00005001003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown device: %v", err)
	}
	for _, tc := range []struct {
		f    store.DeviceFilter
		want []string
	}{
		{store.DeviceFilter{}, []string{"BGNCA00005001001", "BGNCA00005001002", "BGNCA00007001001"}},
		{store.DeviceFilter{Operator: op}, []string{"BGNCA00005001001", "BGNCA00005001002"}},
		{store.DeviceFilter{Operator: other}, []string{"BGNCA00007001001"}},
		{store.DeviceFilter{Site: "BGNCA00007001"}, []string{"BGNCA00007001001"}},
		{store.DeviceFilter{Site: "BGNCA00007001", Operator: op}, nil},
	} {
		ds, err := s.Devices(ctx, tc.f)
		must(t, err)
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("devices %+v: %v, want %v", tc.f, ids, tc.want)
		}
	}

	if err := s.PutPoint(ctx, store.Point{ID: "BGNCA00005001003001"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("point of unknown device: %v, want ErrNotFound", err)
	}
	must(t, s.PutPoint(ctx, store.Point{ID: "BGNCA00005001001002", Name: "2"}))
	must(t, s.PutPoint(ctx, store.Point{ID: "BGNCA00005001001001", Name: "1"}))
	ps, err := s.Points(ctx, "BGNCA00005001001")
	if err != nil || len(ps) != 2 || ps[0] != (store.Point{ID: "BGNCA00005001001001", Name: "1"}) {
		t.Fatalf("points: %+v, %v", ps, err)
	}
	must(t, s.DeletePoint(ctx, "BGNCA00005001001002"))
	if err := s.DeletePoint(ctx, "BGNCA00005001001002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete deleted point: %v", err)
	}
	if ps, _ := s.Points(ctx, "BGNCA00005001001"); len(ps) != 1 {
		t.Fatalf("points after delete: %+v", ps)
	}
}

func testCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := eik(t, 0)
	der := []byte("not really DER, the store keeps bytes")
	c := store.Certificate{Fingerprint: store.Fingerprint(der), DER: der, Operator: op, Subject: "CN=Нефт АД",
		NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0)}
	if err := s.PutCertificate(ctx, c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("certificate of unknown operator: %v", err)
	}
	must(t, s.PutOperator(ctx, store.Operator{EIK: op, Name: "A"}))
	bad := c
	bad.Fingerprint[0] ^= 1
	if err := s.PutCertificate(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	must(t, s.PutCertificate(ctx, c))
	got, err := s.Certificate(ctx, c.Fingerprint)
	if err != nil || got.Operator != op || string(got.DER) != string(der) || !got.NotBefore.Equal(c.NotBefore) ||
		!got.NotAfter.Equal(c.NotAfter) || !got.Revoked.IsZero() || got.Subject != c.Subject {
		t.Fatalf("certificate: %+v, %v", got, err)
	}
	if _, err := s.Certificate(ctx, store.Hash{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown certificate: %v", err)
	}
	at := t0.Add(time.Hour)
	must(t, s.RevokeCertificate(ctx, c.Fingerprint, at))
	if got, _ := s.Certificate(ctx, c.Fingerprint); !got.Revoked.Equal(at) {
		t.Fatalf("revoked at %v, want %v", got.Revoked, at)
	}
	// Registering the certificate again (cert add, the intake learning it) must not cancel its
	// revocation: only RevokeCertificate changes it.
	must(t, s.PutCertificate(ctx, c))
	if got, _ := s.Certificate(ctx, c.Fingerprint); !got.Revoked.Equal(at) {
		t.Fatalf("revoked at %v after registering again, want %v", got.Revoked, at)
	}
	if err := s.RevokeCertificate(ctx, store.Hash{1}, at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	cs, err := s.Certificates(ctx, op)
	if err != nil || len(cs) != 1 {
		t.Fatalf("certificates of operator: %d, %v", len(cs), err)
	}
	if cs, _ := s.Certificates(ctx, eik(t, 1)); len(cs) != 0 {
		t.Fatalf("certificates of another operator: %d", len(cs))
	}
}

func testTrustAnchors(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.TrustAnchor{DER: []byte("root 1"), Name: "B-Trust"}
	a.Fingerprint = store.Fingerprint(a.DER)
	b := store.TrustAnchor{DER: []byte("root 2"), Name: "InfoNotary"}
	b.Fingerprint = store.Fingerprint(b.DER)
	must(t, s.PutTrustAnchor(ctx, a))
	must(t, s.PutTrustAnchor(ctx, b))
	must(t, s.PutTrustAnchor(ctx, a))
	as, err := s.TrustAnchors(ctx)
	if err != nil || len(as) != 2 {
		t.Fatalf("trust anchors: %+v, %v", as, err)
	}
	must(t, s.DeleteTrustAnchor(ctx, a.Fingerprint))
	if err := s.DeleteTrustAnchor(ctx, a.Fingerprint); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	as, _ = s.TrustAnchors(ctx)
	if len(as) != 1 || as[0].Name != "InfoNotary" || string(as[0].DER) != "root 2" {
		t.Fatalf("after delete: %+v", as)
	}
}

func testAppendNew(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 2)
	if h, err := s.DeviceHead(ctx, reg.devices[0]); err != nil || h != (store.Head{}) {
		t.Fatalf("head of a new device: %+v, %v", h, err)
	}
	c := newChain(reg.devices[0], reg.points[0])
	b1 := c.batch(10, t0)
	r1 := mustAppend(t, s, b1)
	if r1.Index != 0 || r1.TreeSize != 1 || r1.Digest != b1.Digest || !r1.Received.Equal(b1.ReceivedAt) {
		t.Errorf("first result: %+v", r1)
	}
	h, err := s.DeviceHead(ctx, c.device)
	if err != nil || !sameHead(h, store.Head{Seq: 10, Chain: b1.LastChain, Batch: b1.Digest, Created: b1.Created}) {
		t.Fatalf("head: %+v, %v", h, err)
	}
	c2 := newChain(reg.devices[1], reg.points[1])
	if r := mustAppend(t, s, c2.batch(1, t0)); r.Index != 1 || r.TreeSize != 2 {
		t.Errorf("second device's result: %+v", r)
	}
	b2 := c.batch(5, t0.Add(time.Minute))
	if r := mustAppend(t, s, b2); r.Index != 2 {
		t.Errorf("third result: %+v", r)
	}
	var got []store.Row
	must(t, s.Records(ctx, c.device, 1, 100, func(r *store.Row) error { got = append(got, *r); return nil }))
	want := append(append([]store.Row(nil), b1.Records...), b2.Records...)
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Device != w.Device || g.Seq != w.Seq || g.Hash != w.Hash || g.Kind != w.Kind || !g.Time.Equal(w.Time) ||
			g.Point != w.Point || g.Test != w.Test || string(g.Bytes) != string(w.Bytes) {
			t.Fatalf("record %d: %+v, want %+v", i, g, w)
		}
	}
	sb, err := s.BatchAt(ctx, c.device, 11)
	if err != nil || sb.Last != 15 || sb.Digest != b2.Digest || sb.PrevBatch != b1.Digest || sb.PrevChain != b1.LastChain ||
		sb.LastChain != b2.LastChain || sb.Index != 2 || string(sb.Signature) != "sig" || sb.Signer != b2.Signer ||
		sb.Config != b2.Config || !sb.Created.Equal(b2.Created) || !sb.ReceivedAt.Equal(b2.ReceivedAt) ||
		string(sb.Header) != string(b2.Header) {
		t.Fatalf("stored batch: %+v, %v", sb, err)
	}
	if _, err := s.BatchAt(ctx, c.device, 12); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("batch at 12: %v", err)
	}
}

func testAppendDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b1, b2 := c.batch(4, t0), c.batch(4, t0.Add(time.Minute))
	mustAppend(t, s, b1)
	mustAppend(t, s, b2)
	for _, b := range []*store.Batch{b1, b2, b1} {
		res, err := s.AppendBatch(ctx, b)
		if err != nil || !res.Duplicate || res.Digest != b.Digest || res.Index != b.First/4 || res.TreeSize != 2 {
			t.Fatalf("again %d..%d: %+v, %v; want duplicate", b.First, b.Last, res, err)
		}
	}
	// The same records signed again (another digest) are still a duplicate; the result names the
	// stored batch's digest.
	again := clone(b2)
	again.Digest[0] ^= 0xff
	res, err := s.AppendBatch(ctx, again)
	if err != nil || !res.Duplicate || res.Digest != b2.Digest {
		t.Fatalf("re-signed batch: %+v, %v; want duplicate of the stored one", res, err)
	}
	if n := countRecords(t, s, c.device); n != 8 {
		t.Fatalf("%d records, want 8", n)
	}
	if n, _ := s.TreeSize(ctx); n != 2 {
		t.Fatalf("tree size %d, want 2", n)
	}
	if h, _ := s.DeviceHead(ctx, c.device); h.Seq != 8 || h.Batch != b2.Digest {
		t.Fatalf("head moved: %+v", h)
	}
}

func testAppendAltered(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b1 := c.batch(10, t0)
	mustAppend(t, s, b1)
	for _, seq := range []int64{1, 7, 10} {
		b := clone(b1)
		alter(b, seq)
		_, err := s.AppendBatch(ctx, b)
		wantSeqError(t, err, store.ErrAltered, seq)
	}
	// Overlapping the head and going beyond it, with a changed record in the overlap.
	c2 := *c
	c2.seq, c2.prev, c2.batchHash = 5, b1.Records[4].Hash, b1.Digest
	b := c2.batch(10, t0) // seq 6..15, whose bytes differ from the stored 6..10 (another salt)
	_, err := s.AppendBatch(ctx, b)
	wantSeqError(t, err, store.ErrAltered, 6)
	if n := countRecords(t, s, c.device); n != 10 {
		t.Fatalf("%d records, want 10", n)
	}
}

func testAppendReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b1, b2 := c.batch(5, t0), c.batch(5, t0.Add(time.Minute))
	mustAppend(t, s, b1)
	mustAppend(t, s, b2)
	// The same records in other ranges: stored, identical, but not as these batches.
	joined := clone(b1)
	joined.Records = append(joined.Records, b2.Records...)
	joined.Last, joined.LastChain = 10, b2.LastChain
	_, err := s.AppendBatch(ctx, joined)
	wantSeqError(t, err, store.ErrReplay, 1)
	part := clone(b2)
	part.Records = part.Records[2:]
	part.First, part.PrevChain = 8, b2.Records[1].Hash
	_, err = s.AppendBatch(ctx, part)
	wantSeqError(t, err, store.ErrReplay, 8)
	// Identical overlap that goes on past the head.
	ext := clone(b2)
	more := c.batch(2, t0.Add(2*time.Minute))
	ext.Records = append(ext.Records, more.Records...)
	ext.Last, ext.LastChain = more.Last, more.LastChain
	_, err = s.AppendBatch(ctx, ext)
	wantSeqError(t, err, store.ErrReplay, 6)
	if n := countRecords(t, s, c.device); n != 10 {
		t.Fatalf("%d records, want 10", n)
	}
}

func testAppendContinuity(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b1 := c.batch(3, t0)
	mustAppend(t, s, b1)
	skipped := c.batch(2, t0.Add(time.Minute))
	gap := c.batch(2, t0.Add(2*time.Minute))
	if _, err := s.AppendBatch(ctx, gap); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("gap: %v, want ErrConflict", err)
	}
	wrongChain := clone(skipped)
	wrongChain.PrevChain[0] ^= 1
	if _, err := s.AppendBatch(ctx, wrongChain); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("wrong prevChain: %v, want ErrConflict", err)
	}
	wrongBatch := clone(skipped)
	wrongBatch.PrevBatch = store.Hash{}
	if _, err := s.AppendBatch(ctx, wrongBatch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("wrong prevBatch: %v, want ErrConflict", err)
	}
	if h, _ := s.DeviceHead(ctx, c.device); h.Seq != 3 {
		t.Fatalf("head moved to %d", h.Seq)
	}
	mustAppend(t, s, skipped)
	mustAppend(t, s, gap)
	if h, _ := s.DeviceHead(ctx, c.device); !sameHead(h, store.Head{Seq: 7, Chain: gap.LastChain, Batch: gap.Digest, Created: gap.Created}) {
		t.Fatalf("head: %+v", h)
	}
}

func testAppendConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 3)
	// Rival batches continuing one head: exactly one wins; the others are told how they lost.
	const n = 6
	base := newChain(reg.devices[0], reg.points[0])
	mustAppend(t, s, base.batch(2, t0))
	rivals := make([]*store.Batch, n)
	for i := range rivals {
		c := *base
		c.n = 100 + i
		rivals[i] = c.batch(20, t0.Add(time.Minute))
	}
	// And identical batches for another device: one new, the rest duplicates.
	same := newChain(reg.devices[1], reg.points[1]).batch(20, t0)
	// And a third device's sequence of batches appended at the same time.
	third := newChain(reg.devices[2], reg.points[2])
	var thirds []*store.Batch
	for range n {
		thirds = append(thirds, third.batch(5, t0))
	}
	var wg sync.WaitGroup
	rivalErrs := make([]error, n)
	sameRes := make([]store.Result, n)
	sameErrs := make([]error, n)
	thirdErr := make(chan error, 1)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, rivalErrs[i] = s.AppendBatch(ctx, rivals[i])
		}()
		go func() {
			defer wg.Done()
			sameRes[i], sameErrs[i] = s.AppendBatch(ctx, same)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, b := range thirds {
			if _, err := s.AppendBatch(ctx, b); err != nil {
				thirdErr <- err
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-thirdErr:
		t.Fatalf("third device: %v", err)
	default:
	}
	winner := -1
	for i, err := range rivalErrs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("rivals %d and %d both won", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrAltered) || errors.Is(err, store.ErrConflict):
		default:
			t.Fatalf("rival %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rival won")
	}
	if h, _ := s.DeviceHead(ctx, base.device); h.Batch != rivals[winner].Digest || h.Seq != 22 {
		t.Fatalf("head %+v is not the winner's", h)
	}
	fresh := 0
	for i := range n {
		if sameErrs[i] != nil {
			t.Fatalf("identical batch %d: %v", i, sameErrs[i])
		}
		if !sameRes[i].Duplicate {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d identical batches stored as new, want 1", fresh)
	}
	if got := countRecords(t, s, base.device) + countRecords(t, s, same.Device) + countRecords(t, s, third.device); got != 22+20+5*n {
		t.Fatalf("%d records, want %d", got, 22+20+5*n)
	}
	if size, _ := s.TreeSize(ctx); size != 1+1+1+n {
		t.Fatalf("tree size %d, want %d", size, 3+n)
	}
	checkTree(t, s)
}

func testAppendAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b1 := c.batch(3, t0)
	mustAppend(t, s, b1)
	b2 := c.batch(10, t0.Add(time.Minute))
	// A record already in the table past the head makes the insert fail midway.
	must(t, s.BulkInsertRecords(ctx, b2.Records[7:8]))
	if _, err := s.AppendBatch(ctx, b2); err == nil {
		t.Fatal("append over a stored record: no error")
	}
	if h, _ := s.DeviceHead(ctx, c.device); h.Seq != 3 {
		t.Fatalf("head moved to %d", h.Seq)
	}
	if n := countRecords(t, s, c.device); n != 4 {
		t.Fatalf("%d records after a failed append, want 3 + the 1 bulk-inserted", n)
	}
	if n, _ := s.TreeSize(ctx); n != 1 {
		t.Fatalf("tree size %d after a failed append, want 1", n)
	}
	if _, err := s.BatchAt(ctx, c.device, 4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("batch of a failed append: %v", err)
	}
	// A device that is not registered.
	if _, err := s.AppendBatch(ctx, newChain("BGNCA00005001009", "").batch(2, t0)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unregistered device: %v, want ErrNotFound", err)
	}
	// A cancelled context stores nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	b3 := clone(b2)
	b3.Records, b3.Last, b3.LastChain = b3.Records[:7], 10, b2.Records[6].Hash
	if _, err := s.AppendBatch(cctx, b3); err == nil {
		t.Fatal("append with a cancelled context: no error")
	}
	mustAppend(t, s, b3)
	checkTree(t, s)
}

func testAppendInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b := c.batch(3, t0)
	for name, change := range map[string]func(b *store.Batch){
		"hash":      func(b *store.Batch) { b.Records[1].Hash[0] ^= 1 },
		"count":     func(b *store.Batch) { b.Last = 4 },
		"seq":       func(b *store.Batch) { b.Records[1].Seq = 5 },
		"device":    func(b *store.Batch) { b.Records[0].Device = "BGNCA00005001002" },
		"lastChain": func(b *store.Batch) { b.LastChain = store.Hash{} },
		"first":     func(b *store.Batch) { b.First = 0 },
	} {
		bb := clone(b)
		change(bb)
		if _, err := s.AppendBatch(ctx, bb); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if n := countRecords(t, s, c.device); n != 0 {
		t.Fatalf("%d records stored from invalid batches", n)
	}
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := context.Background()
	d1, d2 := "BGNCA00005001001", "BGNCA00005001002"
	in := []store.Incident{
		{Kind: store.IncidentGap, Device: d1, First: 11, Last: 11, Detail: "first missing 11", Time: t0},
		{Kind: store.IncidentAltered, Device: d2, First: 5, Last: 5, Detail: "record 5", Time: t0.Add(time.Minute)},
		{Kind: store.IncidentUnknownCertificate, Detail: "CN=x", Time: t0.Add(2 * time.Minute)},
		{Kind: store.IncidentReplay, Device: d1, First: 1, Last: 10, Time: t0.Add(3 * time.Minute)},
	}
	ids := map[int64]bool{}
	for _, x := range in {
		id, err := s.AddIncident(ctx, x)
		must(t, err)
		if ids[id] {
			t.Fatalf("id %d given twice", id)
		}
		ids[id] = true
	}
	if _, err := s.AddIncident(ctx, store.Incident{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("incident without kind: %v", err)
	}
	for _, tc := range []struct {
		f    store.IncidentFilter
		want []int
	}{
		{store.IncidentFilter{}, []int{0, 1, 2, 3}},
		{store.IncidentFilter{Device: d1}, []int{0, 3}},
		{store.IncidentFilter{Kind: store.IncidentAltered}, []int{1}},
		{store.IncidentFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []int{1, 2}},
		{store.IncidentFilter{Limit: 2}, []int{0, 1}},
		{store.IncidentFilter{Device: d1, Since: t0.Add(time.Second)}, []int{3}},
	} {
		got, err := s.Incidents(ctx, tc.f)
		must(t, err)
		if len(got) != len(tc.want) {
			t.Errorf("incidents %+v: %d, want %d", tc.f, len(got), len(tc.want))
			continue
		}
		for i, w := range tc.want {
			g, x := got[i], in[w]
			if g.Kind != x.Kind || g.Device != x.Device || g.First != x.First || g.Last != x.Last || g.Detail != x.Detail ||
				!g.Time.Equal(x.Time) || !ids[g.ID] {
				t.Errorf("incidents %+v [%d]: %+v, want %+v", tc.f, i, g, x)
			}
		}
	}
}

// checkTree recomputes the log from the stored batches' digests in leaf order and compares the root.
func checkTree(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	size, err := s.TreeSize(ctx)
	must(t, err)
	leaves := make([]store.Hash, size)
	devices, err := s.Devices(ctx, store.DeviceFilter{})
	must(t, err)
	for _, d := range devices {
		h, err := s.DeviceHead(ctx, d.ID)
		must(t, err)
		for first := int64(1); first <= h.Seq; {
			sb, err := s.BatchAt(ctx, d.ID, first)
			must(t, err)
			leaves[sb.Index] = sb.Digest
			first = sb.Last + 1
		}
	}
	mem := memoryLog(t, leaves)
	want, err := tlog.TreeHash(size, mem)
	must(t, err)
	got, err := tlog.TreeHash(size, store.HashReader(ctx, s))
	must(t, err)
	if got != want {
		t.Fatalf("tree hash %v, want %v", got, want)
	}
}

// memoryLog builds the stored hashes of leaves in memory, as tlog's own tests do.
func memoryLog(t *testing.T, leaves []store.Hash) tlog.HashReaderFunc {
	t.Helper()
	var hs []tlog.Hash
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = hs[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		more, err := tlog.StoredHashes(int64(i), l[:], r)
		must(t, err)
		hs = append(hs, more...)
	}
	return r
}

func testTransparencyLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n, err := s.TreeSize(ctx); err != nil || n != 0 {
		t.Fatalf("empty tree: %d, %v", n, err)
	}
	if _, err := s.LatestCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("checkpoint of an empty log: %v", err)
	}
	reg := register(t, s, 3)
	var chains []*chain
	for i := range reg.devices {
		chains = append(chains, newChain(reg.devices[i], reg.points[i]))
	}
	var leaves []store.Hash
	for i := range 37 {
		b := chains[i%3].batch(1+i%4, t0.Add(time.Duration(i)*time.Minute))
		r := mustAppend(t, s, b)
		if r.Index != int64(i) {
			t.Fatalf("batch %d at index %d", i, r.Index)
		}
		leaves = append(leaves, b.Digest)
		if i == 12 {
			must(t, s.PutCheckpoint(ctx, store.Checkpoint{Size: 13, Note: []byte("checkpoint 13\n")}))
		}
	}
	mem := memoryLog(t, leaves)
	hr := store.HashReader(ctx, s)
	for _, size := range []int64{1, 2, 13, 32, 37} {
		want, err := tlog.TreeHash(size, mem)
		must(t, err)
		got, err := tlog.TreeHash(size, hr)
		must(t, err)
		if got != want {
			t.Fatalf("tree hash at %d: %v, want %v", size, got, want)
		}
	}
	root, err := tlog.TreeHash(37, hr)
	must(t, err)
	for _, i := range []int64{0, 12, 36} {
		p, err := tlog.ProveRecord(37, i, hr)
		must(t, err)
		if err := tlog.CheckRecord(p, 37, root, i, tlog.RecordHash(leaves[i][:])); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	old, err := tlog.TreeHash(13, hr)
	must(t, err)
	p, err := tlog.ProveTree(37, 13, hr)
	must(t, err)
	must(t, tlog.CheckTree(p, 37, root, 13, old))
	if _, err := s.ReadHashes(ctx, []int64{1 << 40}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("hash past the log: %v", err)
	}
	many := make([]int64, 1200)
	for i := range many {
		many[i] = int64(i % 70)
	}
	hs, err := s.ReadHashes(ctx, many)
	must(t, err)
	if len(hs) != len(many) || hs[0] != tlog.RecordHash(leaves[0][:]) {
		t.Fatalf("many hashes: %d, first %v", len(hs), hs[0])
	}

	if cp, err := s.LatestCheckpoint(ctx); err != nil || cp.Size != 13 || string(cp.Note) != "checkpoint 13\n" {
		t.Fatalf("latest checkpoint: %+v, %v", cp, err)
	}
	must(t, s.PutCheckpoint(ctx, store.Checkpoint{Size: 37, Note: []byte("checkpoint 37\n")}))
	if cp, _ := s.LatestCheckpoint(ctx); cp.Size != 37 || string(cp.Note) != "checkpoint 37\n" {
		t.Fatalf("latest checkpoint: %+v", cp)
	}
	if err := s.PutCheckpoint(ctx, store.Checkpoint{Size: 38, Note: []byte("future\n")}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("checkpoint past the log: %v", err)
	}
}

func testQueries(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 2)
	c := newChain(reg.devices[0], reg.points[0])
	// 60 records a second apart: every 10th a transaction, every 15th an event of the box.
	kind := func(i int) core.RecordKind {
		switch {
		case i%15 == 14:
			return core.KindEvent
		case i%10 == 9:
			return core.KindTransaction
		}
		return core.KindReading
	}
	var all []store.Row
	for i := range 3 {
		b := c.batchOf(20, t0.Add(time.Duration(20*i)*time.Second), func(j int) core.RecordKind { return kind(20*i + j) })
		mustAppend(t, s, b)
		all = append(all, b.Records...)
	}
	other := newChain(reg.devices[1], reg.points[1])
	mustAppend(t, s, other.batch(30, t0))

	want := func(point string, k core.RecordKind, from, to time.Time) []int64 {
		var seqs []int64
		for _, r := range all {
			if r.Point == point && r.Kind == k && !r.Time.Before(from) && (to.IsZero() || r.Time.Before(to)) {
				seqs = append(seqs, r.Seq)
			}
		}
		return seqs
	}
	for _, tc := range []struct {
		point    string
		kind     core.RecordKind
		from, to time.Time
	}{
		{c.point, core.KindReading, t0, t0.Add(time.Minute)},
		{c.point, core.KindReading, t0.Add(10 * time.Second), t0.Add(25 * time.Second)},
		{c.point, core.KindTransaction, t0, time.Time{}},
		{c.point, core.KindTransaction, t0.Add(19 * time.Second), t0.Add(39 * time.Second)},
		{"", core.KindEvent, t0, time.Time{}},
		{"", core.KindEvent, t0.Add(15 * time.Second), t0.Add(44 * time.Second)},
		{c.point, core.KindEvent, t0, time.Time{}},
	} {
		var got []int64
		var last time.Time
		err := s.PointRecords(ctx, store.RecordQuery{Device: c.device, Point: tc.point, Kind: tc.kind, From: tc.from, To: tc.to},
			func(r *store.Row) error {
				if r.Time.Before(last) {
					t.Errorf("out of time order at seq %d", r.Seq)
				}
				last = r.Time
				got = append(got, r.Seq)
				return nil
			})
		must(t, err)
		if w := want(tc.point, tc.kind, tc.from, tc.to); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%q %s [%v, %v): %v, want %v", tc.point, tc.kind, tc.from, tc.to, got, w)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := s.PointRecords(ctx, store.RecordQuery{Device: c.device, Point: c.point, Kind: core.KindReading, From: t0},
		func(*store.Row) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("callback error: %v after %d rows", err, n)
	}
	if err := s.PointRecords(ctx, store.RecordQuery{Device: c.device, Point: "BGNCA00005001002001", Kind: core.KindReading},
		func(*store.Row) error { return nil }); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("another device's point: %v", err)
	}

	for _, tc := range []struct {
		point string
		kind  core.RecordKind
		seq   int64
	}{
		{c.point, core.KindReading, 59},
		{c.point, core.KindTransaction, 50},
		{"", core.KindEvent, 60},
	} {
		r, err := s.Latest(ctx, c.device, tc.point, tc.kind)
		if err != nil || r.Seq != tc.seq {
			t.Errorf("latest %q %s: seq %d, %v; want %d", tc.point, tc.kind, r.Seq, err, tc.seq)
		}
	}
	if _, err := s.Latest(ctx, other.device, "", core.KindEvent); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("latest of nothing: %v", err)
	}

	var seqs []int64
	must(t, s.Records(ctx, c.device, 18, 23, func(r *store.Row) error { seqs = append(seqs, r.Seq); return nil }))
	if fmt.Sprint(seqs) != "[18 19 20 21 22 23]" {
		t.Fatalf("records 18..23: %v", seqs)
	}
}

func testBulkInsert(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 1)
	c := newChain(reg.devices[0], reg.points[0])
	b := c.batch(500, t0)
	b.Records[3].Test = true
	must(t, s.BulkInsertRecords(ctx, b.Records))
	var got []store.Row
	must(t, s.Records(ctx, c.device, 1, 500, func(r *store.Row) error { got = append(got, *r); return nil }))
	if len(got) != 500 || string(got[499].Bytes) != string(b.Records[499].Bytes) || !got[3].Test || got[4].Test {
		t.Fatalf("bulk inserted rows read back wrong (%d rows)", len(got))
	}
	if err := s.BulkInsertRecords(ctx, b.Records[10:11]); err == nil {
		t.Fatal("bulk insert of a stored record: no error")
	}
	if n := countRecords(t, s, c.device); n != 500 {
		t.Fatalf("%d records, want 500", n)
	}
}

// Chain makes hash-chained batches of readings of one device and point, as an agent does, for tests
// outside this package (e.g. a crash test's child process).
type Chain struct{ c *chain }

// NewChain starts a device's chain at seq 1.
func NewChain(device, point string) *Chain { return &Chain{newChain(device, point)} }

// Batch gives the next n records, one a second from start, as a batch continuing the previous one.
func (c *Chain) Batch(n int, start time.Time) *store.Batch { return c.c.batch(n, start) }

// CheckLog checks the transparency log against the stored batches: it recomputes the tree of their
// digests in leaf order in memory and compares the tree hash with the one s's stored hashes give.
func CheckLog(t *testing.T, s store.Store) { checkTree(t, s) }

// sameHead compares heads with their Created times to the millisecond the store keeps.
func sameHead(h, want store.Head) bool {
	return h.Seq == want.Seq && h.Chain == want.Chain && h.Batch == want.Batch &&
		h.Created.UnixMilli() == want.Created.UnixMilli() && h.Created.IsZero() == want.Created.IsZero()
}
