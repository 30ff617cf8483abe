package notify

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// api serves the routes with a test identity: the header X-Test-User names the user ("admin" is an
// administrator); none is a request without a certificate.
func api(t *testing.T, f *fixture) *httptest.Server {
	mux := http.NewServeMux()
	f.svc.Routes(mux, func(r *http.Request) (User, error) {
		id := r.Header.Get("X-Test-User")
		if id == "" {
			return User{}, errors.New("no certificate")
		}
		u := user(id, id+"@firma.bg")
		u.Admin = id == "admin"
		return u, nil
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, who, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	must(t, err)
	if who != "" {
		req.Header.Set("X-Test-User", who)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPI(t *testing.T) {
	f := newFixture(t)
	srv := api(t, f)

	if code, _ := call(t, srv, "GET", "/api/v1/notices/me", "", ""); code != http.StatusUnauthorized {
		t.Errorf("me without a certificate: %d", code)
	}
	code, body := call(t, srv, "GET", "/api/v1/notices/me", "ivan", "")
	if code != 200 || !strings.Contains(body, `"email": "ivan@firma.bg"`) || !strings.Contains(body, `"BACIS"`) {
		t.Errorf("me: %d %s", code, body)
	}
	// The refusal of operability with attachment comes back by field, in Bulgarian.
	code, body = call(t, srv, "POST", "/api/v1/notices/subscriptions", "ivan",
		`{"first_name":"Иван","last_name":"Петров","email":"ivan@firma.bg","system":"BACIS","events":["operability"],"delivery":"email-attachment"}`)
	var e apiError
	if json.Unmarshal([]byte(body), &e); code != http.StatusUnprocessableEntity || !strings.Contains(e.Fields["delivery"], "прикачен файл") {
		t.Errorf("operability with attachment: %d %s", code, body)
	}
	code, body = call(t, srv, "POST", "/api/v1/notices/subscriptions?lang=en", "ivan",
		`{"first_name":"Иван","last_name":"Петров","email":"ivan@firma.bg","system":"BACIS","events":["operability"],"delivery":"email-attachment"}`)
	if json.Unmarshal([]byte(body), &e); code != http.StatusUnprocessableEntity || !strings.Contains(e.Fields["delivery"], "attachment") {
		t.Errorf("English refusal: %s", body)
	}
	code, body = call(t, srv, "POST", "/api/v1/notices/subscriptions", "ivan", `{"first_name":"Иван", "bogus":1}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "bogus") {
		t.Errorf("unknown field: %d %s", code, body)
	}
	// „Заяви“: saved, and said so.
	code, body = call(t, srv, "POST", "/api/v1/notices/subscriptions", "ivan",
		`{"first_name":"Иван","last_name":"Петров","email":"ivan@firma.bg","system":"BACIS","events":["operability","documents"],"delivery":"email"}`)
	var sub subscriptionJSON
	if json.Unmarshal([]byte(body), &sub); code != http.StatusCreated || sub.Message != i18n.For(i18n.BG).T("notify.saved") || !sub.Active {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	if code, _ := call(t, srv, "POST", "/api/v1/notices/subscriptions", "ivan",
		`{"first_name":"Иван","last_name":"Петров","email":"ivan@firma.bg","system":"BACIS","events":["documents"],"delivery":"email"}`); code != http.StatusConflict {
		t.Errorf("second subscription to one system: %d", code)
	}
	path := "/api/v1/notices/subscriptions/" + itoa(sub.ID)
	if code, body := call(t, srv, "POST", path+"/deactivate", "ivan", ""); code != 200 || !strings.Contains(body, `"active": false`) {
		t.Errorf("deactivate: %d %s", code, body)
	}
	if code, _ := call(t, srv, "POST", path+"/activate", "maria", ""); code != http.StatusNotFound {
		t.Errorf("activate another's subscription: %d", code)
	}
	if code, body := call(t, srv, "PUT", path, "ivan",
		`{"first_name":"Иван","last_name":"Петров","email":"office@firma.bg","system":"BACIS","events":["documents"],"delivery":"email-attachment"}`); code != 200 || !strings.Contains(body, `"confirmed": false`) {
		t.Errorf("edit to another address: %d %s", code, body)
	}
	if code, _ := call(t, srv, "POST", path+"/activate", "ivan", ""); code != 200 {
		t.Errorf("activate: %d", code)
	}

	if code, body := call(t, srv, "POST", "/api/v1/notices/subscriptions", "maria",
		`{"first_name":"Мария","last_name":"Иванова","email":"maria@firma.bg","system":"BACIS","events":["operability"],"delivery":"email"}`); code != 201 {
		t.Fatalf("maria subscribes: %d %s", code, body)
	}

	// Webhooks: the secret is shown once, at creation.
	code, body = call(t, srv, "POST", "/api/v1/notices/webhooks", "maria", `{"system":"BACIS","url":"https://ops.firma.bg/hook","events":["operability"]}`)
	if code != http.StatusCreated || !strings.Contains(body, `"secret": "whsec_`) {
		t.Errorf("add webhook: %d %s", code, body)
	}
	if code, body := call(t, srv, "POST", "/api/v1/notices/webhooks", "maria", `{"system":"BACIS","url":"http://ops.firma.bg/hook","events":["operability"]}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"url"`) {
		t.Errorf("webhook over http: %d %s", code, body)
	}
	if code, body := call(t, srv, "GET", "/api/v1/notices/webhooks", "maria", ""); code != 200 || strings.Contains(body, "whsec_") || !strings.Contains(body, "ops.firma.bg") {
		t.Errorf("list webhooks: %d %s", code, body)
	}

	// Administration: only administrators publish.
	pub := `{"system":"BACIS","kind":"operability","planned":true,"title":"Профилактика","text":"Няма да се приемат данни.",` +
		`"start":"2026-11-25T08:00:00Z","end":"2026-11-25T10:00:00Z"}`
	if code, _ := call(t, srv, "POST", "/api/v1/notices/admin/notices", "ivan", pub); code != http.StatusForbidden {
		t.Errorf("publish by a non-administrator: %d", code)
	}
	code, body = call(t, srv, "POST", "/api/v1/notices/admin/notices", "admin",
		`{"system":"BACIS","kind":"operability","planned":true,"title":"x","text":"y","start":"2026-11-25T08:00:00Z","end":"2026-11-25T10:00:00Z","file_name":"a.pdf","file":"JVBERg=="}`)
	if json.Unmarshal([]byte(body), &e); code != http.StatusUnprocessableEntity || e.Fields["file"] == "" {
		t.Errorf("operability with a file: %d %s", code, body)
	}
	code, body = call(t, srv, "POST", "/api/v1/notices/admin/notices", "admin", pub)
	var n noticeJSON
	if json.Unmarshal([]byte(body), &n); code != http.StatusCreated || n.ID == 0 || !strings.Contains(n.Revisions[0].Window, "EET") {
		t.Fatalf("publish: %d %s", code, body)
	}
	if code, body := call(t, srv, "GET", "/api/v1/notices/admin/notices/"+itoa(n.ID)+"/deliveries", "admin", ""); code != 200 ||
		!strings.Contains(body, `"state": "pending"`) || !strings.Contains(body, `"kind": "reminder"`) {
		t.Errorf("deliveries: %d %s", code, body)
	}
	if code, body := call(t, srv, "PUT", "/api/v1/notices/admin/systems/NCTS", "admin", `{"name":"НКТС"}`); code != 200 {
		t.Errorf("put system: %d %s", code, body)
	}
	if code, body := call(t, srv, "POST", "/api/v1/notices/admin/grants", "admin", `{"system":"NCTS","eik":"`+testEIK+`"}`); code != 204 {
		t.Errorf("grant: %d %s", code, body)
	}
	if code, body := call(t, srv, "GET", "/api/v1/notices/admin/systems", "admin", ""); code != 200 || !strings.Contains(body, "NCTS") {
		t.Errorf("systems: %d %s", code, body)
	}

	// The notice as a page for a browser (the link in every message).
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/notices/notices/"+itoa(n.ID), nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "25.11.2026 10:00 ч. EET") ||
			!strings.Contains(string(b), "История на известието") {
			t.Errorf("notice page: %d\n%s", resp.StatusCode, b)
		}
	}

	// The public notice and the feeds.
	if code, body := call(t, srv, "GET", "/api/v1/notices/notices/"+itoa(n.ID), "", ""); code != 200 || !strings.Contains(body, "Профилактика") {
		t.Errorf("public notice: %d %s", code, body)
	}
	code, body = call(t, srv, "GET", "/api/v1/notices/systems/BACIS/feed.atom", "", "")
	var feed atomFeed
	if err := xml.Unmarshal([]byte(body), &feed); code != 200 || err != nil || len(feed.Entries) != 1 || !strings.Contains(feed.Entries[0].Content.Body, "Няма да се приемат данни") {
		t.Errorf("atom: %d %v %s", code, err, body)
	}
	xmllint(t, body)
	code, body = call(t, srv, "GET", "/api/v1/notices/systems/BACIS/calendar.ics", "", "")
	if code != 200 || !strings.Contains(body, "BEGIN:VEVENT") || !strings.Contains(body, "DTSTART;TZID=Europe/Sofia:20261125T100000") ||
		!strings.Contains(body, "BEGIN:VTIMEZONE") {
		t.Errorf("calendar: %d %s", code, body)
	}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("calendar line longer than 75 octets: %q", l)
		}
	}
	if code, _ := call(t, srv, "GET", "/api/v1/notices/systems/NONE/feed.atom", "", ""); code != 404 {
		t.Errorf("feed of an unknown system: %d", code)
	}
}

// TestUnsubscribe: a GET (a mail scanner) changes nothing; the one-click POST ends that subscription
// only.
func TestUnsubscribe(t *testing.T) {
	f := newFixture(t)
	srv := api(t, f)
	u := user("ivan", "ivan@firma.bg")
	form := Prefill(u)
	form.Events = []store.EventKind{store.EventDocuments}
	form.System = "BACIS"
	a, err := f.svc.Subscribe(f.ctx, u, form)
	must(t, err)
	form.System = "EMCS"
	b, err := f.svc.Subscribe(f.ctx, u, form)
	must(t, err)
	code, body := call(t, srv, "GET", "/api/v1/notices/unsubscribe/"+a.Unsubscribe, "", "")
	if code != 200 || !strings.Contains(body, `<form method="post">`) {
		t.Errorf("GET: %d %s", code, body)
	}
	if s, _ := f.st.Subscription(f.ctx, a.ID); !s.Active {
		t.Fatal("a GET deactivated the subscription")
	}
	resp, err := http.Post(srv.URL+"/api/v1/notices/unsubscribe/"+a.Unsubscribe, "application/x-www-form-urlencoded",
		strings.NewReader("List-Unsubscribe=One-Click"))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("one-click POST: %d", resp.StatusCode)
	}
	if s, _ := f.st.Subscription(f.ctx, a.ID); s.Active {
		t.Error("the one-click POST did not end the subscription")
	}
	if s, _ := f.st.Subscription(f.ctx, b.ID); !s.Active {
		t.Error("the one-click POST ended another subscription too")
	}
	if code, _ := call(t, srv, "POST", "/api/v1/notices/unsubscribe/nonsense", "", ""); code != 404 {
		t.Errorf("unknown token: %d", code)
	}
}

// TestUnavailable: the server raises one unplanned notice while ingest is down, and ends it.
func TestUnavailable(t *testing.T) {
	f := newFixture(t)
	n, created, err := f.svc.RaiseUnavailable(f.ctx, "BACIS", start, "")
	must(t, err)
	if !created || n.Latest().Planned || !strings.Contains(n.Latest().Text, "22.11.2026 10:00 ч. EET (UTC+02:00, София)") ||
		!strings.Contains(n.Latest().TextEN, "Sofia") {
		t.Errorf("raised: %+v", n.Latest())
	}
	again, created, err := f.svc.RaiseUnavailable(f.ctx, "BACIS", start.Add(time.Minute), "")
	must(t, err)
	if created || again.ID != n.ID {
		t.Errorf("raised twice: %d, created %v", again.ID, created)
	}
	f.clock.Advance(time.Hour)
	ended, ok, err := f.svc.EndUnavailable(f.ctx, "BACIS", time.Time{})
	must(t, err)
	if !ok || ended.Latest().Action != store.ActionEnd || !ended.Latest().End.Equal(start.Add(time.Hour)) {
		t.Errorf("ended: %+v", ended.Latest())
	}
	if _, ok, _ := f.svc.EndUnavailable(f.ctx, "BACIS", time.Time{}); ok {
		t.Error("ended twice")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// xmllint checks that the feed is well-formed XML with libxml2, the reference parser.
func xmllint(t *testing.T, doc string) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Log("xmllint not found (Debian package libxml2-utils): the feed is checked by encoding/xml only")
		return
	}
	file := filepath.Join(t.TempDir(), "feed.atom")
	must(t, os.WriteFile(file, []byte(doc), 0o600))
	if out, err := exec.Command(bin, "--noout", file).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s", err, out)
	}
}
