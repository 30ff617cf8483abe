package notify

import (
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// TestConfirmationLimit: "an e-mail address other than the certificate's is confirmed by a link before
// anything is sent to it" (issue #8) — and the link is all the agency's server sends to an address a
// user typed, at most MaxConfirmations an hour per subscription, so that editing the address over and
// over does not turn the server into a way to mail anyone. The refusal is at the e-mail field.
func TestConfirmationLimit(t *testing.T) {
	f := newFixture(t)
	u := user("ivan", "ivan@firma.bg")
	form := Prefill(u)
	form.System, form.Events = "BACIS", []store.EventKind{store.EventDocuments}
	sub, err := f.svc.Subscribe(f.ctx, u, form)
	must(t, err)
	for i, addr := range []string{"a@mail.bg", "b@mail.bg", "c@mail.bg"} {
		form.Email = addr
		if _, err := f.svc.Edit(f.ctx, u, sub.ID, form); err != nil {
			t.Fatalf("address %d: %v", i+1, err)
		}
		f.clock.Advance(time.Minute)
	}
	form.Email = "d@mail.bg"
	_, err = f.svc.Edit(f.ctx, u, sub.ID, form)
	if m, ok := fieldOf(err, "email"); !ok || m.Key != "notify.field.confirm_limit" {
		t.Fatalf("a fourth address within the hour: %v", err)
	}
	if got, _ := f.st.Subscription(f.ctx, sub.ID); got.Email != "c@mail.bg" {
		t.Errorf("the refused edit changed the subscription: %s", got.Email)
	}
	// Back to the certificate's own address needs no link, so it is never refused.
	form.Email = "ivan@firma.bg"
	if _, err := f.svc.Edit(f.ctx, u, sub.ID, form); err != nil {
		t.Errorf("the certificate's address: %v", err)
	}
	f.clock.Advance(time.Hour)
	form.Email = "d@mail.bg"
	if _, err := f.svc.Edit(f.ctx, u, sub.ID, form); err != nil {
		t.Errorf("an hour later: %v", err)
	}
}
