package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/wire"
)

// demoStart runs `akciz demo` in this process on dir until the returned stop is called, which gives the
// exit code. It waits until the demo runs.
func demoStart(t *testing.T, dir, httpAddr string) (*demoRun, *syncBuffer, func() int) {
	t.Helper()
	ready := make(chan *demoRun, 1)
	demoReady = func(d *demoRun) { ready <- d }
	t.Cleanup(func() { demoReady = nil })
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	env := &environment{stdout: out, stderr: out, stdin: strings.NewReader(""), p: i18n.For(i18n.EN)}
	code := make(chan int, 1)
	go func() { code <- run(ctx, env, []string{"demo", "--dir", dir, "--http", httpAddr, "--lang", "en"}) }()
	var once sync.Once
	exit := 0
	stop := func() int { once.Do(func() { cancel(); exit = <-code }); return exit }
	select {
	case d := <-ready:
		return d, out, stop
	case c := <-code:
		t.Fatalf("akciz demo exited with %d before it ran:\n%s", c, out.String())
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("akciz demo did not start in 30 s:\n%s", out.String())
	}
	return nil, nil, nil
}

// truthTx is a finished transaction of the simulator's ground truth.
type truthTx struct {
	point         string
	end, quantity float64
}

func readTruthTxs(t *testing.T, path string) []truthTx {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truthTx
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Type   string `json:"type"`
			Point  string `json:"point"`
			Totals map[string]struct {
				End      float64 `json:"end"`
				Quantity float64 `json:"quantity"`
			} `json:"totals"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Type != "transaction" {
			continue
		}
		if v, ok := r.Totals["total-volume"]; ok {
			out = append(out, truthTx{point: r.Point, end: v.End, quantity: v.Quantity})
		}
	}
	return out
}

// TestDemo runs `akciz demo` as a newcomer would, with the box's door opened sooner: within the bounded
// time the server holds readings of the fuel depot, a finished loading transaction whose quantity is the
// simulator's ground truth, and (once watching exists) an open door alarm (чл. 36); the console (once it
// exists) shows the officer the site. A second start with the same directory reuses the certificates and
// the data.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the whole system for about half a minute")
	}
	defer func(at time.Duration) { demoDoorAt = at }(demoDoorAt)
	demoDoorAt = 2 * time.Minute // 2 s at the demo's speed, instead of 20
	dir := t.TempDir()
	httpAddr, err := freeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	d, out, stop := demoStart(t, dir, httpAddr)
	defer stop()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, demoServerDir, serverDBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The registry: what demoRegister put there, through the admin commands and the store.
	if s, err := st.Site(ctx, demoWarehouse); err != nil || s.Operator != demoOperatorEIK || s.CustomsOffice != demoOffice || s.State != store.SiteLive {
		t.Fatalf("site %s: %+v, %v", demoWarehouse, s, err)
	}
	if pts, err := st.Points(ctx, demoDevice); err != nil || len(pts) != 5 {
		t.Fatalf("points of %s: %v, %v", demoDevice, pts, err)
	}
	if p, _, err := st.PersonByCertificate(ctx, store.Fingerprint(d.certs.leaf("officer").Raw)); err != nil || p.Role != store.RoleOfficer || p.Office != demoOffice {
		t.Fatalf("the officer: %+v, %v", p, err)
	}

	deadline := time.Now().Add(45 * time.Second)
	var readings, txs int
	var matched *truthTx
	alarm := !hasServerPart("watch")
	for time.Now().Before(deadline) && (readings == 0 || matched == nil || !alarm) {
		time.Sleep(250 * time.Millisecond)
		readings, txs = 0, 0
		truth := readTruthTxs(t, filepath.Join(dir, demoPlantDir, demoTruthFile))
		err := st.Records(ctx, demoDevice, 1, math.MaxInt64, func(r *store.Row) error {
			e, err := wire.DecodeRecord(r.Bytes)
			if err != nil {
				return err
			}
			switch e.Record.Kind {
			case core.KindReading:
				readings++
			case core.KindTransaction:
				txs++
				tx := e.Record.Transaction
				if tx.Forward.Volume == nil {
					return nil
				}
				end, _ := strconv.ParseFloat(string(tx.Forward.Volume.End), 64)
				q, _ := strconv.ParseFloat(string(tx.Forward.Volume.Quantity), 64)
				for i, tt := range truth {
					if tt.point == e.Record.Point && math.Abs(tt.end-end) < 0.5 {
						if math.Abs(tt.quantity-q) >= 0.5 {
							t.Errorf("transaction of %s ending at %v: quantity %v on the server, %v in the ground truth", tt.point, end, q, tt.quantity)
						}
						matched = &truth[i]
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !alarm {
			list, err := st.Alarms(ctx, store.AlarmFilter{Device: demoDevice, Kinds: []store.AlarmKind{store.AlarmDoorOpened},
				States: []store.AlarmState{store.AlarmStateOpen}})
			alarm = err == nil && len(list) > 0
		}
	}
	if readings == 0 || matched == nil || !alarm {
		t.Fatalf("after 45 s: %d readings, %d transactions (one matching the ground truth: %v), door alarm open: %v\n%s",
			readings, txs, matched != nil, alarm, out.String())
	}
	t.Logf("%d readings, %d transactions; transaction of %s: %v L as in the ground truth", readings, txs, matched.point, matched.quantity)
	// What the newcomer reads in the terminal says the same.
	said := []string{"the first readings are on the server", "the first finished transaction", "event: ИКУНК — the box was opened (чл. 36)"}
	if hasServerPart("watch") {
		said = append(said, "ALARM: ИКУНК — the box was opened (чл. 36)")
	}
	waitFor(t, "the progress lines", func() bool {
		for _, s := range said {
			if !strings.Contains(out.String(), s) {
				return false
			}
		}
		return true
	})

	if hasServerPart("console") {
		client := demoClient(t, d.certs, "officer")
		resp, err := client.Get(d.console + "/sites")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(demoWarehouse)) {
			t.Errorf("GET /sites as the officer: %s, site %s named: %v\n%.2000s", resp.Status, demoWarehouse,
				bytes.Contains(body, []byte(demoWarehouse)), body)
		}
	}

	head, err := st.DeviceHead(ctx, demoDevice)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, demoCertDir, "ca.pem"))
	officer, _ := os.ReadFile(filepath.Join(dir, demoCertDir, "officer.p12"))
	if code := stop(); code != 0 {
		t.Fatalf("akciz demo exited with %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "Stopped.") {
		t.Errorf("no clean stop said:\n%s", out.String())
	}
	var plant plantState
	if b, err := os.ReadFile(filepath.Join(dir, demoPlantDir, demoPlantFile)); err != nil || json.Unmarshal(b, &plant) != nil || len(plant.Totals) != 5 {
		t.Fatalf("plant state after stop: %s, %v", b, err)
	}

	// A second start: the same certificates and registry, the plant continuing, the records continuing
	// the device's chain.
	d2, out2, stop2 := demoStart(t, dir, httpAddr)
	defer stop2()
	if !strings.Contains(out2.String(), "continuing with the data in") {
		t.Errorf("the second start does not say it continues:\n%s", out2.String())
	}
	if len(d2.certs.made) > 0 {
		t.Errorf("the second start made certificates again: %v", d2.certs.made)
	}
	ca2, _ := os.ReadFile(filepath.Join(dir, demoCertDir, "ca.pem"))
	officer2, _ := os.ReadFile(filepath.Join(dir, demoCertDir, "officer.p12"))
	if !bytes.Equal(ca, ca2) || !bytes.Equal(officer, officer2) {
		t.Error("the second start changed the CA or the officer's PKCS#12 file")
	}
	if ops, err := st.Operators(ctx); err != nil || len(ops) != 1 {
		t.Errorf("operators after the second start: %v, %v", ops, err)
	}
	if people, err := st.People(ctx); err != nil || len(people) != 2 {
		t.Errorf("people after the second start: %v, %v", people, err)
	}
	cfgTotal := func(point string) float64 {
		v, _ := strconv.ParseFloat(plant.Totals[point]["total-volume"], 64)
		return v
	}
	waitFor(t, "records of the second start", func() bool {
		h, err := st.DeviceHead(ctx, demoDevice)
		return err == nil && h.Seq > head.Seq+5
	})
	// The first reading of bay 1 in the second run shows its totalizer where the first run left it.
	var first *core.Record
	st.Records(ctx, demoDevice, head.Seq+1, math.MaxInt64, func(r *store.Row) error {
		e, err := wire.DecodeRecord(r.Bytes)
		if err != nil {
			return err
		}
		if first == nil && e.Record.Kind == core.KindReading && e.Record.Point == demoDevice+"001" {
			r := e.Record
			first = &r
		}
		// The totalizers continue exactly (чл. 30, ал. 6).
		if ev := e.Record.Event; ev != nil && ev.Kind == core.EventTotalizerDecreased {
			t.Errorf("after a restart %s %s went down: %s → %s", e.Record.Point, ev.Tag, ev.Previous, ev.Value)
		}
		return nil
	})
	if first != nil {
		for _, v := range first.Reading.Values {
			if v.Tag == "p1_total_volume" {
				if got, _ := strconv.ParseFloat(string(v.Value), 64); got < cfgTotal(demoDevice+"001") {
					t.Errorf("bay 1's totalizer starts the second run at %v, below where the first stopped (%v)", got, cfgTotal(demoDevice+"001"))
				}
			}
		}
	}
	if code := stop2(); code != 0 {
		t.Fatalf("second akciz demo exited with %d:\n%s", code, out2.String())
	}
}

// demoClient is an HTTPS client that trusts the demo CA, presents the certificate of a demo person and
// keeps the console's session cookie, as a browser (or curl -L -b ”) does.
func demoClient(t *testing.T, c *demoCerts, who string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: poolOf(c.ca), Certificates: []tls.Certificate{c.leaves[who]}}}}
}

// TestDemoSample checks that the sample configuration names the operator, site and box the demo's
// certificates are made for.
func TestDemoSample(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "examples", demoScenario, demoConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Person.EIK != demoOperatorEIK || cfg.Person.Name != demoOperatorName || cfg.Site.Warehouse != demoWarehouse ||
		cfg.Site.CustomsOffice != demoOffice || cfg.Box.Number != 1 {
		t.Errorf("the sample says %s %q, site %s, office %s, box %d; the demo's certificates are made for %s %q, %s, %s, %s",
			cfg.Person.EIK, cfg.Person.Name, cfg.Site.Warehouse, cfg.Site.CustomsOffice, cfg.Box.Number,
			demoOperatorEIK, demoOperatorName, demoWarehouse, demoOffice, demoDevice)
	}
}

// TestDemoHelp checks that --help teaches in both languages and that bad flags are usage errors.
func TestDemoHelp(t *testing.T) {
	for _, lang := range []string{"bg", "en"} {
		code, out, _ := agentCmd("demo", "--lang", lang, "--help")
		if code != 0 || !strings.Contains(out, "akciz demo") || !strings.Contains(out, "officer.p12") || !strings.Contains(out, defaultDemoHTTP) {
			t.Errorf("--lang %s --help: %d\n%s", lang, code, out)
		}
	}
	for _, args := range [][]string{{"--speed", "0"}, {"--speed", "1000"}, {"--http", "nohost"}, {"extra"}, {"--nope"}} {
		code, _, errs := agentCmd(append([]string{"demo"}, args...)...)
		if code != 2 || errs == "" {
			t.Errorf("akciz demo %v: code %d, stderr %q", args, code, errs)
		}
	}
	// A console port in use is refused before anything is made in --dir.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "demo")
	code, _, errs := agentCmd("demo", "--lang", "en", "--dir", dir, "--http", ln.Addr().String())
	if _, serr := os.Stat(dir); code != 1 || !strings.Contains(errs, "--http") || serr == nil {
		t.Errorf("console port in use: code %d, stderr %q, %s made: %v", code, errs, dir, serr == nil)
	}
}

// TestDemoCertsReissue checks that a server certificate is made again for a new --http host, and that
// the others are kept.
func TestDemoCertsReissue(t *testing.T) {
	dir := t.TempDir()
	c1, err := openDemoCerts(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := openDemoCerts(dir, []string{"192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.made) != 2 || c2.made[0] != "server-key.pem" {
		t.Errorf("made on the second open: %v, want the server's key and certificate only", c2.made)
	}
	if err := c2.leaf("server").VerifyHostname("192.0.2.7"); err != nil {
		t.Error(err)
	}
	if !c1.leaf("officer").Equal(c2.leaf("officer")) {
		t.Error("the officer's certificate was made again")
	}
	if _, err := c2.leaf("agent").Verify(x509.VerifyOptions{Roots: poolOf(c1.ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the ИКУНК's certificate does not chain to the demo CA: %v", err)
	}
	// A CA file that is not one is an error, not a silent new CA.
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("junk"), 0o644)
	if _, err := openDemoCerts(dir, nil); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("a broken ca.pem: %v", err)
	}
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// TestDemoPKCS12NSS imports the officer's PKCS#12 file, with the printed password, into an NSS database
// as Chromium and Firefox on Linux do: the key and the certificate arrive together (trust "u"), with the
// demo CA beside them.
func TestDemoPKCS12NSS(t *testing.T) {
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install the Debian package libnss3-tools", tool)
		}
	}
	c, err := openDemoCerts(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	db := "sql:" + t.TempDir()
	for _, args := range [][]string{
		{"certutil", "-N", "-d", db, "--empty-password"},
		{"pk12util", "-i", c.path("officer.p12"), "-d", db, "-W", demoP12Password},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command("certutil", "-L", "-d", db).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte(demoOfficerName)) || !bytes.Contains(out, []byte("u,u,u")) || !bytes.Contains(out, []byte("akciz demo CA")) {
		t.Errorf("the NSS database after the import:\n%s", out)
	}
	// A wrong password is refused: the file is really protected by the printed one.
	if out, err := exec.Command("pk12util", "-i", c.path("operator.p12"), "-d", db, "-W", "wrong").CombinedOutput(); err == nil {
		t.Errorf("pk12util took operator.p12 with a wrong password:\n%s", out)
	}
}
