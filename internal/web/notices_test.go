package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// grantBACIS puts the system BACIS in the catalogue and lets operator A's certificates follow it.
func grantBACIS(t *testing.T, x *testServer) {
	ctx := context.Background()
	must(t, x.st.PutSystem(ctx, store.InfoSystem{Code: "BACIS", Name: "БАЦИС", NameEN: "BACIS"}))
	must(t, x.st.GrantSystem(ctx, store.SystemGrant{System: "BACIS", EIK: eikA}))
}

// TestNoticePages: the form with „Заяви“, the refusal of operability with attachment next to its field,
// saving, deactivating and editing; the administrator's publishing with the delivery table.
func TestNoticePages(t *testing.T) {
	x := newTestServer(t)
	grantBACIS(t, x)
	op := x.client("operator").login()

	code, body := op.get("/notices")
	if code != http.StatusOK || !strings.Contains(body, `id="subscribe"`) || !strings.Contains(body, "Заяви") ||
		!strings.Contains(body, `value="Мария"`) || !strings.Contains(body, "БАЦИС (BACIS)") {
		t.Fatalf("the form: %d\n%s", code, body)
	}
	form := url.Values{"first_name": {"Мария"}, "last_name": {"Операторова"}, "email": {"maria@neft.bg"}, "system": {"BACIS"},
		"events": {"operability", "documents"}, "delivery": {"email-attachment"}, "lang": {"bg"}}
	code, body = op.post("/notices/subscribe", form)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="err-delivery"`) ||
		!strings.Contains(body, "Известията за работоспособност не могат да се получават с прикачен файл") {
		t.Fatalf("operability with attachment: %d\n%s", code, body)
	}
	if !strings.Contains(body, `value="maria@neft.bg"`) {
		t.Error("the refused form lost what was typed")
	}
	form.Set("delivery", "email")
	code, body = op.post("/notices/subscribe", form)
	if code != http.StatusSeeOther {
		t.Fatalf("subscribe: %d\n%s", code, body)
	}
	saved := savedPage(t, x)
	_, body = op.get(saved)
	if !strings.Contains(body, `id="saved"`) || !strings.Contains(body, "Абонаментът е запазен успешно") || !strings.Contains(body, "maria@neft.bg") {
		t.Errorf("after „Заяви“:\n%s", body)
	}
	subs, err := x.st.Subscriptions(context.Background(), store.SubscriptionFilter{System: "BACIS"})
	must(t, err)
	if len(subs) != 1 || subs[0].Confirmed {
		t.Fatalf("stored: %+v (another address than the certificate's waits for its link)", subs)
	}
	id := itoa(int(subs[0].ID))
	// Deactivate, then edit to documents with attachments.
	if code, _ := op.post("/notices/"+id+"/deactivate", nil); code != http.StatusSeeOther {
		t.Errorf("deactivate: %d", code)
	}
	_, body = op.get("/notices")
	if !strings.Contains(body, "неактивен") || !strings.Contains(body, `action="/notices/`+id+`/activate"`) {
		t.Errorf("deactivated:\n%s", body)
	}
	_, body = op.get("/notices?edit=" + id)
	if !strings.Contains(body, `name="id" value="`+id+`"`) || !strings.Contains(body, "Промяна на абонамент") {
		t.Errorf("edit form:\n%s", body)
	}
	edit := url.Values{"id": {id}, "first_name": {"Мария"}, "last_name": {"Операторова"}, "email": {"maria@neft.bg"}, "system": {"BACIS"},
		"events": {"documents"}, "delivery": {"email-attachment"}}
	if code, body := op.post("/notices/subscribe", edit); code != http.StatusSeeOther {
		t.Errorf("edit: %d\n%s", code, body)
	}
	if s, _ := x.st.Subscription(context.Background(), subs[0].ID); s.Delivery != store.DeliveryAttachment || len(s.Events) != 1 {
		t.Errorf("edited: %+v", s)
	}
	// A webhook: https only; its secret shown once.
	if code, body := op.post("/notices/webhooks", url.Values{"system": {"BACIS"}, "url": {"http://ops.neft.bg/hook"}, "events": {"operability"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="err-hook-url"`) {
		t.Errorf("webhook over http: %d\n%s", code, body)
	}
	code, body = op.post("/notices/webhooks", url.Values{"system": {"BACIS"}, "url": {"https://ops.neft.bg/hook"}, "events": {"operability"}})
	if code != http.StatusCreated || !strings.Contains(body, `id="webhook-secret"`) || !strings.Contains(body, "whsec_") {
		t.Errorf("add webhook: %d\n%s", code, body)
	}
	if _, body := op.get("/notices"); strings.Contains(body, "whsec_") || !strings.Contains(body, "https://ops.neft.bg/hook") {
		t.Errorf("the secret is shown again, or the webhook is not listed:\n%s", body)
	}

	// Another person cannot edit or deactivate it.
	other := x.client("operatorB").login()
	if code, _ := other.post("/notices/"+id+"/activate", nil); code != http.StatusNotFound {
		t.Errorf("another operator activating: %d", code)
	}
	if code, _ := other.get("/notices?edit=" + id); code != http.StatusNotFound {
		t.Errorf("another operator editing: %d", code)
	}

	// The administrator publishes; operators do not reach the page.
	if code, _ := op.get("/notices/admin"); code != http.StatusNotFound {
		t.Errorf("operator on the admin page: %d", code)
	}
	admin := x.client("admin").login()
	if code, body := admin.get("/notices/admin"); code != http.StatusOK || !strings.Contains(body, `id="publish"`) {
		t.Fatalf("admin page: %d\n%s", code, body)
	}
	pub := url.Values{"system": {"BACIS"}, "kind": {"document"}, "title": {""}, "text": {"Нова версия."}}
	if code, body := admin.post("/notices/admin/publish", pub); code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="err-title"`) {
		t.Errorf("publish without a title: %d\n%s", code, body)
	}
	pub.Set("title", "Ръководство")
	pub.Set("link", "https://portal.customs.bg/docs/guide.pdf")
	if code, body := admin.post("/notices/admin/publish", pub); code != http.StatusSeeOther {
		t.Fatalf("publish: %d\n%s", code, body)
	}
	ns, _ := x.st.Notices(context.Background(), store.NoticeFilter{})
	if len(ns) != 1 {
		t.Fatalf("notices: %d", len(ns))
	}
	code, body = admin.get("/notices/admin/" + itoa(int(ns[0].ID)))
	if code != http.StatusOK || !strings.Contains(body, "Ръководство") || !strings.Contains(body, `id="deliveries"`) && !strings.Contains(body, "Няма писма") {
		t.Errorf("notice page: %d\n%s", code, body)
	}
}

// savedPage is where „Заяви“ sends the browser: the page with the newest subscription's saved message.
func savedPage(t *testing.T, x *testServer) string {
	t.Helper()
	subs, err := x.st.Subscriptions(context.Background(), store.SubscriptionFilter{})
	must(t, err)
	if len(subs) == 0 {
		t.Fatal("nothing saved")
	}
	return "/notices?saved=" + itoa(int(subs[len(subs)-1].ID))
}

// TestNoticeFormPrefilledFromCertificate: the FAQ's „e-mail“ field is "автоматично попълнено … с e-mail
// адреса, записан в електронния подпис" and editable; the issue: an address other than the
// certificate's is confirmed by a link before anything is sent. A person whose certificate carries
// ivan.cert@neft.bg (and whose console address is another) sees that address in the form; subscribing
// with it needs no confirmation, while the console's address, typed over it, waits for its link.
func TestNoticeFormPrefilledFromCertificate(t *testing.T) {
	x := newTestServer(t)
	grantBACIS(t, x)
	ctx := context.Background()
	p := store.Person{Name: "Иван Петров", Email: "ivan@neft.bg", Role: store.RoleOperator, Operator: eikA}
	id, err := x.st.PutPerson(ctx, p)
	must(t, err)
	p.ID = id
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "Иван Петров", Country: []string{"BG"}},
		EmailAddresses: []string{"ivan.cert@neft.bg"}, NotBefore: fixedNow.AddDate(-1, 0, 0), NotAfter: fixedNow.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	must(t, err)
	leaf, err := x509.ParseCertificate(der)
	must(t, err)
	must(t, x.st.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: store.Fingerprint(der), Person: id,
		DER: der, Subject: leaf.Subject.String(), NotAfter: leaf.NotAfter}))
	x.people["ivan"] = &testPerson{Person: p, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}
	c := x.client("ivan").login()

	if _, body := c.get("/notices"); !strings.Contains(body, `value="ivan.cert@neft.bg"`) || strings.Contains(body, `value="ivan@neft.bg"`) {
		t.Fatalf("the form is not pre-filled with the certificate's address:\n%s", body)
	}
	form := url.Values{"first_name": {"Иван"}, "last_name": {"Петров"}, "email": {"ivan.cert@neft.bg"}, "system": {"BACIS"},
		"events": {"operability"}, "delivery": {"email"}}
	if code, body := c.post("/notices/subscribe", form); code != http.StatusSeeOther {
		t.Fatalf("subscribe: %d\n%s", code, body)
	}
	subs, err := x.st.Subscriptions(ctx, store.SubscriptionFilter{User: "person:" + itoa(int(id))})
	must(t, err)
	if len(subs) != 1 || !subs[0].Confirmed {
		t.Fatalf("the certificate's own address: %+v (needs no link)", subs)
	}
	// Edited to another address (the console's): confirmed again by a link before anything is sent.
	form.Set("id", itoa(int(subs[0].ID)))
	form.Set("email", "ivan@neft.bg")
	if code, body := c.post("/notices/subscribe", form); code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", code, body)
	}
	if s, _ := x.st.Subscription(ctx, subs[0].ID); s.Confirmed || s.Email != "ivan@neft.bg" {
		t.Errorf("another address than the certificate's: %+v", s)
	}
	rows, err := x.st.Outbox(ctx, store.OutboxFilter{})
	must(t, err)
	if len(rows) != 1 || rows[0].Kind != store.OutboxConfirm {
		t.Errorf("the outbox: %+v, want one confirmation", rows)
	}
}
