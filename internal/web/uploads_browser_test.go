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

// TestUploadsBrowser files a barcode list and a broken energy table through the upload page in headless
// Chromium, as an operator logged in with its client certificate (set up as TestBrowser does): the list
// is accepted with its summary, the table refused with its errors and their lines.
func TestUploadsBrowser(t *testing.T) {
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
	x := newUploadServer(t)
	operator := x.people["operator"]

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
	p12, err := pkcs12.Modern.Encode(operator.cert.PrivateKey, operator.cert.Leaf, nil, "akciz")
	must(t, err)
	p12Path := filepath.Join(home, "operator.p12")
	must(t, os.WriteFile(p12Path, p12, 0o600))
	run("pk12util", "-i", p12Path, "-d", "sql:"+nss, "-W", "akciz")
	// The same policy rule as TestBrowser's, in a file of this test's own.
	rule, _ := json.Marshal(map[string]any{"pattern": "https://127.0.0.1:*", "filter": map[string]any{}})
	policy, _ := json.Marshal(map[string]any{"AutoSelectCertificateForUrls": []string{string(rule)}})
	suffix := make([]byte, 6)
	rand.Read(suffix)
	policyFile := filepath.Join(chromiumPolicyDir, fmt.Sprintf("akciz-test-%x.json", suffix))
	must(t, os.WriteFile(policyFile, policy, 0o644))
	t.Cleanup(func() { os.Remove(policyFile) })

	list := filepath.Join(home, "list.xml")
	must(t, os.WriteFile(list, sample(t, "../../examples/sepi/cigarettes-production.xml", "101003527"), 0o644))
	table := filepath.Join(home, "totals.csv")
	must(t, os.WriteFile(table, sample(t, "../energy/testdata/cases/totals-mismatch/input.csv", "201123456"), 0o644))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Env("HOME="+home),
		chromedp.WindowSize(1280, 1400),
		chromedp.Flag("accept-lang", "bg-BG,bg"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	stop := time.AfterFunc(45*time.Second, cancel)
	defer stop.Stop()
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

	step("open the upload page", chromedp.Navigate(x.ts.URL+"/uploads"), chromedp.WaitVisible(chromedp.CSS("#upload-sepi")))
	step("send the list", chromedp.SetUploadFiles(chromedp.CSS("#sepi-file"), []string{list}),
		chromedp.Click(chromedp.CSS("#send-sepi")), chromedp.WaitVisible(chromedp.CSS("#summary")))
	if got := text("#outcome"); !strings.Contains(got, "2026112000017") || !strings.Contains(got, "приет") {
		t.Errorf("outcome of the list: %q", got)
	}
	step("back", chromedp.Click(chromedp.CSS("#back")), chromedp.WaitVisible(chromedp.CSS("#list-2026112000017")))
	step("send the table", chromedp.SetUploadFiles(chromedp.CSS("#energy-file"), []string{table}),
		chromedp.Click(chromedp.CSS("#send-energy")), chromedp.WaitVisible(chromedp.CSS("#findings")))
	if got := text("#findings"); !strings.Contains(got, "ред ") {
		t.Errorf("errors of the table: %q", got)
	}
	if got := text("#outcome"); !strings.Contains(got, "отхвърлена") {
		t.Errorf("outcome of the table: %q", got)
	}
}
