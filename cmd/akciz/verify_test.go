package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/wire"
)

const verifyDevice = "BGNCA00005001001"

var verifyT0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// verifyFixture writes, into a temporary directory, what an officer would be handed: the operator's and
// the authority's certificates, three consecutive batch files, their receipts and the server's key.
type verifyFixture struct {
	dir                     string
	ca, cert, key, receipts string
	batches                 []string
	records                 [][][]byte
	headers                 []*wire.Header
	signer                  crypto.Signer
	leaf                    *x509.Certificate
	caCert                  *x509.Certificate
	caKey                   crypto.Signer
}

func writePEM(t *testing.T, name string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func verifyCert(t *testing.T, parent *x509.Certificate, parentKey, key crypto.Signer, ca bool, eik string, nb, na time.Time) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: nb, NotAfter: na}
	if ca {
		tmpl.Subject = pkix.Name{CommonName: "Test Qualified CA"}
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.Subject = pkix.Name{CommonName: "Нефтена база ЕООД", ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "NTRBG-" + eik}}}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	f := &verifyFixture{dir: t.TempDir()}
	f.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.caCert = verifyCert(t, nil, nil, f.caKey, true, "", verifyT0.AddDate(-5, 0, 0), verifyT0.AddDate(10, 0, 0))
	f.signer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.leaf = verifyCert(t, f.caCert, f.caKey, f.signer, false, "175074752", verifyT0.AddDate(-1, 0, 0), verifyT0.AddDate(1, 0, 0))
	f.ca = writePEM(t, filepath.Join(f.dir, "ca.pem"), f.caCert.Raw)
	f.cert = writePEM(t, filepath.Join(f.dir, "operator.pem"), f.leaf.Raw)

	skey, vkey, err := note.GenerateKey(rand.Reader, "customs.test/akciz")
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := note.NewSigner(skey)
	f.key = filepath.Join(f.dir, "server.key")
	os.WriteFile(f.key, []byte(vkey+"\n"), 0o644)

	var log []tlog.Hash
	var n int64
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(log)) {
				return nil, errors.New("no hash")
			}
			out[i] = log[x]
		}
		return out, nil
	})
	var tip wire.Tip
	var receipts bytes.Buffer
	var known int64
	for b := 0; b < 3; b++ {
		var recs [][]byte
		prev := tip.Chain
		for i := 0; i < 4; i++ {
			seq := tip.Seq + uint64(i) + 1
			r := &core.Record{Kind: core.KindEvent, Time: verifyT0.Add(time.Duration(seq) * time.Second), Device: verifyDevice,
				Event: &core.Event{Kind: core.EventDoorOpened}}
			if i%2 == 1 {
				r.Event.Kind = core.EventDoorClosed
			}
			raw, err := wire.EncodeRecord(seq, prev, r)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, raw)
			prev = wire.ChainHash(raw)
		}
		h, err := wire.NewBatch(verifyDevice, tip.Batch, verifyT0.Add(time.Hour), recs)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Sign(f.signer, []*x509.Certificate{f.leaf}); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(f.dir, "batch-"+string(rune('1'+b))+".akb")
		var buf bytes.Buffer
		wire.WriteBatch(&buf, h, recs)
		os.WriteFile(name, buf.Bytes(), 0o644)
		f.batches, f.records, f.headers = append(f.batches, name), append(f.records, recs), append(f.headers, h)
		tip = tip.Next(h)

		// The server appends the batch to its log and answers with a receipt.
		hs, _ := tlog.StoredHashes(n, wire.LeafData(h.Digest()), hr)
		log = append(log, hs...)
		idx := n
		n++
		root, _ := tlog.TreeHash(n, hr)
		signed, _ := wire.SignCheckpoint(wire.Checkpoint{Origin: "customs.test/akciz/v1", Size: n, Root: root}, ns)
		incl, _ := tlog.ProveRecord(n, idx, hr)
		rc := wire.Receipt{Format: wire.ReceiptFormat, Version: wire.Version, Device: h.Device, First: h.First, Last: h.Last,
			Batch: h.Digest(), Received: verifyT0.Add(2 * time.Hour), Index: idx, Checkpoint: string(signed), Inclusion: wire.Hashes(incl)}
		if known > 0 {
			cons, _ := tlog.ProveTree(n, known, hr)
			rc.ConsistencyFrom, rc.Consistency = known, wire.Hashes(cons)
		}
		known = n
		line, _ := json.Marshal(rc)
		receipts.Write(line)
		receipts.WriteByte('\n')
	}
	f.receipts = filepath.Join(f.dir, "receipts.jsonl")
	os.WriteFile(f.receipts, receipts.Bytes(), 0o644)
	return f
}

func runVerifyArgs(t *testing.T, lang i18n.Lang, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(lang)}
	code := run(context.Background(), env, append([]string{"verify"}, args...))
	return code, out.String(), errb.String()
}

func TestVerifyInOrder(t *testing.T) {
	f := newVerifyFixture(t)
	args := append([]string{"--ca", f.ca, "--cert", f.cert, "--operator", "175074752", "--checkpoint-key", f.key}, f.batches...)
	args = append(args, f.receipts)
	code, out, errs := runVerifyArgs(t, i18n.BG, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"batch-1.akb: наред", "записи 5–8", "ЕИК 175074752", "разписка 3", "всичко е наред"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Files in any order: batches are sorted by device and record number, receipts come after them.
	code, out, _ = runVerifyArgs(t, i18n.EN, "--cert", f.cert, "--checkpoint-key", f.key, f.receipts, f.batches[2], f.batches[0], f.batches[1])
	if code != 0 || strings.Index(out, "batch-1.akb") > strings.Index(out, "batch-3.akb") {
		t.Errorf("files out of order: exit %d\n%s", code, out)
	}

	// Receipts pretty-printed, as a person may save them, and one with a changed proof.
	b, _ := os.ReadFile(f.receipts)
	var pretty bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		json.Indent(&pretty, line, "", "  ")
		pretty.WriteString("\n")
	}
	prettyFile := filepath.Join(f.dir, "receipts.json")
	os.WriteFile(prettyFile, pretty.Bytes(), 0o644)
	code, out, _ = runVerifyArgs(t, i18n.EN, append(append([]string{"--checkpoint-key", f.key}, f.batches...), prettyFile)...)
	if code != 0 || strings.Count(out, "the batch is at position") != 3 {
		t.Errorf("pretty receipts: exit %d\n%s", code, out)
	}
	var rc wire.Receipt
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	json.Unmarshal(lines[2], &rc)
	rc.Inclusion[0][5] ^= 1
	lines[2], _ = json.Marshal(rc)
	badFile := filepath.Join(f.dir, "bad-receipts.jsonl")
	os.WriteFile(badFile, bytes.Join(lines, []byte("\n")), 0o644)
	code, out, _ = runVerifyArgs(t, i18n.EN, append(append([]string{"--checkpoint-key", f.key}, f.batches...), badFile)...)
	if code != 1 || !strings.Contains(out, "receipt 3: device BGNCA00005001001, records 9–12") || !strings.Contains(out, "code bad-receipt") {
		t.Errorf("changed proof: exit %d\n%s", code, out)
	}

	// Only the file and the certificate, in English.
	code, out, _ = runVerifyArgs(t, i18n.BG, "--lang", "en", "--cert", f.cert, f.batches[1])
	if code != 0 || !strings.Contains(out, "start at record 5") || !strings.Contains(out, "in order") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	f := newVerifyFixture(t)
	rewrite := func(name string, h *wire.Header, recs [][]byte) string {
		var buf bytes.Buffer
		hb, _ := json.Marshal(h)
		// Written by hand, so that the header may disagree with the records.
		w := gzip.NewWriter(&buf)
		w.Write(hb)
		w.Write([]byte{'\n'})
		for _, r := range recs {
			w.Write(r)
			w.Write([]byte{'\n'})
		}
		w.Close()
		p := filepath.Join(f.dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	altered := make([][]byte, 4)
	for i, r := range f.records[1] {
		altered[i] = bytes.Clone(r)
	}
	altered[1] = bytes.Replace(altered[1], []byte("door-closed"), []byte("door-opened"), 1)
	cases := []struct {
		name  string
		files []string
		want  []string
	}{
		{"altered record", []string{f.batches[0], rewrite("altered.akb", f.headers[1], altered), f.batches[2]},
			[]string{"altered.akb", "запис 6", "код altered"}},
		{"dropped record", []string{rewrite("dropped.akb", f.headers[1], [][]byte{f.records[1][0], f.records[1][2], f.records[1][3]})},
			[]string{"dropped.akb", "запис 6", "код gap"}},
		{"batch missing", []string{f.batches[0], f.batches[2]}, []string{"batch-3.akb", "от 5 до 8", "код gap"}},
		{"batch replayed", []string{f.batches[0], f.batches[1], f.batches[1]}, []string{"повторение", "код replay"}},
		{"not a batch", []string{f.ca}, []string{"нито пакет"}},
	}
	for _, c := range cases {
		code, out, _ := runVerifyArgs(t, i18n.BG, append([]string{"--cert", f.cert}, c.files...)...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", c.name, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: report lacks %q:\n%s", c.name, w, out)
			}
		}
	}

	// Another authority, and another operator's certificate.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherCA := writePEM(t, filepath.Join(f.dir, "other-ca.pem"), verifyCert(t, nil, nil, otherKey, true, "", verifyT0.AddDate(-1, 0, 0), verifyT0.AddDate(1, 0, 0)).Raw)
	code, out, _ := runVerifyArgs(t, i18n.EN, "--ca", otherCA, f.batches[0])
	if code != 1 || !strings.Contains(out, "code unknown-certificate") {
		t.Errorf("wrong CA: exit %d\n%s", code, out)
	}
	code, out, _ = runVerifyArgs(t, i18n.EN, "--ca", f.ca, "--operator", "831902088", f.batches[0])
	if code != 1 || !strings.Contains(out, "code wrong-operator") {
		t.Errorf("wrong operator: exit %d\n%s", code, out)
	}
	// A receipt without the server's key, and with another key.
	code, out, _ = runVerifyArgs(t, i18n.EN, f.receipts)
	if code != 1 || !strings.Contains(out, "--checkpoint-key") {
		t.Errorf("receipt without key: exit %d\n%s", code, out)
	}
	_, vkey, _ := note.GenerateKey(rand.Reader, "customs.test/akciz")
	code, out, _ = runVerifyArgs(t, i18n.EN, "--checkpoint-key", vkey, f.receipts)
	if code != 1 || !strings.Contains(out, "code bad-receipt") {
		t.Errorf("receipt with a foreign key: exit %d\n%s", code, out)
	}
}

func TestVerifyUsage(t *testing.T) {
	code, out, _ := runVerifyArgs(t, i18n.EN, "--help")
	if code != 0 || !strings.Contains(out, "--checkpoint-key") || !strings.Contains(out, "Example") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, _, errs := runVerifyArgs(t, i18n.EN); code != 2 || !strings.Contains(errs, "no file") {
		t.Errorf("no file: exit %d %s", code, errs)
	}
	if code, _, errs := runVerifyArgs(t, i18n.EN, "--bogus", "x"); code != 2 || !strings.Contains(errs, "bad flag") {
		t.Errorf("bad flag: exit %d %s", code, errs)
	}
	if code, _, errs := runVerifyArgs(t, i18n.EN, "--ca", "/nonexistent", "x"); code != 2 || !strings.Contains(errs, "authority") {
		t.Errorf("bad CA file: exit %d %s", code, errs)
	}
}
