package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/akciz/akciz/internal/store"
)

// TestNoticesBrowser walks the FAQ's subscription in headless Chromium as an operator who logs in with
// a real client certificate (set up as TestBrowser does): open „Обратна връзка с ИО“, fill in the form,
// choose operability with an attachment and see the refusal next to the field, choose e-mail, „Заяви“,
// see it saved, deactivate it, and edit it.
func TestNoticesBrowser(t *testing.T) {
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
	grantBACIS(t, x)
	person := x.people["operator"]

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
	p12, err := pkcs12.Modern.Encode(person.cert.PrivateKey, person.cert.Leaf, nil, "akciz")
	must(t, err)
	p12Path := filepath.Join(home, "operator.p12")
	must(t, os.WriteFile(p12Path, p12, 0o600))
	run("pk12util", "-i", p12Path, "-d", "sql:"+nss, "-W", "akciz")
	u, _ := url.Parse(x.ts.URL)
	rule, _ := json.Marshal(map[string]any{"pattern": "https://" + u.Host, "filter": map[string]any{}})
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
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Env("HOME="+home),
		chromedp.WindowSize(1280, 1600),
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
	shot := func(name string) {
		dir := os.Getenv("AKCIZ_SCREENSHOTS")
		if dir == "" {
			return
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "notices-"+name+".png"), b, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}

	// Log in and open the service from the menu.
	step("log in", chromedp.Navigate(x.ts.URL+"/sites"), chromedp.WaitVisible(chromedp.CSS("#sites")))
	step("open the service", chromedp.Click(chromedp.CSS(`a[href="/notices"]`)), chromedp.WaitVisible(chromedp.CSS("#subscribe")))
	// Operability with an attachment: refused, the reason next to the delivery field.
	step("fill in", chromedp.SendKeys(chromedp.CSS("#email"), "maria@neft.bg"),
		chromedp.Click(chromedp.CSS("#ev-operability")), chromedp.Click(chromedp.CSS("#dl-attachment")),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#err-delivery")))
	refusal := text("#err-delivery")
	shot("refused")
	// E-mail instead: „Заяви“ saves and says so.
	step("choose e-mail", chromedp.Click(chromedp.CSS(`input[name="delivery"][value="email"]`)),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#saved")))
	saved := text("#saved")
	shot("saved")
	// Deactivate, then edit.
	step("deactivate", chromedp.Click(chromedp.CSS("button.deactivate")), chromedp.WaitVisible(chromedp.CSS("button.activate")))
	state := text("#subscriptions td.state")
	step("edit", chromedp.Click(chromedp.CSS(`#subscriptions a[href^="/notices?edit="]`)), chromedp.WaitVisible(chromedp.CSS("#cancel-edit")),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="documents"]`)), chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#saved")))
	events := text("#subscriptions")
	shot("edited")

	if !strings.Contains(refusal, "прикачен файл") {
		t.Errorf("refusal next to the delivery field: %q", refusal)
	}
	if !strings.Contains(saved, "запазен успешно") {
		t.Errorf("saved message: %q", saved)
	}
	if !strings.Contains(state, "неактивен") {
		t.Errorf("state after deactivating: %q", state)
	}
	if !strings.Contains(events, "Актуализация на документи") || !strings.Contains(events, "Работоспособност") {
		t.Errorf("after editing: %q", events)
	}
	subs, err := x.st.Subscriptions(context.Background(), store.SubscriptionFilter{System: "BACIS"})
	must(t, err)
	if len(subs) != 1 || len(subs[0].Events) != 2 || subs[0].Email != "maria@neft.bg" {
		t.Errorf("stored: %+v", subs)
	}
}
