package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// receiver is an operator's webhook endpoint over TLS: it verifies each call and answers with the
// status the test sets.
type receiver struct {
	mu     sync.Mutex
	secret string
	status int
	calls  []WebhookPayload
	ids    []string
	errs   []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := VerifyWebhook(rc.secret, r.Header, body, start, 5*time.Minute); err != nil {
		rc.errs = append(rc.errs, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.errs = append(rc.errs, err)
	}
	rc.calls = append(rc.calls, p)
	rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
	w.WriteHeader(rc.status)
}

// TestWebhooks: a signed webhook receives each revision of the notices it follows, retries on 5xx with
// the same webhook-id, is deactivated by 410, and refuses plain http.
func TestWebhooks(t *testing.T) {
	f := newFixture(t)
	rc := &receiver{status: http.StatusServiceUnavailable}
	srv := httptest.NewTLSServer(rc)
	t.Cleanup(srv.Close)
	u := user("ops", "ops@firma.bg")
	if _, err := f.svc.AddWebhook(f.ctx, u, WebhookForm{System: "BACIS", URL: "http://ops.firma.bg/hook", Events: []store.EventKind{store.EventOperability}}); err == nil {
		t.Error("a webhook over http was accepted")
	}
	if _, err := f.svc.AddWebhook(f.ctx, u, WebhookForm{System: "NONE", URL: srv.URL, Events: []store.EventKind{store.EventOperability}}); err == nil {
		t.Error("a webhook of a system without access was accepted")
	}
	hook, err := f.svc.AddWebhook(f.ctx, u, WebhookForm{System: "BACIS", URL: srv.URL, Events: []store.EventKind{store.EventOperability}})
	must(t, err)
	rc.secret = hook.Secret
	_, conn := startSMTP(t)
	w := NewSender(f.svc, conn)
	w.HTTP = srv.Client()

	n, err := f.svc.ScheduleMaintenance(f.ctx, "admin", "BACIS", start.Add(48*time.Hour), start.Add(50*time.Hour), "Профилактика", "Няма да се приемат данни.")
	must(t, err)
	// 503: retried after the back-off, with the same webhook-id.
	sendAll(t, w)
	rc.mu.Lock()
	first := len(rc.calls)
	rc.status = http.StatusNoContent
	rc.mu.Unlock()
	f.clock.Advance(time.Minute)
	if sent := sendAll(t, w); sent != 1 {
		t.Fatalf("retry sent %d", sent)
	}
	rc.mu.Lock()
	if first != 1 || len(rc.calls) != 2 || rc.ids[0] != rc.ids[1] || len(rc.errs) != 0 {
		t.Fatalf("calls %d then %d, ids %v, errors %v", first, len(rc.calls), rc.ids, rc.errs)
	}
	p := rc.calls[1]
	rc.mu.Unlock()
	if p.Type != "notice.published" || p.Notice != n.ID || p.System != "BACIS" || p.Revision.Title != "Профилактика" ||
		!p.Revision.Start.Equal(start.Add(48*time.Hour)) || p.Revision.Window == "" {
		t.Errorf("payload: %+v", p)
	}
	// A documents notice does not reach it; a cancellation does.
	_, err = f.svc.Publish(f.ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Д", Text: "Т", Link: "https://x.bg/d"})
	must(t, err)
	_, err = f.svc.Publish(f.ctx, "admin", Publication{Notice: n.ID, Action: store.ActionCancel})
	must(t, err)
	sendAll(t, w)
	rc.mu.Lock()
	if len(rc.calls) != 3 || rc.calls[2].Type != "notice.cancelled" {
		t.Errorf("after a document and a cancellation: %d calls, last %+v", len(rc.calls), rc.calls[len(rc.calls)-1])
	}
	rc.status = http.StatusGone
	rc.mu.Unlock()
	// 410 Gone: the webhook is deactivated and nothing more goes to it.
	_, err = f.svc.ScheduleMaintenance(f.ctx, "admin", "BACIS", start.Add(72*time.Hour), start.Add(73*time.Hour), "Още", "Текст")
	must(t, err)
	sendAll(t, w)
	got, err := f.st.Webhook(f.ctx, hook.ID)
	must(t, err)
	if got.Active {
		t.Error("410 did not deactivate the webhook")
	}
	ds, err := f.svc.Deliveries(f.ctx, n.ID)
	must(t, err)
	if len(ds) == 0 || ds[0].Email != srv.URL || ds[0].State != store.OutboxSent || ds[0].Attempts != 2 {
		t.Errorf("deliveries: %+v", ds)
	}
	// The owner alone may switch it on again.
	if _, err := f.svc.SetWebhookActive(f.ctx, user("other", "x@y.bg"), hook.ID, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user's webhook: %v", err)
	}
	if h, err := f.svc.SetWebhookActive(f.ctx, u, hook.ID, true); err != nil || !h.Active {
		t.Errorf("reactivate: %+v, %v", h, err)
	}
}

func TestVerifyWebhook(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	sig, err := sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	must(t, err)
	// The Standard Webhooks specification's own example.
	if sig != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("signature %s differs from the specification's example", sig)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bogus "+sig)
	at := time.Unix(1614265330, 0)
	if err := VerifyWebhook(secret, h, body, at, time.Minute); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := VerifyWebhook(secret, h, []byte(`{"test": 1}`), at, time.Minute); err == nil {
		t.Error("an altered body verified")
	}
	if err := VerifyWebhook(secret, h, body, at.Add(time.Hour), time.Minute); err == nil {
		t.Error("an old timestamp verified")
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add("msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		if VerifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, time.Unix(1614265330, 0), time.Minute) == nil {
			n, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
			want, _ := sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h.Get("webhook-id"), n, body)
			if !slices.Contains(strings.Fields(h.Get("webhook-signature")), want) {
				t.Errorf("verified without the right signature: %q", sig)
			}
		}
	})
}

// TestWebhookPublicOnly: a webhook's address is the operator's to choose, so the server's webhook client
// dials only public Internet addresses (no SSRF into the agency's network): loopback, private, link-local
// (cloud metadata), shared and unique-local addresses are refused on the address actually dialled, and a
// real TLS receiver on loopback is never reached.
func TestWebhookPublicOnly(t *testing.T) {
	for addr, public := range map[string]bool{
		"127.0.0.1:443": false, "[::1]:443": false, "10.1.2.3:443": false, "192.168.0.10:443": false,
		"172.16.5.4:443": false, "169.254.169.254:443": false, "100.64.0.1:443": false, "[fd00::1]:443": false,
		"[fe80::1]:443": false, "0.0.0.0:443": false, "[::ffff:127.0.0.1]:443": false, "224.0.0.1:443": false,
		"8.8.8.8:443": true, "[2a00:1450:4017:80e::200e]:443": true, "195.24.40.1:443": true,
	} {
		if err := publicOnly("tcp", addr, nil); (err == nil) != public {
			t.Errorf("%s: %v, want public %v", addr, err, public)
		}
	}
	hit := false
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	t.Cleanup(srv.Close)
	_, err := webhookClient().Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "not a public address") || hit {
		t.Errorf("a loopback receiver: %v (reached %v)", err, hit)
	}
}
