package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/akciz/akciz/internal/store"
)

// chromiumPolicyDir is where Debian's Chromium reads managed policies (it needs root to write).
const chromiumPolicyDir = "/etc/chromium/policies/managed"

// TestBrowser drives the console in headless Chromium as a customs officer who logs in with a real
// client certificate: the certificate and its key are imported (pk12util) into an NSS database in a
// temporary HOME, which Chromium on Linux reads for client certificates, and the managed policy
// AutoSelectCertificateForUrls makes Chromium present it to this server's origin without asking (a
// headless browser cannot answer the certificate dialog). Then it opens a site, sees the loading
// transaction, and acknowledges the door alarm with a comment. Screenshots go to $AKCIZ_SCREENSHOTS when
// set (CI keeps them as artefacts).
func TestBrowser(t *testing.T) {
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("no /usr/bin/chromium: install the Debian package chromium")
	}
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: install the Debian package libnss3-tools", tool)
		}
	}
	if err := os.MkdirAll(chromiumPolicyDir, 0o755); err != nil {
		t.Skipf("cannot write Chromium's managed policy in %s (needs root, as in CI): %v", chromiumPolicyDir, err)
	}
	x := newTestServer(t)
	officer := x.people["officer"]
	_, err := x.st.AddCommissioning(context.Background(), store.Commissioning{Site: siteA, Time: fixedNow, Officer: officer.Name,
		Protocol: "7/2026", Controller: "PLC-1", Computer: "IPC-1", UPS: "UPS-1", Seals: []string{"П-1"},
		Files: []store.CommissionFile{{Role: "config", Name: "automation_config.xml", Size: 1, MD5: strings.Repeat("a", 32), SHA256: strings.Repeat("b", 64)}}})
	must(t, err)

	// The NSS database with the officer's certificate and key, in a HOME of the test's own.
	home := t.TempDir()
	nss := filepath.Join(home, ".pki", "nssdb")
	must(t, os.MkdirAll(nss, 0o700))
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("certutil", "-N", "-d", "sql:"+nss, "--empty-password")
	p12, err := pkcs12.Modern.Encode(officer.cert.PrivateKey, officer.cert.Leaf, nil, "akciz")
	must(t, err)
	p12Path := filepath.Join(home, "officer.p12")
	must(t, os.WriteFile(p12Path, p12, 0o600))
	run("pk12util", "-i", p12Path, "-d", "sql:"+nss, "-W", "akciz")

	// The policy: present a certificate to the test server without asking. The file is the test's own
	// and goes away with it.
	if !strings.HasPrefix(x.ts.URL, "https://127.0.0.1:") {
		t.Fatalf("the test server is at %s, not on 127.0.0.1", x.ts.URL)
	}
	// Any port of 127.0.0.1: another package's browser test may write its own file at the same time, and
	// a policy that several files set is taken from one of them; the same rule in every file keeps them
	// from fighting (each test's NSS database holds only its own certificate).
	rule, _ := json.Marshal(map[string]any{"pattern": "https://127.0.0.1:*", "filter": map[string]any{}})
	policy, _ := json.Marshal(map[string]any{"AutoSelectCertificateForUrls": []string{string(rule)}})
	suffix := make([]byte, 6)
	rand.Read(suffix)
	policyFile := filepath.Join(chromiumPolicyDir, fmt.Sprintf("akciz-test-%x.json", suffix))
	must(t, os.WriteFile(policyFile, policy, 0o644))
	t.Cleanup(func() { os.Remove(policyFile) })

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's own TLS certificate
		chromedp.Env("HOME="+home),
		chromedp.WindowSize(1280, 1400),
		chromedp.Flag("accept-lang", "bg-BG,bg"), // a Bulgarian officer's browser
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The whole walk is bounded: past 45 s the browser is stopped and the step that waits fails.
	stop := time.AfterFunc(45*time.Second, cancel)
	defer stop.Stop()

	shots := os.Getenv("AKCIZ_SCREENSHOTS")
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v\nconsole log:\n%s", what, err, x.logs)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return v
	}
	shot := func(name string) {
		if shots == "" {
			return
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.MkdirAll(shots, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(shots, "console-"+name+".png"), b, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}

	// Log in: /sites sends to /login, which opens the session with the presented certificate and comes
	// back.
	step("log in", chromedp.Navigate(x.ts.URL+"/sites"), chromedp.WaitVisible(chromedp.CSS("#sites")))
	who, sites := text(".person"), text("#sites")
	shot("sites")
	// Open the site; its latest transactions are on its page.
	step("open the site", chromedp.Click(chromedp.CSS(`a[href="/sites/`+siteA+`"]`)), chromedp.WaitVisible(chromedp.CSS("table.transactions")))
	tx := text("table.transactions tr.transaction")
	shot("site")
	// Acknowledge the door alarm with a comment.
	alarm := strconv.FormatInt(x.alarmA, 10)
	step("open the alarm", chromedp.Click(chromedp.CSS(`a[href="/alarms/`+alarm+`"]`)), chromedp.WaitVisible(chromedp.CSS("#comment")))
	step("acknowledge", chromedp.SendKeys(chromedp.CSS("#comment"), "Екипът е на място"), chromedp.Click(chromedp.CSS("#ack")),
		chromedp.WaitVisible(chromedp.CSS("#done")))
	state := text("#alarm-state")
	shot("alarm")
	// The commissioning protocol: its link on the lifecycle page, fetched as the browser (with its
	// session and certificate) would download it.
	step("lifecycle", chromedp.Navigate(x.ts.URL+"/sites/"+siteA+"/lifecycle"), chromedp.WaitVisible(chromedp.CSS("a.protocol")))
	shot("lifecycle")
	pdf, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector("a.protocol").href)
		.then(r => r.headers.get("Content-Type") + " " + r.status + " ").then(h => h)`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(pdf, "application/pdf 200") {
		t.Errorf("protocol download: %q, %v", pdf, err)
	}
	magic, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector("a.protocol").href)
		.then(r => r.arrayBuffer()).then(b => String.fromCharCode(...new Uint8Array(b.slice(0, 5))))`, chromedp.EvalAwaitPromise))
	if err != nil || magic != "%PDF-" {
		t.Errorf("protocol bytes start %q, %v", magic, err)
	}
	if !strings.Contains(text("#commissionings"), "7/2026") {
		t.Error("the lifecycle page lacks the commissioning")
	}

	if !strings.Contains(who, officer.Name) {
		t.Errorf("logged in as %q, want %s", who, officer.Name)
	}
	if !strings.Contains(sites, siteA) || strings.Contains(sites, siteB) {
		t.Errorf("sites table: %q", sites)
	}
	if !strings.Contains(tx, "Дизелово гориво") || !strings.Contains(tx, "30\u00a0000,0 L") || !strings.Contains(tx, "12:40:00 EET") {
		t.Errorf("transaction row: %q", tx)
	}
	if state != "потвърдена" {
		t.Errorf("alarm state after acknowledging: %q", state)
	}
	log, err := x.st.AlarmHistory(context.Background(), x.alarmA)
	must(t, err)
	if last := log[len(log)-1]; last.Comment != "Екипът е на място" || last.Who != officer.Name {
		t.Errorf("history: %+v", last)
	}
}
