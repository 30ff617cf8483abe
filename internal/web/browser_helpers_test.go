package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"software.sslmate.com/src/go-pkcs12"
)

// The set-up the console's browser tests share (TestBrowser, TestNoticesBrowser, TestUploadsBrowser):
// headless Chromium logged in with a person's real client certificate. The certificate and its key are
// imported (pk12util) into an NSS database in a temporary HOME, which Chromium on Linux reads for client
// certificates, and the managed policy AutoSelectCertificateForUrls makes Chromium present it to the test
// server without asking (a headless browser cannot answer the certificate dialog).

const (
	// chromiumPath is Debian's Chromium.
	chromiumPath = "/usr/bin/chromium"
	// chromiumPolicyDir is where Debian's Chromium reads managed policies (it needs root to write).
	chromiumPolicyDir = "/etc/chromium/policies/managed"
	// browserBound bounds a test's whole walk: past it the browser is stopped and the step that waits
	// fails.
	browserBound = 45 * time.Second
)

// browser is headless Chromium driven by one test.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab, cancelled at browserBound and when the test ends
	logs *strings.Builder
	// shots is the folder of the screenshots ($AKCIZ_SCREENSHOTS, "" for none); every file's name starts
	// with prefix, so that the tests' screenshots do not overwrite one another there.
	shots, prefix string
}

// newBrowser starts Chromium for the test server x, logged in as x.people[person]; its screenshots are
// named prefix-<name>.png and its window is 1280 by height pixels. It skips the test, naming the Debian
// package, when Chromium or the NSS tools are missing, and when the policy folder cannot be written.
func newBrowser(t *testing.T, x *testServer, person, prefix string, height int) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
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
	if !strings.HasPrefix(x.ts.URL, "https://127.0.0.1:") {
		t.Fatalf("the test server is at %s, not on 127.0.0.1", x.ts.URL)
	}
	home := t.TempDir()
	importCertificate(t, home, x.people[person])
	writePolicy(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's own TLS certificate
		chromedp.Env("HOME="+home),
		chromedp.WindowSize(1280, height),
		chromedp.Flag("accept-lang", "bg-BG,bg"), // a Bulgarian officer's or operator's browser
	)
	// Cleanups run last first: the timer is stopped, the tab and then the browser closed, before the
	// policy file and HOME go.
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	stop := time.AfterFunc(browserBound, cancel)
	t.Cleanup(func() { stop.Stop() })
	return &browser{t: t, ctx: ctx, logs: x.logs, shots: os.Getenv("AKCIZ_SCREENSHOTS"), prefix: prefix}
}

// importCertificate puts p's certificate and key into a new NSS database in home, where Chromium started
// with that HOME finds it.
func importCertificate(t *testing.T, home string, p *testPerson) {
	t.Helper()
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
	p12, err := pkcs12.Modern.Encode(p.cert.PrivateKey, p.cert.Leaf, nil, "akciz")
	must(t, err)
	p12Path := filepath.Join(home, "person.p12")
	must(t, os.WriteFile(p12Path, p12, 0o600))
	run("pk12util", "-i", p12Path, "-d", "sql:"+nss, "-W", "akciz")
}

// writePolicy makes Chromium present a certificate to any port of 127.0.0.1 without asking. The file is
// the test's own and goes away with it. Any port: another test's browser (of this package or another)
// may write its own file at the same time, and a policy that several files set is taken from one of
// them; the same rule in every file keeps them from fighting (each test's NSS database holds only its
// own certificate).
func writePolicy(t *testing.T) {
	t.Helper()
	rule, _ := json.Marshal(map[string]any{"pattern": "https://127.0.0.1:*", "filter": map[string]any{}})
	policy, _ := json.Marshal(map[string]any{"AutoSelectCertificateForUrls": []string{string(rule)}})
	suffix := make([]byte, 6)
	rand.Read(suffix)
	policyFile := filepath.Join(chromiumPolicyDir, fmt.Sprintf("akciz-test-%x.json", suffix))
	must(t, os.WriteFile(policyFile, policy, 0o644))
	t.Cleanup(func() { os.Remove(policyFile) })
}

// step runs the actions of one step of the walk and ends the test, with the console's log, if they fail.
func (b *browser) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v\nconsole log:\n%s", what, err, b.logs)
	}
}

// text is the text of the element sel (CSS) in the page.
func (b *browser) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return v
}

// shot saves the whole page as <prefix>-<name>.png in $AKCIZ_SCREENSHOTS, if set (CI keeps the folder as
// artefacts).
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll(b.shots, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(b.shots, b.prefix+"-"+name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}
