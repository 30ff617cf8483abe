package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

const (
	wh1  = "BGNCA00005001"
	wh2  = "BGNCA00007002"
	dev1 = wh1 + "001"
	dev2 = wh2 + "001"
)

func TestMainFlowSQLite(t *testing.T)   { testMainFlow(t, sqliteOpener(t)) }
func TestMainFlowPostgres(t *testing.T) { testMainFlow(t, postgresOpener(t)) }

// testMainFlow: two operators (ECDSA and RSA keys, registered certificates), batches accepted with
// receipts that verify offline and prove the log only grew, a duplicate answered with the same receipt,
// the read endpoints, and a restart of the server that continues the chains.
func testMainFlow(t *testing.T, open opener) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t)
	eikA, eikB := validEIK(t, 0), validEIK(t, 1)
	registry(t, s, eikA, wh1, dev1)
	registry(t, s, eikB, wh2, dev2)
	opCA := newCA(t, "Operators' CA")
	now := time.Now()
	idA := identity{key: ecKey(t)}
	idA.cert = opCA.issue(t, idA.key, "ИКУНК A", eikA, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	idB := identity{key: rsaKey(t)}
	idB.cert = opCA.issue(t, idB.key, "ИКУНК B", eikB, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	registerCert(t, s, eikA, idA.cert)
	registerCert(t, s, eikB, idB.cert)

	sv := startServer(t, s, dir, ingest.Config{})
	keys := sv.log.Verifiers()
	cA, cB := sv.client(idA), sv.client(idB)
	agA, agB := newAgent(dev1, idA), newAgent(dev2, idB)

	var prev *wire.Checkpoint
	accept := func(c *http.Client, ag *agent, n int) (answer, []byte) {
		t.Helper()
		body, h := ag.batch(t, n)
		var size int64
		if prev != nil {
			size = prev.Size
		}
		a := post(t, c, sv.srv.URL, body, size)
		if a.status != http.StatusCreated || a.receipt == nil {
			t.Fatalf("POST %s %d..%d: %d %s", h.Device, h.First, h.Last, a.status, a.raw)
		}
		cp, err := a.receipt.Verify(keys, h, prev)
		if err != nil {
			t.Fatalf("receipt of %s %d..%d: %v", h.Device, h.First, h.Last, err)
		}
		prev = &cp
		return a, body
	}
	// A device that has sent nothing: a zero tip, without created.
	if raw := getText(t, cA, sv.srv.URL+"/api/v1/devices/"+dev1+"/tip"); strings.Contains(raw, "created") {
		t.Errorf("tip of a device without batches: %s", raw)
	}
	accept(cA, agA, 100)
	accept(cB, agB, 50)
	a3, body3 := accept(cA, agA, 200)
	accept(cB, agB, 1)

	// A retry of an accepted batch: the same receipt (index, digest), nothing stored twice.
	before := countRecords(t, s, dev1)
	dup := post(t, cA, sv.srv.URL, body3, prev.Size)
	if dup.status != http.StatusOK || dup.receipt == nil {
		t.Fatalf("duplicate: %d %s", dup.status, dup.raw)
	}
	if dup.receipt.Index != a3.receipt.Index || dup.receipt.Batch != a3.receipt.Batch || !dup.receipt.Received.Equal(a3.receipt.Received) {
		t.Errorf("duplicate receipt %+v, first %+v", dup.receipt, a3.receipt)
	}
	if _, err := dup.receipt.Verify(keys, nil, prev); err != nil {
		t.Errorf("duplicate receipt: %v", err)
	}
	if got := countRecords(t, s, dev1); got != before || got != 300 {
		t.Errorf("records of %s after the duplicate: %d, before %d, want 300", dev1, got, before)
	}
	if size, _ := s.TreeSize(ctx); size != 4 {
		t.Errorf("tree size %d, want 4", size)
	}

	// The tip, the stored receipt, the checkpoint, a consistency proof, the key.
	var tip struct {
		Seq     uint64    `json:"seq"`
		Chain   wire.Hash `json:"chain"`
		Batch   wire.Hash `json:"batch"`
		Created string    `json:"created"`
	}
	getJSON(t, cA, sv.srv.URL+"/api/v1/devices/"+dev1+"/tip", &tip)
	if tip.Seq != 300 || tip.Chain != agA.prev || tip.Batch != agA.prevBatch {
		t.Errorf("tip %+v, want seq 300 chain %s batch %s", tip, agA.prev, agA.prevBatch)
	}
	// created: the last accepted batch's, RFC 3339 in UTC as the protocol writes times, so that an agent
	// that lost it dates its next batch after it (docs/protocol.md, "Other endpoints").
	h3, err := wire.DecodeBatch(bytes.NewReader(body3), wire.DecodeOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := h3.Created.UTC().Format(time.RFC3339Nano); tip.Created != want {
		t.Errorf("tip created %q, want the last batch's %q", tip.Created, want)
	}
	req, _ := http.NewRequest(http.MethodGet, sv.srv.URL+"/api/v1/receipts/"+dev1+"/101", nil)
	if a := do(t, cA, req); a.status != 200 || a.receipt == nil || a.receipt.Batch != a3.receipt.Batch {
		t.Errorf("GET receipt: %d %s", a.status, a.raw)
	}
	req, _ = http.NewRequest(http.MethodGet, sv.srv.URL+"/api/v1/receipts/"+dev1+"/102", nil)
	if a := do(t, cA, req); a.status != 404 || a.problem.Code != "not-found" {
		t.Errorf("GET receipt of no batch: %d %s", a.status, a.raw)
	}
	// The stored batch file: the lines received, byte for byte, verifying as the agent's file does; only
	// the device's operator may fetch it.
	req, _ = http.NewRequest(http.MethodGet, sv.srv.URL+"/api/v1/batches/"+dev1+"/101", nil)
	if a := do(t, cA, req); a.status != 200 || !bytes.Equal(gunzip(t, a.raw), gunzip(t, body3)) {
		t.Errorf("GET batch: %d, lines differ from those posted", a.status)
	} else if h, err := wire.DecodeBatch(bytes.NewReader(a.raw), wire.DecodeOptions{Verify: &wire.VerifyOptions{Cert: idA.cert}}, nil); err != nil ||
		h.Digest() != a3.receipt.Batch {
		t.Errorf("GET batch does not verify: %v", err)
	}
	for _, tc := range []struct {
		c      *http.Client
		path   string
		status int
	}{{cB, dev1 + "/101", 403}, {cA, dev1 + "/102", 404}, {cA, dev1 + "/x", 400}} {
		req, _ = http.NewRequest(http.MethodGet, sv.srv.URL+"/api/v1/batches/"+tc.path, nil)
		if a := do(t, tc.c, req); a.status != tc.status {
			t.Errorf("GET batch %s: %d %s, want %d", tc.path, a.status, a.raw, tc.status)
		}
	}
	// Another operator may not read the device's tip.
	req, _ = http.NewRequest(http.MethodGet, sv.srv.URL+"/api/v1/devices/"+dev1+"/tip", nil)
	if a := do(t, cB, req); a.status != 403 || a.problem.Code != wire.CodeWrongDevice {
		t.Errorf("tip of another's device: %d %s", a.status, a.raw)
	}
	anon := sv.client(identity{})
	cpText := getText(t, anon, sv.srv.URL+"/api/v1/checkpoint")
	cp, err := wire.OpenCheckpoint([]byte(cpText), keys)
	if err != nil || cp.Size != 4 {
		t.Fatalf("checkpoint %+v: %v", cp, err)
	}
	if key := strings.TrimSpace(getText(t, anon, sv.srv.URL+"/api/v1/log/key")); key != sv.log.VerifierKey() {
		t.Errorf("log key %q", key)
	}
	first, _ := wire.OpenCheckpoint([]byte(post1Checkpoint(t, sv, cA)), keys)
	checkConsistency(t, anon, sv.srv.URL, keys, first)

	// Restart: close the server and the store, open both again, continue both chains.
	vkey := sv.log.VerifierKey()
	sv.close()
	must(t, s.Close())
	s = open(t)
	defer s.Close()
	sv = startServer(t, s, dir, ingest.Config{})
	if sv.log.VerifierKey() != vkey {
		t.Fatalf("the log key changed across a restart: %s, was %s", sv.log.VerifierKey(), vkey)
	}
	cA, cB = sv.client(idA), sv.client(idB)
	accept(cA, agA, 10)
	accept(cB, agB, 10)
	if got := countRecords(t, s, dev2); got != 61 {
		t.Errorf("records of %s: %d, want 61", dev2, got)
	}
	if incs, _ := s.Incidents(ctx, store.IncidentFilter{}); len(incs) != 0 {
		t.Errorf("incidents of a clean run: %+v", incs)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	must(t, err)
	out, err := io.ReadAll(zr)
	must(t, err)
	return out
}

// post1Checkpoint gives the checkpoint of the receipt of dev1's first batch.
func post1Checkpoint(t *testing.T, sv *server, c *http.Client) string {
	req, _ := http.NewRequest(http.MethodGet, sv.srv.URL+"/api/v1/receipts/"+dev1+"/1", nil)
	a := do(t, c, req)
	if a.receipt == nil {
		t.Fatalf("receipt of batch 1: %d %s", a.status, a.raw)
	}
	return a.receipt.Checkpoint
}

func checkConsistency(t *testing.T, c *http.Client, url string, keys interface{}, from wire.Checkpoint) {
	t.Helper()
	var ans struct {
		From       int64       `json:"from"`
		Checkpoint string      `json:"checkpoint"`
		Proof      []wire.Hash `json:"proof"`
	}
	getJSON(t, c, url+"/api/v1/proof/consistency?from="+strconv.FormatInt(from.Size, 10), &ans)
	to, err := wire.ParseCheckpoint(noteText(ans.Checkpoint))
	if err != nil {
		t.Fatal(err)
	}
	proof := make(tlog.TreeProof, len(ans.Proof))
	for i, h := range ans.Proof {
		proof[i] = tlog.Hash(h)
	}
	if ans.From != from.Size || to.Size < from.Size {
		t.Fatalf("consistency answer %+v", ans)
	}
	if to.Size > from.Size {
		if err := tlog.CheckTree(proof, to.Size, to.Root, from.Size, from.Root); err != nil {
			t.Errorf("consistency proof %d → %d: %v", from.Size, to.Size, err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/proof/consistency?from=99999", nil)
	if a := do(t, c, req); a.status != 400 {
		t.Errorf("consistency from beyond the tree: %d %s", a.status, a.raw)
	}
}

// noteText is the text of a signed note (before the blank line of signatures).
func noteText(n string) []byte {
	i := strings.Index(n, "\n\n")
	return []byte(n[:i+1])
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func getText(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	a := do(t, c, req)
	if a.status != 200 {
		t.Fatalf("GET %s: %d %s", url, a.status, a.raw)
	}
	return string(a.raw)
}

// TestRefusals: every refusal answers its problem code, with the seq, and keeps an incident where the
// device is known; nothing of a refused batch is stored.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	s := sqliteOpener(t)(t)
	defer s.Close()
	eikA, eikB := validEIK(t, 0), validEIK(t, 1)
	registry(t, s, eikA, wh1, dev1, wh1+"002")
	registry(t, s, eikB, wh2, dev2)
	opCA := newCA(t, "Operators' CA")
	now := time.Now()
	year := func(k identity, cn, eik string) identity {
		k.cert = opCA.issue(t, k.key, cn, eik, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
		return k
	}
	idA := year(identity{key: ecKey(t)}, "A", eikA)
	idB := year(identity{key: rsaKey(t)}, "B", eikB)
	registerCert(t, s, eikA, idA.cert)
	registerCert(t, s, eikB, idB.cert)
	// Certificates the anchor vouches for, not registered: A's second card (valid), an expired one, a
	// revoked one, one without an EIK, and one from a CA nobody trusts.
	idA2 := year(identity{key: ecKey(t)}, "A2", eikA)
	idExpired := identity{key: ecKey(t)}
	idExpired.cert = opCA.issue(t, idExpired.key, "expired", eikA, now.AddDate(-2, 0, 0), now.Add(-2*time.Hour))
	idRevoked := year(identity{key: ecKey(t)}, "revoked", eikA)
	idNoEIK := year(identity{key: ecKey(t)}, "no EIK", "")
	other := newCA(t, "Unknown CA")
	idStranger := identity{key: ecKey(t)}
	idStranger.cert = other.issue(t, idStranger.key, "stranger", eikA, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))

	tr, err := ingest.NewTrust(ctx, s, []*x509.Certificate{opCA.cert}, []*x509.RevocationList{opCA.crl(t, idRevoked.cert)})
	must(t, err)
	sv := startServer(t, s, t.TempDir(), ingest.Config{Trust: tr, Limits: wire.Limits{MaxRecords: 200}})
	cA := sv.client(idA)
	url := sv.srv.URL

	ag := newAgent(dev1, idA)
	body, _ := ag.batch(t, 10)
	if a := post(t, cA, url, body, 0); a.status != 201 {
		t.Fatalf("first batch: %d %s", a.status, a.raw)
	}
	// A second card of A's, vouched for by the anchor: accepted, and registered for the evidence.
	ag.signer = idA2
	body, _ = ag.batch(t, 10)
	if a := post(t, cA, url, body, 0); a.status != 201 {
		t.Fatalf("batch of A's second card: %d %s", a.status, a.raw)
	}
	if c, err := s.Certificate(ctx, store.Fingerprint(idA2.cert.Raw)); err != nil || c.Operator != eikA {
		t.Errorf("anchor-vouched certificate not registered: %+v %v", c, err)
	}
	ag.signer = idA

	type refusal struct {
		name     string
		client   *http.Client
		body     func() []byte
		status   int
		code     wire.Code
		seq      uint64
		expected uint64
		incident store.IncidentKind // "" when none is kept against the device
		device   string
		// anonymous: an incident of this kind is kept against no device, naming the client's operator
		// (the client does not own the device)
		anonymous store.IncidentKind
		detail    string // what the (Bulgarian) detail must say, when set
	}
	signedBy := func(id identity, device string) func() []byte {
		return func() []byte {
			a := ag.clone()
			a.device, a.signer = device, id
			if device != dev1 {
				a.seq, a.prev, a.prevBatch = 0, wire.Hash{}, wire.Hash{}
			}
			b, _ := a.batch(t, 5)
			return b
		}
	}
	cases := []refusal{
		{name: "no client certificate", client: sv.client(identity{}), body: signedBy(idA, dev1), status: 403, code: wire.CodeUnknownCertificate},
		{name: "unknown client certificate", client: sv.client(idStranger), body: signedBy(idA, dev1), status: 403, code: wire.CodeUnknownCertificate,
			detail: "„stranger“, издаден от „Unknown CA“"},
		{name: "expired client certificate", client: sv.client(idExpired), body: signedBy(idA, dev1), status: 403, code: wire.CodeExpiredCertificate,
			detail: "веригата на сертификата „expired“ не е валидна"},
		{name: "unknown signer", body: signedBy(idStranger, dev1), status: 403, code: wire.CodeUnknownCertificate, incident: store.IncidentUnknownCertificate,
			detail: "„stranger“, издаден от „Unknown CA“"},
		{name: "expired signer", body: signedBy(idExpired, dev1), status: 403, code: wire.CodeExpiredCertificate, incident: store.IncidentExpiredCertificate,
			detail: "не е валиден към момента на създаване на пакета"},
		{name: "revoked signer (CRL)", body: signedBy(idRevoked, dev1), status: 403, code: wire.CodeUnknownCertificate, incident: store.IncidentUnknownCertificate,
			detail: "сертификатът „revoked“ (сериен номер " + idRevoked.cert.SerialNumber.String() + ") е отменен"},
		{name: "signer without EIK", body: signedBy(idNoEIK, dev1), status: 403, code: wire.CodeUnknownCertificate, incident: store.IncidentUnknownCertificate},
		{name: "another operator's device", body: signedBy(idB, dev2), status: 403, code: wire.CodeWrongDevice, anonymous: store.IncidentWrongDevice, device: dev2},
		{name: "another operator's signature", body: signedBy(idB, dev1), status: 403, code: wire.CodeWrongOperator, incident: store.IncidentWrongOperator},
		{name: "unregistered device", client: cA, body: signedBy(idA, wh1+"003"), status: 403, code: wire.CodeWrongDevice, device: wh1 + "003", anonymous: store.IncidentWrongDevice},
		{name: "gap", body: func() []byte {
			a := ag.clone()
			a.records(t, 3)
			b, _ := a.batch(t, 5)
			return b
		}, status: 409, code: wire.CodeGap, seq: 21, expected: 21, incident: store.IncidentGap},
		{name: "replay", body: func() []byte {
			// seq 16..25 over the stored 1..20, correctly chained and signed.
			a := newAgent(dev1, idA)
			a.at = ag.clone().at.Add(-time.Hour)
			recs := replayRecords(t, s, 16, 20)
			a2 := ag.clone()
			recs = append(recs, a2.records(t, 5)...)
			h, err := wire.NewBatch(dev1, wire.Hash{}, time.Now(), recs)
			must(t, err)
			must(t, h.Sign(idA.key, []*x509.Certificate{idA.cert}))
			return encode(t, h, recs)
		}, status: 409, code: wire.CodeReplay, seq: 16, expected: 21, incident: store.IncidentReplay},
		{name: "reorder", body: func() []byte {
			a := ag.clone()
			recs := a.records(t, 5)
			h := a.sign(t, recs)
			recs[1], recs[2] = recs[2], recs[1]
			return encode(t, h, recs)
		}, status: 409, code: wire.CodeReorder, seq: 22, incident: store.IncidentReorder},
		{name: "altered record", body: func() []byte {
			a := ag.clone()
			recs := a.records(t, 5)
			h := a.sign(t, recs)
			recs[3] = []byte(strings.Replace(string(recs[3]), `"12.25"`, `"12.26"`, 1))
			return encode(t, h, recs)
		}, status: 422, code: wire.CodeAltered, seq: 24, incident: store.IncidentAltered},
		{name: "altered stored record", body: func() []byte {
			// The agent's last batch again, with one record changed and the whole re-chained and signed.
			a := newAgent(dev1, idA)
			stored := replayRecords(t, s, 1, 10)
			a.seq, a.prev = 0, wire.Hash{}
			recs := make([][]byte, 0, 10)
			for i := range stored {
				if i == 4 {
					a.seq++
					r := strings.Replace(string(stored[i]), `"12.25"`, `"13.25"`, 1)
					recs = append(recs, rechain(t, []byte(r), a.prev))
					a.prev = wire.ChainHash(recs[i])
					continue
				}
				a.seq++
				recs = append(recs, rechain(t, stored[i], a.prev))
				a.prev = wire.ChainHash(recs[i])
			}
			h := a.sign(t, recs)
			return encode(t, h, recs)
		}, status: 422, code: wire.CodeAltered, seq: 5, incident: store.IncidentAltered},
		{name: "bad signature", body: func() []byte {
			a := ag.clone()
			recs := a.records(t, 5)
			h := a.sign(t, recs)
			h.Sig[len(h.Sig)/2] ^= 1
			return encode(t, h, recs)
		}, status: 422, code: wire.CodeBadSignature, incident: store.IncidentBadSignature},
		{name: "too many records", body: func() []byte {
			b, _ := ag.clone().batch(t, 201)
			return b
		}, status: 413, code: wire.CodeTooLarge, seq: 21},
		{name: "not gzip", body: func() []byte { return []byte("hello") }, status: 422, code: wire.CodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			if c == nil {
				c = cA
			}
			device := tc.device
			if device == "" {
				device = dev1
			}
			incBefore, _ := s.Incidents(ctx, store.IncidentFilter{Device: device})
			anonBefore := anonymousIncidents(t, s)
			sizeBefore, _ := s.TreeSize(ctx)
			a := post(t, c, url, tc.body(), 0)
			if a.status != tc.status || a.problem.Code != tc.code || a.problem.Seq != tc.seq || a.problem.Expected != tc.expected {
				t.Fatalf("answer %d %s, want %d code %s seq %d expected %d", a.status, a.raw, tc.status, tc.code, tc.seq, tc.expected)
			}
			if a.problem.Title == "" || a.problem.Detail == "" || a.problem.Type != "urn:akciz:problem:"+string(tc.code) {
				t.Errorf("problem document %s", a.raw)
			}
			if tc.detail != "" && !strings.Contains(a.problem.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", a.problem.Detail, tc.detail)
			}
			incs, _ := s.Incidents(ctx, store.IncidentFilter{Device: device})
			if tc.incident == "" {
				if len(incs) != len(incBefore) {
					t.Errorf("incident kept for %s: %+v", tc.name, incs[len(incs)-1])
				}
			} else if len(incs) != len(incBefore)+1 || incs[len(incs)-1].Kind != tc.incident {
				t.Errorf("incidents %+v, want one more of kind %s", incs, tc.incident)
			} else if in := incs[len(incs)-1]; in.First != int64(tc.seq) {
				t.Errorf("incident %+v, want seq %d", in, tc.seq)
			} else if named := answerIncident(t, a.raw); named != in.ID {
				t.Errorf("the answer names incident %d, want %d: %s", named, in.ID, a.raw)
			}
			if anon := anonymousIncidents(t, s); tc.anonymous == "" && len(anon) != len(anonBefore) {
				t.Errorf("incident kept against no device: %+v", anon[len(anon)-1])
			} else if tc.anonymous != "" && (len(anon) != len(anonBefore)+1 || anon[len(anon)-1].Kind != tc.anonymous ||
				!strings.Contains(anon[len(anon)-1].Detail, eikA)) {
				t.Errorf("incidents against no device %+v, want one more of kind %s naming %s", anon, tc.anonymous, eikA)
			} else if tc.anonymous != "" && answerIncident(t, a.raw) != anon[len(anon)-1].ID {
				t.Errorf("the answer does not name incident %d: %s", anon[len(anon)-1].ID, a.raw)
			}
			if tc.incident == "" && tc.anonymous == "" && answerIncident(t, a.raw) != 0 {
				t.Errorf("the answer names an incident, none kept: %s", a.raw)
			}
			if size, _ := s.TreeSize(ctx); size != sizeBefore {
				t.Errorf("tree grew from %d to %d on a refusal", sizeBefore, size)
			}
		})
	}
	if got := countRecords(t, s, dev1); got != 20 {
		t.Errorf("records of %s: %d, want 20", dev1, got)
	}
	// English on request.
	req, _ := http.NewRequest(http.MethodPost, url+wire.BatchesPath, strings.NewReader("x"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Accept-Language", "en")
	if a := do(t, cA, req); a.status != http.StatusUnsupportedMediaType || !strings.Contains(a.problem.Detail, "content type") {
		t.Errorf("wrong content type: %d %s", a.status, a.raw)
	}
	// The chain goes on after all that.
	body, _ = ag.batch(t, 5)
	if a := post(t, cA, url, body, 0); a.status != 201 {
		t.Fatalf("batch after the refusals: %d %s", a.status, a.raw)
	}
}

// answerIncident gives the incident a problem document names (members incident and instance), or 0.
func answerIncident(t *testing.T, raw []byte) int64 {
	t.Helper()
	var doc struct {
		Incident int64  `json:"incident"`
		Instance string `json:"instance"`
	}
	must(t, json.Unmarshal(raw, &doc))
	if doc.Instance != "" && doc.Instance != "urn:akciz:incident:"+strconv.FormatInt(doc.Incident, 10) {
		t.Errorf("instance %q, incident %d", doc.Instance, doc.Incident)
	}
	return doc.Incident
}

// anonymousIncidents gives the incidents kept against no device.
func anonymousIncidents(t *testing.T, s store.Store) []store.Incident {
	t.Helper()
	all, err := s.Incidents(context.Background(), store.IncidentFilter{})
	must(t, err)
	var out []store.Incident
	for _, in := range all {
		if in.Device == "" {
			out = append(out, in)
		}
	}
	return out
}

// replayRecords gives the stored bytes of records from..to of dev1.
func replayRecords(t *testing.T, s store.Store, from, to int64) [][]byte {
	var out [][]byte
	must(t, s.Records(context.Background(), dev1, from, to, func(r *store.Row) error {
		out = append(out, append([]byte(nil), r.Bytes...))
		return nil
	}))
	return out
}

// rechain rewrites a record's prev (the records are otherwise as stored).
func rechain(t *testing.T, rec []byte, prev wire.Hash) []byte {
	var e wire.Entry
	var err error
	if e, err = wire.DecodeRecord(rec); err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeRecord(e.Seq, prev, &e.Record)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
