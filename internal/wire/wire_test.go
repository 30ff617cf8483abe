package wire

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestRecordRoundTrip(t *testing.T) {
	prev := ZeroHash
	for i := 0; i < 6; i++ {
		r := sampleRecord(i)
		b, err := EncodeRecord(uint64(i+1), prev, r)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(b, "\n\r") {
			t.Fatalf("record %d has a line break: %s", i, b)
		}
		e, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, b)
		}
		if e.Seq != uint64(i+1) || e.Prev != prev || e.Hash != ChainHash(b) || !bytes.Equal(e.Raw, b) {
			t.Errorf("record %d: seq %d prev %s hash %s", i, e.Seq, e.Prev, e.Hash)
		}
		if !reflect.DeepEqual(&e.Record, r) {
			t.Errorf("record %d (%s) changed in the round trip:\n got %+v\nwant %+v", i, r.Kind, e.Record, *r)
		}
		prev = e.Hash
	}
}

func TestEncodeRecordRefuses(t *testing.T) {
	good := sampleRecord(0)
	cases := map[string]func(r *core.Record){
		"local time":      func(r *core.Record) { r.Time = r.Time.In(time.FixedZone("EET", 7200)) },
		"microseconds":    func(r *core.Record) { r.Time = r.Time.Add(time.Microsecond) },
		"bad device":      func(r *core.Record) { r.Device = "BGNCA00005001" },
		"foreign point":   func(r *core.Record) { r.Point = "BGNCA00005001002001" },
		"float exponent":  func(r *core.Record) { r.Reading.Values[0].Value = "1e6" },
		"leading zero":    func(r *core.Record) { r.Reading.Values[0].Value = "01.5" },
		"two payloads":    func(r *core.Record) { r.Event = &core.Event{Kind: core.EventDoorOpened} },
		"kind mismatch":   func(r *core.Record) { r.Kind = core.KindEvent },
		"no values":       func(r *core.Record) { r.Reading.Values = nil },
		"short config":    func(r *core.Record) { r.Config = "abc" },
		"unknown role":    func(r *core.Record) { r.Reading.Values[0].Role = "speed" },
		"unknown kind":    func(r *core.Record) { r.Kind = "photo" },
		"reading x point": func(r *core.Record) { r.Point = "" },
	}
	for name, f := range cases {
		r := *good
		rd := *good.Reading
		rd.Values = append([]core.Value(nil), good.Reading.Values...)
		r.Reading = &rd
		f(&r)
		if _, err := EncodeRecord(1, ZeroHash, &r); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	if _, err := EncodeRecord(0, ZeroHash, good); err == nil {
		t.Error("seq 0 encoded")
	}
	if _, err := EncodeRecord(1, Hash{1}, good); err == nil {
		t.Error("seq 1 with a non-zero prev encoded")
	}
}

// Every other spelling of the same JSON is refused: one record has one encoding.
func TestDecodeRecordCanonical(t *testing.T) {
	b, err := EncodeRecord(1, ZeroHash, sampleRecord(2))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	variants := map[string]string{
		"space":            strings.Replace(s, `"seq":1`, `"seq": 1`, 1),
		"member order":     `{"prev":"` + strings.Repeat("0", 64) + `","seq":1` + s[strings.Index(s, `,"kind"`):],
		"duplicate member": strings.Replace(s, `"kind":"event"`, `"kind":"event","kind":"event"`, 1),
		"unknown member":   strings.Replace(s, `"kind":"event"`, `"kind":"event","extra":1`, 1),
		"escaped letter":   strings.Replace(s, `"kind":"event"`, `"kind":"\u0065vent"`, 1),
		"upper-case name":  strings.Replace(s, `"kind"`, `"Kind"`, 1),
		"trailing data":    s + ` {}`,
		"empty member":     strings.Replace(s, `"kind":"event"`, `"kind":"event","point":""`, 1),
	}
	for name, v := range variants {
		if v == s {
			t.Fatalf("%s: variant equals the original", name)
		}
		_, err := DecodeRecord([]byte(v))
		var we *Error
		if !errors.As(err, &we) || we.Code != CodeMalformed {
			t.Errorf("%s: got %v, want a malformed error", name, err)
		}
	}
}

// The golden files fix the bytes of records and of the digest: a change of the format shows up here.
func TestGolden(t *testing.T) {
	records, _ := chain(t, 1, ZeroHash, 3)
	h, err := NewBatch(testDevice, ZeroHash, t0.Add(time.Hour), records)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, r := range records {
		got.Write(r)
		got.WriteByte('\n')
	}
	got.WriteString("--- digest text\n")
	got.Write(h.DigestText())
	got.WriteString("--- digest\n" + h.Digest().String() + "\n")
	path := filepath.Join("testdata", "batch.golden")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("the wire format changed; if on purpose, bump Version, update docs/protocol.md and run go test -update\n got:\n%s\nwant:\n%s", got.Bytes(), want)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	p := newPKI(t, "Test CA")
	for _, kt := range []struct {
		name string
		key  func(testing.TB) any
		alg  string
	}{{"ecdsa", func(t testing.TB) any { return ecKey(t) }, AlgP256}, {"rsa", func(t testing.TB) any { return rsaKey(t) }, AlgRSA}} {
		t.Run(kt.name, func(t *testing.T) {
			key := kt.key(t).(crypto.Signer)
			cert := p.issue(t, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
			records, last := chain(t, 1, ZeroHash, 7)
			file, h := signedBatch(t, key, cert, ZeroHash, records)
			if h.Alg != kt.alg {
				t.Errorf("alg %s, want %s", h.Alg, kt.alg)
			}
			var got [][]byte
			dh, err := DecodeBatch(bytes.NewReader(file), DecodeOptions{Verify: &VerifyOptions{Roots: p.roots, Operator: testEIK, Cert: cert}},
				func(e *Entry) error { got = append(got, bytes.Clone(e.Raw)); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, records) {
				t.Error("records changed in the round trip")
			}
			if dh.Digest() != h.Digest() || dh.LastChain != last || dh.Count != 7 || dh.First != 1 || dh.Last != 7 {
				t.Errorf("header %+v", dh)
			}
		})
	}
}

// gz compresses lines into a batch file, for tampering.
func gz(lines ...[]byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	for _, l := range lines {
		w.Write(l)
		w.Write([]byte{'\n'})
	}
	w.Close()
	return buf.Bytes()
}

func headerLine(t testing.TB, h *Header) []byte {
	b, err := marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantCode(t *testing.T, name string, err error, code Code, seq uint64) {
	t.Helper()
	var we *Error
	if !errors.As(err, &we) {
		t.Errorf("%s: got %v, want %s at seq %d", name, err, code, seq)
		return
	}
	if we.Code != code || we.Seq != seq {
		t.Errorf("%s: got %s at seq %d (%v), want %s at seq %d", name, we.Code, we.Seq, err, code, seq)
	}
	// Every failure reads in both languages without a missing key.
	for _, l := range i18n.Langs {
		if s := i18n.For(l).Msg(we.Msg); strings.HasPrefix(s, "wire.") || strings.Contains(s, "%!") {
			t.Errorf("%s: message %q in %s", name, s, l)
		}
	}
}

func TestTamper(t *testing.T) {
	p := newPKI(t, "Test CA")
	key := ecKey(t)
	cert := p.issue(t, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	// A batch of seq 1–10.
	records, _ := chain(t, 1, ZeroHash, 10)
	_, h := signedBatch(t, key, cert, ZeroHash, records)
	hl := headerLine(t, h)
	opts := DecodeOptions{Verify: &VerifyOptions{Roots: p.roots, Operator: testEIK}}
	decode := func(file []byte) error {
		_, err := DecodeBatch(bytes.NewReader(file), opts, nil)
		return err
	}
	with := func(f func(rs [][]byte) [][]byte) []byte {
		rs := make([][]byte, len(records))
		for i := range records {
			rs[i] = bytes.Clone(records[i])
		}
		return gz(append([][]byte{hl}, f(rs)...)...)
	}
	if err := decode(with(func(rs [][]byte) [][]byte { return rs })); err != nil {
		t.Fatalf("untouched batch: %v", err)
	}

	// One digit of a totalizer in record 4 (a reading).
	altered := with(func(rs [][]byte) [][]byte {
		i := bytes.Index(rs[3], []byte(`1234567.`))
		rs[3][i] = '9'
		return rs
	})
	wantCode(t, "altered value", decode(altered), CodeAltered, 4)
	wantCode(t, "altered last record", decode(with(func(rs [][]byte) [][]byte {
		i := bytes.Index(rs[9], []byte(`"2026-`))
		rs[9][i+4] = '7'
		return rs
	})), CodeAltered, 10)
	wantCode(t, "broken JSON", decode(with(func(rs [][]byte) [][]byte { rs[5][0] = '['; return rs })), CodeMalformed, 6)
	wantCode(t, "dropped record", decode(with(func(rs [][]byte) [][]byte { return append(rs[:4:4], rs[5:]...) })), CodeGap, 5)
	wantCode(t, "dropped records", decode(with(func(rs [][]byte) [][]byte { return append(rs[:4:4], rs[7:]...) })), CodeGap, 5)
	wantCode(t, "dropped tail", decode(with(func(rs [][]byte) [][]byte { return rs[:8] })), CodeGap, 9)
	wantCode(t, "reordered", decode(with(func(rs [][]byte) [][]byte { rs[2], rs[3] = rs[3], rs[2]; return rs })), CodeReorder, 3)
	wantCode(t, "repeated record", decode(with(func(rs [][]byte) [][]byte { return append(rs[:5:5], rs[4:9]...) })), CodeReplay, 5)
	wantCode(t, "extra record", decode(with(func(rs [][]byte) [][]byte { return append(rs, rs[9]) })), CodeAltered, 11)

	// The header.
	reh := func(f func(h *Header)) []byte {
		h2 := *h
		f(&h2)
		return gz(append([][]byte{headerLine(t, &h2)}, records...)...)
	}
	wantCode(t, "count", decode(reh(func(h *Header) { h.Count = 9 })), CodeMalformed, 1)
	wantCode(t, "count and last", decode(reh(func(h *Header) { h.Count, h.Last = 9, 9 })), CodeBadSignature, 0)
	wantCode(t, "created", decode(reh(func(h *Header) { h.Created = h.Created.Add(time.Second) })), CodeBadSignature, 0)
	wantCode(t, "version", decode(reh(func(h *Header) { h.Version = 2 })), CodeUnsupportedVersion, 0)
	other := ecKey(t)
	otherCert := p.issue(t, other, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	wantCode(t, "swapped certificate", decode(reh(func(h *Header) { h.Certs = [][]byte{otherCert.Raw} })), CodeBadSignature, 0)
	rsaCert := p.issue(t, rsaKey(t), testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	wantCode(t, "swapped key type", decode(reh(func(h *Header) { h.Certs = [][]byte{rsaCert.Raw} })), CodeBadSignature, 0)

	// Re-signed batches with bad certificates.
	resign := func(key crypto.Signer, c *x509.Certificate, f func(h *Header)) []byte {
		h2 := *h
		if f != nil {
			f(&h2)
		}
		if err := h2.Sign(key, []*x509.Certificate{c}); err != nil {
			t.Fatal(err)
		}
		return gz(append([][]byte{headerLine(t, &h2)}, records...)...)
	}
	expired := p.issue(t, key, testEIK, t0.AddDate(-2, 0, 0), t0.AddDate(-1, 0, 0))
	wantCode(t, "expired certificate", decode(resign(key, expired, nil)), CodeExpiredCertificate, 0)
	notYet := p.issue(t, key, testEIK, t0.AddDate(0, 1, 0), t0.AddDate(1, 0, 0))
	wantCode(t, "not yet valid certificate", decode(resign(key, notYet, nil)), CodeExpiredCertificate, 0)
	rogue := newPKI(t, "Rogue CA")
	wantCode(t, "wrong CA", decode(resign(key, rogue.issue(t, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0)), nil)), CodeUnknownCertificate, 0)
	wantCode(t, "other operator", decode(resign(key, p.issue(t, key, "831902088", t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0)), nil)), CodeWrongOperator, 0)
	opts.Verify.Cert = otherCert
	wantCode(t, "not the officer's certificate", decode(resign(key, cert, nil)), CodeUnknownCertificate, 0)
	opts.Verify.Cert = nil

	// A re-signed header whose chain does not match the records.
	wantCode(t, "header range", decode(resign(key, cert, func(h *Header) { h.First, h.Last, h.PrevChain = 2, 11, Hash{9} })), CodeReplay, 1)
	tail, err := NewBatch(testDevice, Hash{1}, t0.Add(time.Hour), records[5:])
	if err != nil {
		t.Fatal(err)
	}
	tail.PrevChain[0] ^= 1
	tail.Sign(key, []*x509.Certificate{cert})
	wantCode(t, "header prevChain", decode(gz(append([][]byte{headerLine(t, tail)}, records[5:]...)...)), CodeAltered, 6)
	wantCode(t, "records of another device", decode(func() []byte {
		r := sampleRecord(0)
		r.Device, r.Point = "BGNCA00005001002", "BGNCA00005001002001"
		b, _ := EncodeRecord(1, ZeroHash, r)
		h2 := *h
		h2.Count, h2.Last, h2.LastChain = 1, 1, ChainHash(b)
		h2.Sign(key, []*x509.Certificate{cert})
		return gz(headerLine(t, &h2), b)
	}()), CodeWrongDevice, 1)

	// Damaged files.
	file := with(func(rs [][]byte) [][]byte { return rs })
	wantCode(t, "truncated gzip", decode(file[:len(file)-10]), CodeMalformed, 0)
	wantCode(t, "not gzip", decode([]byte("hello")), CodeMalformed, 0)
	wantCode(t, "empty", decode(gz()[:0]), CodeMalformed, 0)
	wantCode(t, "no newline", decode(func() []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(hl)
		w.Write([]byte("\n"))
		w.Write(records[0])
		w.Close()
		return buf.Bytes()
	}()), CodeMalformed, 1)
}

// Across batches: a gap, a replay and a batch that does not link.
func TestTip(t *testing.T) {
	p := newPKI(t, "Test CA")
	key := ecKey(t)
	cert := p.issue(t, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	r1, c1 := chain(t, 1, ZeroHash, 5)
	_, h1 := signedBatch(t, key, cert, ZeroHash, r1)
	r2, c2 := chain(t, 6, c1, 5)
	_, h2 := signedBatch(t, key, cert, h1.Digest(), r2)
	r3, _ := chain(t, 11, c2, 5)
	_, h3 := signedBatch(t, key, cert, h2.Digest(), r3)

	var tip Tip
	if err := tip.Check(h1); err != nil {
		t.Fatal(err)
	}
	tip = tip.Next(h1)
	wantCode(t, "skipped batch", tip.Check(h3), CodeGap, 6)
	wantCode(t, "replayed batch", tip.Next(h2).Check(h2), CodeReplay, 6)
	if err := tip.Check(h2); err != nil {
		t.Fatal(err)
	}
	// The server checks the tip before any record is read.
	file3, _ := signedBatch(t, key, cert, h2.Digest(), r3)
	calls := 0
	_, err := DecodeBatch(bytes.NewReader(file3), DecodeOptions{Header: tip.Check}, func(*Entry) error { calls++; return nil })
	wantCode(t, "tip checked before records", err, CodeGap, 6)
	if calls != 0 {
		t.Errorf("%d records read before the tip was checked", calls)
	}
	_, wrongPrev := signedBatch(t, key, cert, Hash{7}, r2)
	wantCode(t, "wrong previous batch", tip.Check(wrongPrev), CodeAltered, 6)
	tip.Chain[0] ^= 1
	wantCode(t, "wrong previous chain", tip.Check(h2), CodeAltered, 6)
}

func TestLimits(t *testing.T) {
	p := newPKI(t, "Test CA")
	key := ecKey(t)
	cert := p.issue(t, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	records, _ := chain(t, 1, ZeroHash, 20)
	file, _ := signedBatch(t, key, cert, ZeroHash, records)
	try := func(l Limits) error {
		_, err := DecodeBatch(bytes.NewReader(file), DecodeOptions{Limits: l}, nil)
		return err
	}
	if err := try(Limits{}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "compressed", try(Limits{MaxCompressed: int64(len(file) - 1)}), CodeTooLarge, 0)
	if err := try(Limits{MaxCompressed: int64(len(file))}); err != nil {
		t.Errorf("exactly at the compressed limit: %v", err)
	}
	wantCode(t, "decompressed", try(Limits{MaxDecompressed: 4000}), CodeTooLarge, 5)
	wantCode(t, "records", try(Limits{MaxRecords: 19}), CodeTooLarge, 1)
	wantCode(t, "line", try(Limits{MaxLine: 600}), CodeTooLarge, 0)

	// A gzip bomb: a megabyte of zeros in one line stops at the line limit, not at the end.
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(make([]byte, 1<<20))
	w.Close()
	wantCode(t, "bomb", try2(buf.Bytes()), CodeTooLarge, 0)
}

func try2(b []byte) error {
	_, err := DecodeBatch(bytes.NewReader(b), DecodeOptions{}, nil)
	return err
}

func TestOperatorEIK(t *testing.T) {
	p := newPKI(t, "Test CA")
	c := p.issue(t, ecKey(t), testEIK, t0, t0.AddDate(1, 0, 0))
	if eik, ok := OperatorEIK(c); !ok || eik != testEIK {
		t.Errorf("OperatorEIK = %q, %v", eik, ok)
	}
	if _, ok := OperatorEIK(p.caCert); ok {
		t.Error("EIK found in a CA certificate without one")
	}
}

func TestProblem(t *testing.T) {
	err := fail(CodeGap, 42, "wire.batch.missing_one", uint64(42))
	pr := ProblemFor(err, testDevice, i18n.For(i18n.BG))
	if pr.Code != CodeGap || pr.Seq != 42 || pr.Status != 409 || pr.Type != "urn:akciz:problem:gap" || !strings.Contains(pr.Detail, "42") || pr.Title == "wire.code.gap" {
		t.Errorf("%+v", pr)
	}
	for _, c := range []Code{CodeGap, CodeReplay, CodeReorder, CodeAltered, CodeBadSignature, CodeUnknownCertificate,
		CodeExpiredCertificate, CodeWrongOperator, CodeWrongDevice, CodeMalformed, CodeTooLarge, CodeUnsupportedVersion,
		CodeBadReceipt, CodeInconsistentLog} {
		for _, l := range i18n.Langs {
			if !i18n.Has(l, "wire.code."+string(c)) {
				t.Errorf("no title for %s in %s", c, l)
			}
		}
	}
	pr = ProblemFor(errors.New("boom"), "", i18n.For(i18n.EN))
	if pr.Code != CodeMalformed || pr.Status != 422 {
		t.Errorf("%+v", pr)
	}
}

// Measurements travel as decimal strings of one form (core.Decimal), so that no digit of a totalizer is
// lost and no value has two spellings.
func TestDecimal(t *testing.T) {
	for _, ok := range []core.Decimal{"0", "-0", "7", "1234567.000", "-3.25", "0.001", "123456789012345678901234567890.123456789"} {
		if !ok.Valid() {
			t.Errorf("%q invalid", ok)
		}
	}
	for _, bad := range []core.Decimal{"", "-", "+1", "01", "1.", ".5", "1e3", "1,5", " 1", "1 ", "NaN", "Inf", "0x10", "1.2.3",
		core.Decimal(strings.Repeat("1", 41))} {
		if bad.Valid() {
			t.Errorf("%q valid", bad)
		}
	}
	if !core.ValidDeviceID(testDevice) || core.ValidDeviceID("BGNCA00005001000") || core.ValidDeviceID("BGNCA0000500100") {
		t.Error("ValidDeviceID wrong")
	}
}

// The fast parser takes every record the encoder writes (else the hot path would always fall back), and
// reads it as encoding/json does.
func TestFastDecode(t *testing.T) {
	recs, _ := chain(t, 1, ZeroHash, 12)
	full := sampleRecord(1)
	full.Test = true
	full.Transaction.StartFromPrevious = true
	full.Transaction.Alcohol = &core.Measure{Value: "40.5", Unit: "%vol"}
	full.Transaction.Forward.Count = &core.Totals{Begin: "0", End: "10", Quantity: "10", Unit: "pcs"}
	ev := sampleRecord(2)
	ev.Event = &core.Event{Kind: core.EventTotalizerDecreased, Tag: "FT101", Value: "10", Previous: "12", Unit: "L", Bits: []int{-1, 0, 15}, Detail: "x"}
	for _, r := range []*core.Record{full, ev} {
		b, err := EncodeRecord(5, Hash{1}, r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	for _, b := range recs {
		if !checkFast(t, b) {
			t.Errorf("the fast parser gave up on a record the encoder wrote:\n%s", b)
		}
	}
	// Quotes and backslashes, common in names, take the fast way.
	q := sampleRecord(2)
	q.Event.Detail = `a "quoted" back\slash`
	if b, _ := EncodeRecord(1, ZeroHash, q); !checkFast(t, b) {
		t.Errorf("the fast parser gave up on a quote or a backslash:\n%s", b)
	}
	// Other escapes go the slow way, and still decode.
	r := sampleRecord(2)
	r.Event.Detail = "a \"quoted\"\tdetail \u2028 and a back\\slash"
	b, err := EncodeRecord(1, ZeroHash, r)
	if err != nil {
		t.Fatal(err)
	}
	if checkFast(t, b) {
		t.Error("the fast parser took a string with escapes")
	}
	if e, err := DecodeRecord(b); err != nil || e.Record.Event.Detail != r.Event.Detail {
		t.Errorf("slow path: %v", err)
	}
}
