package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/akciz/akciz/internal/store"
)

// TestNoticesBrowser walks the FAQ's subscription in headless Chromium as an operator who logs in with
// a real client certificate (browser_helpers_test.go says how): open „Обратна връзка с ИО“, fill in
// the form, choose operability with an attachment and see the refusal next to the field, choose e-mail,
// „Заяви“, see it saved, deactivate it, and edit it. Screenshots go to $AKCIZ_SCREENSHOTS when set.
func TestNoticesBrowser(t *testing.T) {
	x := newTestServer(t)
	grantBACIS(t, x)
	b := newBrowser(t, x, "operator", "notices", 1600)

	// Log in and open the service from the menu.
	b.step("log in", chromedp.Navigate(x.ts.URL+"/sites"), chromedp.WaitVisible(chromedp.CSS("#sites")))
	b.step("open the service", chromedp.Click(chromedp.CSS(`a[href="/notices"]`)), chromedp.WaitVisible(chromedp.CSS("#subscribe")))
	// Operability with an attachment: refused, the reason next to the delivery field.
	b.step("fill in", chromedp.SendKeys(chromedp.CSS("#email"), "maria@neft.bg"),
		chromedp.Click(chromedp.CSS("#ev-operability")), chromedp.Click(chromedp.CSS("#dl-attachment")),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#err-delivery")))
	refusal := b.text("#err-delivery")
	b.shot("refused")
	// E-mail instead: „Заяви“ saves and says so.
	b.step("choose e-mail", chromedp.Click(chromedp.CSS(`input[name="delivery"][value="email"]`)),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#saved")))
	saved := b.text("#saved")
	b.shot("saved")
	// Deactivate, then edit.
	b.step("deactivate", chromedp.Click(chromedp.CSS("button.deactivate")), chromedp.WaitVisible(chromedp.CSS("button.activate")))
	state := b.text("#subscriptions td.state")
	b.step("edit", chromedp.Click(chromedp.CSS(`#subscriptions a[href^="/notices?edit="]`)), chromedp.WaitVisible(chromedp.CSS("#cancel-edit")),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="documents"]`)), chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#saved")))
	events := b.text("#subscriptions")
	b.shot("edited")

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
