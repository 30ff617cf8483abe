package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/agent/deliver"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/sim"
	"github.com/akciz/akciz/internal/wire"
)

// agentSite is everything `akciz agent` needs in a test: the fuel depot's simulator on a loopback port,
// its automation_config.xml pointing there, keys and certificates, a stand-in server, and agent.conf.
type agentSite struct {
	dir, cfg, settings, metrics string
	srv                         *miniServer
	https                       *httptest.Server
}

func newAgentSite(t *testing.T) *agentSite {
	t.Helper()
	dir := t.TempDir()
	a := &agentSite{dir: dir}
	// The simulator, not advanced: the agent reads its registers as they stand.
	sc, err := sim.LoadFile("../../examples/fuel-depot/scenario.xml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sc, sim.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	msrv := &modbus.Server{Handler: s.Handler()}
	done := make(chan struct{})
	go func() { defer close(done); msrv.ServeTCP(ctx, ln) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	xml, err := os.ReadFile("../../examples/fuel-depot/automation_config.xml")
	if err != nil {
		t.Fatal(err)
	}
	a.cfg = filepath.Join(dir, "automation_config.xml")
	os.WriteFile(a.cfg, bytes.ReplaceAll(xml, []byte("127.0.0.1:5020"), []byte(ln.Addr().String())), 0o600)

	// Keys: a CA, the operator's signing certificate (used for TLS too), the server's TLS certificate.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(2, 0, 0)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(key crypto.Signer, cn string, dns []string) []byte {
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: []int{2, 5, 4, 97}, Value: "NTRBG-175074752"}}},
			NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), DNSNames: dns, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	opKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	opDER := issue(opKey, "ИКУНК BGNCA00005001001", nil)
	pk8, _ := x509.MarshalPKCS8PrivateKey(opKey)
	os.WriteFile(filepath.Join(dir, "operator.pem"), append(pemOf("PRIVATE KEY", pk8), pemOf("CERTIFICATE", opDER)...), 0o600)
	os.WriteFile(filepath.Join(dir, "operator-cert.pem"), pemOf("CERTIFICATE", opDER), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), pemOf("CERTIFICATE", caDER), 0o600)
	roots := x509.NewCertPool()
	roots.AddCert(caCert)

	a.srv = newMiniServer(t, roots)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a.https = httptest.NewUnstartedServer(a.srv)
	a.https.TLS = &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{issue(srvKey, "localhost", []string{"localhost"})}, PrivateKey: srvKey}}}
	a.https.StartTLS()
	t.Cleanup(a.https.Close)
	os.WriteFile(filepath.Join(dir, "log.vkey"), []byte(a.srv.vkey+"\n"), 0o600)

	mln, _ := net.Listen("tcp", "127.0.0.1:0")
	a.metrics = mln.Addr().String()
	mln.Close()
	a.settings = filepath.Join(dir, "agent.conf")
	os.WriteFile(a.settings, []byte("server = "+a.https.URL+"\nserver-name = localhost\nca = ca.pem\nsigner = operator.pem\n"+
		"log-key = log.vkey\njournal = journal\nstate = state\nbatch-max-wait = 0\nretry-max = 2s\nmetrics = "+a.metrics+"\n"), 0o600)
	return a
}

// agentRun runs `akciz agent` in this process until stop is called.
type agentRun struct {
	stop   func() int
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func startAgent(t *testing.T, a *agentSite) *agentRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &agentRun{stderr: &syncBuffer{}}
	code := make(chan int, 1)
	env := &environment{stdout: io.Discard, stderr: r.stderr, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	go func() { code <- run(ctx, env, []string{"agent", "--config", a.cfg, "--settings", a.settings}) }()
	r.stop = func() int { cancel(); return <-code }
	return r
}

func agentCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	env := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	c := run(context.Background(), env, args)
	return c, out.String(), errb.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentCommand runs the whole agent: the simulator's registers are read, records are journalled,
// signed, delivered to the stand-in server and trimmed; status, metrics and export work while it runs; a
// restart continues the chain with agent-stopped, config-changed (the configuration changed) and agent-started between.
func TestAgentCommand(t *testing.T) {
	a := newAgentSite(t)
	r := startAgent(t, a)
	waitFor(t, "records delivered", func() bool { return len(a.srv.records()) >= 5 })
	waitFor(t, "metrics", func() bool {
		resp, err := http.Get("http://" + a.metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "akciz_agent_link_up 1") && strings.Contains(string(b), "# TYPE akciz_agent_backlog_records gauge")
	})
	// Export while the agent runs goes through its loopback listener; akciz verify accepts the file.
	out := filepath.Join(a.dir, "export.akb")
	if c, _, stderr := agentCmd("agent", "export", "--config", a.cfg, "--settings", a.settings, "--from", "2000-01-01T00:00:00Z", "--out", out); c != 0 {
		t.Fatalf("export: %d %s", c, stderr)
	}
	if c, stdout, stderr := agentCmd("verify", "--lang", "en", "--cert", filepath.Join(a.dir, "operator-cert.pem"), out); c != 0 {
		t.Fatalf("verify of the export: %d %s %s", c, stdout, stderr)
	}
	waitFor(t, "status file", func() bool {
		c, stdout, _ := agentCmd("agent", "status", "--settings", a.settings, "--lang", "en")
		return c == 0 && strings.Contains(stdout, "running") && strings.Contains(stdout, "Link to the server: working")
	})
	if c := r.stop(); c != 0 {
		t.Fatalf("agent exit %d: %s", c, r.stderr.String())
	}
	_, stdout, _ := agentCmd("agent", "status", "--settings", a.settings, "--lang", "en")
	if !strings.Contains(stdout, "stopped") {
		t.Fatalf("status after stop: %s", stdout)
	}
	// Structured logs: every line names the device, delivery's lines their part.
	logs := r.stderr.String()
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.Contains(l, "device=BGNCA00005001001") {
			t.Errorf("log line without the device: %s", l)
		}
	}
	if !strings.Contains(logs, `msg="batch delivered" device=BGNCA00005001001 part=deliver`) {
		t.Errorf("no structured delivery log:\n%s", logs)
	}
	n := len(a.srv.records())
	// The configuration changes between the runs (here only a comment: its hash is what the records carry).
	cfgXML, _ := os.ReadFile(a.cfg)
	oldSum := sha256.Sum256(cfgXML)
	cfgXML = append(cfgXML, "<!-- изменена -->\n"...)
	newSum := sha256.Sum256(cfgXML)
	os.WriteFile(a.cfg, cfgXML, 0o600)
	r = startAgent(t, a)
	waitFor(t, "second run delivered", func() bool { return len(a.srv.records()) > n+1 })
	if c := r.stop(); c != 0 {
		t.Fatalf("agent exit %d: %s", c, r.stderr.String())
	}
	// The server's chain is unbroken, each seq once, and holds agent-started, agent-stopped, agent-started.
	var kinds []string
	var prev wire.Hash
	for i, b := range a.srv.records() {
		e, err := wire.DecodeRecord(b)
		if err != nil || e.Seq != uint64(i+1) || e.Prev != prev {
			t.Fatalf("record %d: %v (seq %d)", i+1, err, e.Seq)
		}
		prev = e.Hash
		if ev := e.Record.Event; ev != nil {
			kinds = append(kinds, string(ev.Kind))
			if ev.Kind == core.EventConfigChanged && (ev.Previous != hex.EncodeToString(oldSum[:]) || ev.Value != hex.EncodeToString(newSum[:])) {
				t.Errorf("config-changed %s → %s, want %x → %x", ev.Previous, ev.Value, oldSum, newSum)
			}
		}
	}
	if got := strings.Join(kinds, ","); !strings.HasPrefix(got, "agent-started,") || !strings.Contains(got, "agent-stopped,config-changed,agent-started") {
		t.Fatalf("events %s", got)
	}
}

func TestAgentUsage(t *testing.T) {
	if c, stdout, _ := agentCmd("agent", "--help"); c != 0 || !strings.Contains(stdout, "akciz agent --config") {
		t.Fatalf("help: %d %s", c, stdout)
	}
	for _, sub := range []string{"status", "export"} {
		if c, stdout, _ := agentCmd("agent", sub, "--help"); c != 0 || !strings.Contains(stdout, "akciz agent "+sub) {
			t.Fatalf("%s help: %d %s", sub, c, stdout)
		}
	}
	if c, _, stderr := agentCmd("agent", "--config", "x.xml"); c != 2 || !strings.Contains(stderr, "--settings") {
		t.Fatalf("missing settings: %d %s", c, stderr)
	}
	bad := filepath.Join(t.TempDir(), "a.conf")
	os.WriteFile(bad, []byte("server = ftp://x\n"), 0o600)
	if c, _, stderr := agentCmd("agent", "--config", "x.xml", "--settings", bad); c != 1 || !strings.Contains(stderr, "a.conf:1: server") {
		t.Fatalf("bad settings: %d %s", c, stderr)
	}
}

func TestWriteMetrics(t *testing.T) {
	var b bytes.Buffer
	st := agentStatus{}
	st.Delivery.Backlog = 7
	st.Delivery.Alarms = append(st.Delivery.Alarms, deliver.Alarm{Code: "expired-certificate"})
	st.PollErr = "journal full"
	writeMetrics(&b, st)
	for _, want := range []string{"akciz_agent_backlog_records 7\n", "akciz_agent_alarm{code=\"expired-certificate\"} 1\n", "# TYPE akciz_agent_link_up gauge\n",
		"akciz_agent_polling 0\n", "akciz_agent_alarm{code=\"polling-stopped\"} 1\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// miniServer is a stand-in for the server's intake: verified batches, one device's chain, an RFC 6962 log
// of batch digests and receipts with consistency proofs.
type miniServer struct {
	t      testing.TB
	roots  *x509.CertPool
	signer note.Signer
	vkey   string

	mu     sync.Mutex
	tip    wire.Tip
	recs   [][]byte
	byFrst map[uint64]*wire.Header
	index  map[uint64]int64
	hashes []tlog.Hash
	n      int64
}

func newMiniServer(t testing.TB, roots *x509.CertPool) *miniServer {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "customs.test/akciz")
	s, _ := note.NewSigner(skey)
	return &miniServer{t: t, roots: roots, signer: s, vkey: vkey, byFrst: map[uint64]*wire.Header{}, index: map[uint64]int64{}}
}

func (m *miniServer) records() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.recs...)
}

func (m *miniServer) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, errors.New("no such hash")
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *miniServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/tip") {
		json.NewEncoder(w).Encode(map[string]any{"seq": m.tip.Seq, "chain": m.tip.Chain, "batch": m.tip.Batch})
		return
	}
	var recs [][]byte
	var again *wire.Header
	h, err := wire.DecodeBatch(r.Body, wire.DecodeOptions{Verify: &wire.VerifyOptions{Roots: m.roots}, Header: func(h *wire.Header) error {
		if old := m.byFrst[h.First]; old != nil && old.Digest() == h.Digest() {
			again = old
			return errors.New("again")
		}
		return m.tip.Check(h)
	}}, func(e *wire.Entry) error { recs = append(recs, bytes.Clone(e.Raw)); return nil })
	status := http.StatusOK
	if again != nil {
		h = again
	} else if err != nil {
		p := wire.ProblemFor(err, "", i18n.For(i18n.EN))
		w.WriteHeader(p.Status)
		json.NewEncoder(w).Encode(p)
		return
	} else {
		status = http.StatusCreated
		m.recs = append(m.recs, recs...)
		m.tip = m.tip.Next(h)
		hs, _ := tlog.StoredHashes(m.n, wire.LeafData(h.Digest()), m)
		m.hashes = append(m.hashes, hs...)
		m.byFrst[h.First], m.index[h.First] = h, m.n
		m.n++
	}
	root, _ := tlog.TreeHash(m.n, m)
	signed, _ := wire.SignCheckpoint(wire.Checkpoint{Origin: "customs.test/akciz/v1", Size: m.n, Root: root}, m.signer)
	idx := m.index[h.First]
	incl, _ := tlog.ProveRecord(m.n, idx, m)
	rc := &wire.Receipt{Format: wire.ReceiptFormat, Version: wire.Version, Device: h.Device, First: h.First, Last: h.Last,
		Batch: h.Digest(), Received: time.Now().UTC().Truncate(time.Millisecond), Index: idx, Checkpoint: string(signed), Inclusion: wire.Hashes(incl)}
	if known, _ := strconv.ParseInt(r.Header.Get(wire.TreeSizeHeader), 10, 64); known > 0 && known <= m.n {
		cons, _ := tlog.ProveTree(m.n, known, m)
		rc.ConsistencyFrom, rc.Consistency = known, wire.Hashes(cons)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(rc)
}

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st := agentStatus{Written: now, Running: true, PID: 42, Device: "BGNCA00005001001", Server: "https://x",
		Readings: map[string]pointReading{"BGNCA00005001001001": {Time: now, Values: []string{"FT101=1.5 L"}}}}
	st.Delivery.Link, st.Delivery.Backlog, st.Delivery.OldestUnacked = deliver.LinkDown, 12, now.Add(-90*time.Second)
	st.Delivery.Alarms = []deliver.Alarm{{Code: "unsent-too-long", Since: now}, {Code: "expired-certificate", Since: now}}
	var b bytes.Buffer
	printStatus(&environment{stdout: &b, p: i18n.For(i18n.BG)}, st, now)
	for _, want := range []string{"работи (процес 42", "прекъсната", "12 записа", "1m30s", "данните не са потвърдени",
		"(expired-certificate)", "BGNCA00005001001001 в", "FT101=1.5 L"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

// A crash after the poll's records were written to the state file and before all were appended: at
// start the missing ones are appended, once.
func TestRecoverPending(t *testing.T) {
	dir := t.TempDir()
	j, _, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{Device: "BGNCA00005001001"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a := &agentProc{set: &agentSettings{State: dir}, j: j, device: "BGNCA00005001001", readings: map[string]pointReading{},
		log: slog.New(slog.DiscardHandler)}
	var recs []*core.Record
	for i := range 3 {
		recs = append(recs, &core.Record{Kind: core.KindEvent, Time: time.Date(2026, 11, 22, 8, 0, i, 0, time.UTC),
			Device: a.device, Event: &core.Event{Kind: core.EventDoorOpened, Tag: fmt.Sprint("DOOR", i)}})
	}
	if _, _, err := j.AppendSync(func(seq uint64, prev [32]byte) ([]byte, error) { return wire.EncodeRecord(seq, prev, recs[0]) }); err != nil {
		t.Fatal(err)
	}
	prev := savedState{Poller: json.RawMessage(`{"v":1}`), Next: 1, Pending: recs}
	a.lastState = prev.Poller
	for range 2 {
		if err := a.recoverPending(prev); err != nil {
			t.Fatal(err)
		}
	}
	var tags []string
	j.ReadFrom(1, func(seq uint64, b []byte) error {
		e, _ := wire.DecodeRecord(b)
		tags = append(tags, e.Record.Event.Tag)
		return nil
	})
	if got := strings.Join(tags, ","); got != "DOOR0,DOOR1,DOOR2" {
		t.Fatalf("journal holds %s", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, stateFile))
	var st savedState
	// The state names the two records appended at recovery, from seq 2: both are in the journal now.
	if json.Unmarshal(b, &st) != nil || st.Next != 2 || len(st.Pending) != 2 || j.Stats().Next != 4 || string(st.Poller) != `{"v":1}` {
		t.Fatalf("state after recovery: %s", b)
	}
}
