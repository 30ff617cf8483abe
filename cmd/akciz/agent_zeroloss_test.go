package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/sim"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/wire"
)

// TestZeroLossChild is a child process of TestZeroLoss: the test binary re-executed, running an akciz
// command (`akciz agent`, `akciz server`) as main does, until SIGTERM or SIGKILL.
func TestZeroLossChild(t *testing.T) {
	args := os.Getenv("AKCIZ_ZERO_LOSS_CHILD")
	if args == "" {
		t.Skip("only as the child of TestZeroLoss")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &environment{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, p: i18n.For(i18n.EN)}, strings.Split(args, "\x1f"))
	stop()
	os.Exit(code)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// child is a process of the test binary running one akciz command.
type child struct {
	cmd *exec.Cmd
	out *syncBuffer
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^TestZeroLossChild$"), out: &syncBuffer{}}
	c.cmd.Env = append(os.Environ(), "AKCIZ_ZERO_LOSS_CHILD="+strings.Join(args, "\x1f"))
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that fails half-way leaves no process behind.
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.kill()
		}
	})
	return c
}

func (c *child) kill() { c.cmd.Process.Kill(); c.cmd.Wait() }

func (c *child) term() error {
	c.cmd.Process.Signal(syscall.SIGTERM)
	return c.cmd.Wait()
}

// truthRecorder keeps the simulator's ground-truth log and, for every line, the wall time it was written
// with the simulated time it carries: the map from the agent's clock to the simulator's.
type truthRecorder struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	marks []truthMark
	stop  time.Time // wall time the simulation stopped: simulated time stands still after it
}

type truthMark struct{ wall, sim time.Time }

func (r *truthRecorder) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range bytes.Split(p, []byte("\n")) {
		var v struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(l, &v) == nil && !v.Time.IsZero() {
			r.marks = append(r.marks, truthMark{now, v.Time})
		}
	}
	return r.buf.Write(p)
}

// stopped says whether wall time w is after the simulation stopped.
func (r *truthRecorder) stopped(w time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.stop.IsZero() && w.After(r.stop)
}

// markStart notes that the simulation still stands at its start (tick 0, the time of the truth's start
// record) at wall time w, when its run begins.
func (r *truthRecorder) markStart(w time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks = append(r.marks, truthMark{w, r.marks[0].sim})
}

func (r *truthRecorder) String() string { r.mu.Lock(); defer r.mu.Unlock(); return r.buf.String() }

// simAt is the simulated time at wall time w: the simulated time of the last truth line written before w,
// advanced at speed, never past the next line's (the simulator was not there yet) nor past its stop.
func (r *truthRecorder) simAt(w time.Time, speed float64) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stop.IsZero() && w.After(r.stop) {
		w = r.stop
	}
	i := sort.Search(len(r.marks), func(i int) bool { return r.marks[i].wall.After(w) })
	if i == 0 {
		return r.marks[0].sim.Add(-time.Duration(float64(r.marks[0].wall.Sub(w)) * speed))
	}
	m := r.marks[i-1]
	t := m.sim.Add(time.Duration(float64(w.Sub(m.wall)) * speed))
	if i < len(r.marks) && t.After(r.marks[i].sim) {
		t = r.marks[i].sim
	}
	return t
}

// TestZeroLoss is the zero-loss test of issue #4: the fuel depot's simulator running faster than real
// time, the agent as a real child process SIGKILLed at random moments, the real `akciz server` (a child
// process too, on a SQLite store) stopped — killed or shut down — for stretches and started again. At the
// end the server holds every record the agent kept exactly once, in order, chained, and the simulator's
// ground truth is on it: every transaction (by point and end totals), every door, UPS and error-bit event,
// and every periodic totals sample covered by received readings (see checkPeriodic). `make
// test-zero-loss` runs it with 20 kills at 120×; go test runs a bounded version.
func TestZeroLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	kills := envInt("AKCIZ_ZERO_LOSS_KILLS", 8)
	speed := float64(envInt("AKCIZ_ZERO_LOSS_SPEED", 60))
	seed := uint64(envInt("AKCIZ_ZERO_LOSS_SEED", int(time.Now().UnixNano()%1000000)))
	rng := mrand.New(mrand.NewPCG(seed, 7))
	t.Logf("seed %d (AKCIZ_ZERO_LOSS_SEED), kills %d, speed %g", seed, kills, speed)
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "server")
	const device = "BGNCA00005001001"

	// The operator's key and certificate, registered with the server by fingerprint.
	opKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "ИКУНК " + device,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: []int{2, 5, 4, 97}, Value: "NTRBG-" + srvEIK}}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	opDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, opKey.Public(), opKey)
	if err != nil {
		t.Fatal(err)
	}
	pk8, _ := x509.MarshalPKCS8PrivateKey(opKey)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: opDER})
	os.WriteFile(filepath.Join(dir, "operator.pem"), append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), certPEM...), 0o600)
	os.WriteFile(filepath.Join(dir, "operator-cert.pem"), certPEM, 0o600)
	for _, s := range [][]string{
		{"server", "operator", "add", "--dir", data, "--eik", srvEIK, "--name", "Нефтена база ЕООД"},
		{"server", "site", "add", "--dir", data, "--warehouse", device[:13], "--operator", srvEIK, "--name", "Нефтобаза"},
		{"server", "device", "add", "--dir", data, "--id", device},
		{"server", "cert", "add", "--dir", data, "--operator", srvEIK, filepath.Join(dir, "operator-cert.pem")},
	} {
		if code, out, errs := runCmd(t, s...); code != 0 {
			t.Fatalf("%v: %d\n%s%s", s, code, out, errs)
		}
	}

	// `akciz server` on a fixed loopback port, so that it comes back where the agent looks for it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvAddr := ln.Addr().String()
	ln.Close()
	var server *child
	var serverLog bytes.Buffer
	startServer := func() {
		server = startChild(t, "server", "--dir", data, "--listen", srvAddr)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(server.out.String(), "https://"+srvAddr) {
			if time.Now().After(deadline) {
				t.Fatalf("akciz server did not start:\n%s", server.out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stopServer := func(kill bool) {
		if kill {
			server.kill()
		} else if err := server.term(); err != nil {
			t.Errorf("akciz server stopped with %v:\n%s", err, server.out)
		}
		serverLog.WriteString(server.out.String())
		server = nil
	}
	startServer()
	defer func() {
		if server != nil {
			stopServer(true)
		}
	}()

	// The simulator, running on its own at speed, with its ground truth.
	sc, err := sim.LoadFile("../../examples/fuel-depot/scenario.xml")
	if err != nil {
		t.Fatal(err)
	}
	truth := &truthRecorder{}
	s, err := sim.New(sc, sim.Options{Seed: seed, Truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msrv := &modbus.Server{Handler: s.Handler()}
	// The Modbus server outlives the simulation: after the simulator stops, the agent reads its final state.
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	go msrv.ServeTCP(serveCtx, mln)
	defer mln.Close()

	// The fuel depot's configuration with every point read every second (1–2 simulated minutes at these
	// speeds), so that the interval-class maxima of чл. 30(13), taken in simulated time, mean something.
	cfgXML, err := os.ReadFile("../../examples/fuel-depot/automation_config.xml")
	if err != nil {
		t.Fatal(err)
	}
	cfgXML = regexpAddr(cfgXML, mln.Addr().String())
	cfgXML = regexp.MustCompile(` interval="[0-9]+[smh]"`).ReplaceAll(cfgXML, []byte(` interval="1s"`))
	cfg := filepath.Join(dir, "automation_config.xml")
	os.WriteFile(cfg, cfgXML, 0o600)
	settings := filepath.Join(dir, "agent.conf")
	os.WriteFile(settings, []byte("server = https://"+srvAddr+"\nca = "+filepath.Join(data, devCAFile)+"\nsigner = operator.pem\n"+
		"log-key = "+filepath.Join(data, ingest.VerifierKeyFile)+"\njournal = journal\nstate = state\nbatch-max-wait = 0\nretry-max = 2s\n"), 0o600)
	startAgent := func() *child { return startChild(t, "agent", "--config", cfg, "--settings", settings) }

	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	// The simulation starts once the first agent has made its first poll (it then stands at tick 0, which
	// the truth records as its start), so that every truth sample falls inside the agent's watch.
	startSim := func() {
		waitFor(t, "the agent's first poll", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "state", stateFile))
			return bytes.Contains(b, []byte(`"poller":`)) // the poller's state is saved with its first poll's records
		})
		truth.markStart(time.Now())
		go func() { simDone <- s.Run(simCtx, sim.RealTime(speed), 0) }()
	}

	// Kills and outages: the agent is SIGKILLed after 0.3–2 s of every run; the server goes down before
	// every third run (alternately SIGKILLed and shut down) and comes back two runs later.
	outages := 0
	for k := 0; k < kills; k++ {
		switch {
		case k%3 == 1:
			stopServer(outages%2 == 0)
			outages++
		case k%3 == 0 && server == nil:
			startServer()
		}
		agent := startAgent()
		if k == 0 {
			startSim()
		}
		time.Sleep(time.Duration(300+rng.IntN(1700)) * time.Millisecond)
		agent.kill()
	}
	if server == nil {
		startServer()
	}
	// The last run: let the simulator run on a little, stop it, let the agent see the final registers,
	// then stop the agent cleanly.
	agent := startAgent()
	time.Sleep(2 * time.Second)
	stopSim()
	<-simDone
	truth.mu.Lock()
	truth.stop = time.Now()
	truth.mu.Unlock()
	s.Close()
	// Wait until the agent has read the final registers of every point twice (a fixed sleep here lost
	// the transactions that ended in the simulation's last seconds when a loaded machine slowed the
	// agent's start): each reading stamped after the stop shows the last tick.
	waitFinal := time.Now().Add(60 * time.Second)
	for !finalReadings(t, filepath.Join(dir, "journal"), truth, 2) {
		if time.Now().After(waitFinal) {
			t.Fatalf("the agent did not read the simulator's final registers within 60 s\n%s", agent.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := agent.term(); err != nil {
		t.Fatalf("last run: %v\n%s", err, agent.out)
	}
	// agent-stopped of the last run is in the journal only: one more clean run delivers everything
	// before it (its own agent-started and agent-stopped stay behind and are not counted).
	j, _, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{Device: device})
	if err != nil {
		t.Fatal(err)
	}
	produced := j.Stats().Last
	j.Close()
	agent = startAgent()
	client := tipClient(t, filepath.Join(data, devCAFile), opKey, opDER)
	waitTip := time.Now().Add(60 * time.Second)
	for tip := uint64(0); tip < produced; tip = serverTip(client, srvAddr, device) {
		if time.Now().After(waitTip) {
			t.Fatalf("the server's tip stays at %d, the agent kept %d\n%s", tip, produced, agent.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	agent.term()
	stopServer(false)

	// What the server stored, read from its SQLite database.
	st, err := sqlite.Open(ctx, filepath.Join(data, serverDBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs [][]byte
	if err := st.Records(ctx, device, 1, int64(produced), func(r *store.Row) error {
		recs = append(recs, bytes.Clone(r.Bytes))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	z := zeroLoss{t: t, speed: speed, truth: truth}
	z.check(recs, produced)
	if t.Failed() {
		t.Logf("server log:\n%s", serverLog.String())
	}
	line := fmt.Sprintf("zero-loss produced=%d received=%d lost=%d duplicated=%d kills=%d outages=%d",
		produced, len(recs), z.lost, z.dup, kills, outages)
	t.Log(line)
	if os.Getenv("AKCIZ_ZERO_LOSS_REPORT") != "" {
		os.WriteFile(os.Getenv("AKCIZ_ZERO_LOSS_REPORT"), []byte(z.summary+"\n"+line+"\n"), 0o644)
	}
}

// finalReadings reports whether the journal in dir holds, for every control point it has readings of, at
// least n readings stamped after the simulation stopped. It reads the journal without changing it
// (journal.Read), while the agent runs.
func finalReadings(t *testing.T, dir string, truth *truthRecorder, n int) bool {
	points := map[string]int{}
	_, err := journal.Read(dir, nil, func(_ uint64, data []byte) error {
		e, err := wire.DecodeRecord(data)
		if err != nil || e.Record.Reading == nil {
			return nil
		}
		if truth.stopped(e.Record.Time) {
			points[e.Record.Point]++
		} else if _, ok := points[e.Record.Point]; !ok {
			points[e.Record.Point] = 0
		}
		return nil
	})
	if err != nil {
		t.Logf("read the journal: %v", err)
		return false
	}
	for _, c := range points {
		if c < n {
			return false
		}
	}
	return len(points) > 0
}

// tipClient is an HTTPS client of the server presenting the operator's certificate.
func tipClient(t *testing.T, caFile string, key *ecdsa.PrivateKey, der []byte) *http.Client {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}}
}

// serverTip is the last seq the server holds of device (0 on any failure).
func serverTip(c *http.Client, addr, device string) uint64 {
	resp, err := c.Get("https://" + addr + "/api/v1/devices/" + device + "/tip")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var tip struct {
		Seq uint64 `json:"seq"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&tip) != nil {
		return 0
	}
	return tip.Seq
}

// zeroLoss compares what the server received with the simulator's ground truth.
type zeroLoss struct {
	t       *testing.T
	speed   float64
	truth   *truthRecorder
	lost    int
	dup     int
	summary string
	errorf  func(format string, args ...any) // t.Errorf when nil
}

// received is one reading of a control point on the server: its simulated time and totalizer values.
type received struct {
	seq    uint64
	sim    time.Time
	final  bool // read after the simulation stopped: it shows the last tick, after every truth sample
	totals map[string]float64
}

func (z *zeroLoss) check(recs [][]byte, produced uint64) {
	t := z.t
	if uint64(len(recs)) != produced {
		z.lost += int(produced) - len(recs)
		t.Errorf("the server holds %d records of the %d the agent kept", len(recs), produced)
	}
	// The chain: records 1…N, each naming its predecessor's hash, each content once.
	seen := map[string]bool{}
	var prev wire.Hash
	type tx struct {
		point   string
		endVol  float64
		matched bool
	}
	var txs []tx
	agentEvents := map[string]int{}
	readings := map[string][]received{} // by point number, in chain order
	for i, b := range recs {
		e, err := wire.DecodeRecord(b)
		if err != nil || e.Seq != uint64(i+1) || e.Prev != prev {
			t.Fatalf("server record %d: %v, seq %d, chain ok %v", i+1, err, e.Seq, e.Prev == prev)
		}
		prev = e.Hash
		r := e.Record
		key, _ := json.Marshal(r)
		if seen[string(key)] {
			z.dup++
			t.Errorf("record %d repeats an earlier record's content: %.400s", e.Seq, b)
		}
		seen[string(key)] = true
		switch {
		case r.Event != nil:
			agentEvents[string(r.Event.Kind)]++
		case r.Transaction != nil && r.Transaction.Forward.Volume != nil:
			v, _ := strconv.ParseFloat(string(r.Transaction.Forward.Volume.End), 64)
			txs = append(txs, tx{point: r.Point[len(r.Point)-3:], endVol: v})
		case r.Reading != nil:
			rd := received{seq: e.Seq, sim: z.truth.simAt(r.Time, z.speed), final: z.truth.stopped(r.Time), totals: map[string]float64{}}
			for _, v := range r.Reading.Values {
				if strings.HasPrefix(string(v.Role), "total-") && len(v.Quality) == 0 {
					f, _ := strconv.ParseFloat(string(v.Value), 64)
					rd.totals[string(v.Role)] = f
				}
			}
			readings[r.Point] = append(readings[r.Point], rd)
		}
	}

	// The ground truth, line by line.
	watched := map[string]string{"door-open": "door-opened", "door-closed": "door-closed", "power-lost": "power-lost",
		"power-restored": "power-restored", "error-set": "error-bits-set", "error-cleared": "error-bits-cleared"}
	truthEvents := map[string]int{}
	classes := map[string]core.IntervalClass{}
	var samples []truthSample
	truthTx, lostTx := 0, 0
	lastTx := map[int]int{} // by point number: index in txs of the last matched transaction
	sc := bufio.NewScanner(strings.NewReader(z.truth.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var tr struct {
			Type   string          `json:"type"`
			Time   time.Time       `json:"time"`
			Event  string          `json:"event"`
			Point  string          `json:"point"`
			Number int             `json:"number"`
			Totals json.RawMessage `json:"totals"`
			Points []struct {
				ID    string `json:"id"`
				Class string `json:"class"`
			} `json:"points"`
		}
		if json.Unmarshal(sc.Bytes(), &tr) != nil {
			continue
		}
		switch tr.Type {
		case "start":
			for _, p := range tr.Points {
				classes[p.ID] = core.IntervalClass(p.Class)
			}
		case "event":
			if k := watched[tr.Event]; k != "" {
				truthEvents[k]++
			}
		case "totals":
			var tot map[string]float64
			json.Unmarshal(tr.Totals, &tot)
			samples = append(samples, truthSample{point: tr.Point, sim: tr.Time, totals: tot})
		case "transaction":
			var tot map[string]struct {
				End json.Number `json:"end"`
			}
			json.Unmarshal(tr.Totals, &tot)
			v, ok := tot["total-volume"]
			if !ok {
				continue
			}
			truthTx++
			end, _ := v.End.Float64()
			found := false
			for i := range txs {
				if !txs[i].matched && txs[i].point == fmt.Sprintf("%03d", tr.Number) && math.Abs(txs[i].endVol-end) < 0.5 {
					txs[i].matched, found = true, true
					// In order: a point's transactions arrive in the order the truth finished them.
					if i < lastTx[tr.Number] {
						t.Errorf("truth transaction of point %d ending at %v arrived before the one the truth finished earlier", tr.Number, end)
					}
					lastTx[tr.Number] = i
					break
				}
			}
			if !found {
				lostTx++
				t.Errorf("truth transaction of point %d ending at total %v is not on the server", tr.Number, end)
			}
		}
	}
	z.lost += lostTx
	for _, x := range txs {
		if !x.matched {
			z.dup++
			t.Errorf("transaction of point %s ending at %v is not in the ground truth (or twice)", x.point, x.endVol)
		}
	}
	truthEv, lostEv := 0, 0
	for _, k := range watched {
		truthEv += truthEvents[k]
		switch d := agentEvents[k] - truthEvents[k]; {
		case d < 0:
			lostEv -= d
			t.Errorf("%d %s events of the ground truth are not on the server", -d, k)
		case d > 0:
			z.dup += d
			t.Errorf("%d %s events on the server more than in the ground truth", d, k)
		}
	}
	z.lost += lostEv
	covered, before, uncovered := z.checkPeriodic(samples, readings, classes)
	z.lost += uncovered + before
	if before > 0 {
		t.Errorf("%d truth totals samples before the agent's first scan: the simulation should start after it", before)
	}
	nReadings := 0
	for _, rs := range readings {
		nReadings += len(rs)
	}
	z.summary = fmt.Sprintf("truth transactions=%d received=%d; site events=%d received=%d; periodic totals samples=%d covered=%d "+
		"before-first-scan=%d uncovered=%d (by %d readings)", truthTx, truthTx-lostTx, truthEv, truthEv-lostEv,
		len(samples), covered, before, uncovered, nReadings)
	t.Log(z.summary)
	t.Logf("ground truth events: %v; received: %v", truthEvents, agentEvents)
	if len(samples) == 0 || nReadings == 0 {
		t.Errorf("the ground truth holds %d totals samples, the server %d readings: the run proves nothing", len(samples), nReadings)
	}
	if z.lost > 0 || z.dup > 0 {
		t.Logf("truth:\n%s", z.truth.String())
	}
}

// truthSample is one periodic `totals` record of the ground truth: what a point's totalizers showed at a
// simulated time.
type truthSample struct {
	point  string
	sim    time.Time
	totals map[string]float64
}

// checkPeriodic says what "every periodic reading of the ground truth is on the receiving side" means,
// and checks it. The simulator writes a `totals` sample of every point each simulated minute; the agent
// reads on its own schedule, so the two are matched by time, not one to one: a sample at simulated time T
// with totalizer values V is covered when the server holds the readings of that point that enclose T — lo,
// the last read at or before T, and hi, the first read at or after T — no further apart than the point's
// interval-class maximum of чл. 30(13) in simulated time, and their values enclose the truth: lo ≤ V ≤ hi
// for every totalizer both carry. A reading missing or late (a hole longer than the class maximum) or a
// value that disagrees with the truth leaves a sample uncovered. Agent times are mapped to simulated times
// through the wall times at which the simulator wrote its truth lines (truthRecorder.simAt), which is
// exact to within tol (half a second of wall time); lo and hi are taken a tol away from T, so that a
// mapping error can only widen the bracket, never make a right value look wrong. Samples before the
// agent's first scan of the point cannot be the agent's to deliver and are counted apart. Each point's
// readings are also checked to be non-decreasing (the scenario has no totalizer fault). A reading made after
// the simulation stopped shows its last tick, which is after every sample.
func (z *zeroLoss) checkPeriodic(samples []truthSample, readings map[string][]received, classes map[string]core.IntervalClass) (covered, before, uncovered int) {
	errorf := z.t.Errorf
	if z.errorf != nil {
		errorf = z.errorf
	}
	tol := time.Duration(float64(500*time.Millisecond) * z.speed)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
	for p, rs := range readings {
		for i := 1; i < len(rs); i++ {
			for role, v := range rs[i].totals {
				if w, ok := rs[i-1].totals[role]; ok && v < w && !near(v, w) {
					errorf("point %s: %s went down from %v (record %d) to %v (record %d)", p, role, w, rs[i-1].seq, v, rs[i].seq)
				}
			}
		}
	}
	for _, smp := range samples {
		rs := readings[smp.point]
		if len(rs) == 0 || smp.sim.Before(rs[0].sim.Add(tol)) {
			before++
			continue
		}
		lo, hi := -1, -1
		for i, r := range rs {
			if !r.final && !r.sim.After(smp.sim.Add(-tol)) {
				lo = i
			}
			if hi < 0 && (r.final || !r.sim.Before(smp.sim.Add(tol))) {
				hi = i
			}
		}
		limit := classes[smp.point].MaxInterval() + 2*tol
		why := ""
		switch {
		case lo < 0 || hi < 0:
			why = "no reading after it"
		case rs[hi].sim.Sub(rs[lo].sim) > limit:
			why = fmt.Sprintf("readings %d and %d are %v apart in simulated time, more than %v", rs[lo].seq, rs[hi].seq,
				rs[hi].sim.Sub(rs[lo].sim), limit)
		default:
			for role, want := range smp.totals {
				a, okA := rs[lo].totals[role]
				b, okB := rs[hi].totals[role]
				if okA && okB && (a > want && !near(a, want) || b < want && !near(b, want)) {
					why = fmt.Sprintf("%s: readings %d and %d show %v and %v, the truth %v", role, rs[lo].seq, rs[hi].seq, a, b, want)
				}
			}
		}
		if why != "" {
			uncovered++
			errorf("truth totals sample of %s at %s not covered: %s", smp.point, smp.sim.Format(time.RFC3339Nano), why)
			continue
		}
		covered++
	}
	return covered, before, uncovered
}

// regexpAddr points every controller of the configuration at addr.
func regexpAddr(xml []byte, addr string) []byte {
	out := xml
	for _, l := range strings.Split(string(xml), "\n") {
		i := strings.Index(l, `address="127.0.0.1:`)
		if i < 0 {
			continue
		}
		j := strings.Index(l[i+9:], `"`)
		out = bytes.ReplaceAll(out, []byte(l[i:i+9+j+1]), []byte(`address="`+addr+`"`))
	}
	return out
}

// checkPeriodic fails when a reading is missing, when readings are too far apart for the interval class,
// or when their values do not bracket the truth; and passes on readings that cover every sample.
func TestCheckPeriodic(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	const p = "BGNCA00005001001001"
	classes := map[string]core.IntervalClass{p: core.ClassRoadLoading}
	var samples []truthSample
	for m := 1; m <= 30; m++ { // a sample a minute, 100 L a minute
		samples = append(samples, truthSample{point: p, sim: t0.Add(time.Duration(m) * time.Minute),
			totals: map[string]float64{"total-volume": float64(1000 + 100*m)}})
	}
	reading := func(seq int, min float64, vol float64) received {
		return received{seq: uint64(seq), sim: t0.Add(time.Duration(min * float64(time.Minute))), totals: map[string]float64{"total-volume": vol}}
	}
	every := func(step float64, skip func(m float64) bool, val func(m float64) float64) []received {
		var rs []received
		for m := 0.5; m <= 31; m += step {
			if !skip(m) {
				rs = append(rs, reading(len(rs)+1, m, val(m)))
			}
		}
		return rs
	}
	none := func(float64) bool { return false }
	exact := func(m float64) float64 { return 1000 + 100*m }
	for _, c := range []struct {
		name      string
		rs        []received
		uncovered int
	}{
		{"every 2 min", every(2, none, exact), 0},
		{"a 14-minute hole", every(2, func(m float64) bool { return m > 10 && m < 22 }, exact), 14}, // samples 9…22
		{"values too low", every(2, none, func(m float64) float64 { return 700 + 100*m }), 30},
		{"values too high", every(2, none, func(m float64) float64 { return 1300 + 100*m }), 30},
		{"no reading after the last samples", every(2, func(m float64) bool { return m > 25 }, exact), 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			z := &zeroLoss{t: t, speed: 1, errorf: func(string, ...any) {}}
			covered, before, uncovered := z.checkPeriodic(samples, map[string][]received{p: c.rs}, classes)
			if uncovered != c.uncovered || covered+uncovered+before != len(samples) {
				t.Errorf("covered %d, before %d, uncovered %d; want %d uncovered", covered, before, uncovered, c.uncovered)
			}
		})
	}
}
