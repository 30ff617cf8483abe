package web

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// TestLoginWithClientCertificate: a registered certificate opens a session and comes back to the page
// it asked for; no certificate, an unknown one, an expired one and a disabled person's do not.
func TestLoginWithClientCertificate(t *testing.T) {
	x := newTestServer(t)
	c := x.client("officer")
	code, _ := c.get("/sites/" + siteA)
	if code != http.StatusSeeOther {
		t.Fatalf("first visit: %d, want a redirect to /login", code)
	}
	req, _ := http.NewRequest(http.MethodGet, x.ts.URL+"/login?next="+url.QueryEscape("/sites/"+siteA), nil)
	resp, err := c.c.Do(req)
	must(t, err)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/sites/"+siteA {
		t.Fatalf("login: %d to %q", resp.StatusCode, loc)
	}
	ck := resp.Cookies()
	if len(ck) != 1 || ck[0].Name != sessionCookie || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie %+v: want __Host-, Secure, HttpOnly, SameSite=Lax", ck)
	}
	if code, body := c.get("/sites/" + siteA); code != http.StatusOK || !strings.Contains(body, "Иван Митничаров") {
		t.Errorf("after login: %d", code)
	}
	// The session is stored as the hash of the cookie's token, never the token itself.
	if _, err := x.st.Session(context.Background(), ck[0].Value, x.clock.Now()); err == nil {
		t.Error("the store knows the session by the cookie's token itself")
	}
	// An open redirect is not followed.
	if _, err := c.c.Get(x.ts.URL + "/login?next=//evil.example/"); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, x.ts.URL+"/login?next="+url.QueryEscape("https://evil.example/"), nil)
	resp, err = c.c.Do(req)
	must(t, err)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil") {
		t.Errorf("login redirected to %q", loc)
	}

	if code, body := x.client("").get("/login"); code != http.StatusUnauthorized || !strings.Contains(body, "електронен подпис") {
		t.Errorf("no certificate: %d\n%.300s", code, body)
	}
	stranger := x.client("")
	stranger.c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{newCert(t, "Непознат", fixedNow.AddDate(-1, 0, 0), fixedNow.AddDate(1, 0, 0))}
	code, body := stranger.get("/login")
	if code != http.StatusForbidden || !strings.Contains(body, `id="fingerprint"`) {
		t.Errorf("unknown certificate: %d\n%.300s", code, body)
	}
	expired := x.addPerson(context.Background(), "expired", store.Person{Name: "Изтекъл", Role: store.RoleAdmin})
	expired.cert = newCert(t, "Изтекъл", fixedNow.AddDate(-2, 0, 0), fixedNow.AddDate(0, 0, -1))
	must(t, x.st.PutPersonCertificate(context.Background(), store.PersonCertificate{Fingerprint: store.Fingerprint(expired.cert.Leaf.Raw),
		Person: expired.ID, DER: expired.cert.Leaf.Raw}))
	if code, _ := x.client("expired").get("/login"); code != http.StatusForbidden {
		t.Errorf("expired certificate: %d, want 403", code)
	}
	// Disabling a person stops its open session at the next request.
	adm := x.client("admin").login()
	if code, _ := adm.get("/sites"); code != http.StatusOK {
		t.Fatalf("admin: %d", code)
	}
	p := x.people["admin"].Person
	p.Disabled = true
	_, err = x.st.PutPerson(context.Background(), p)
	must(t, err)
	if code, _ := adm.get("/sites"); code != http.StatusSeeOther {
		t.Errorf("disabled person's session: %d, want a redirect to /login", code)
	}
	if code, _ := adm.get("/login"); code != http.StatusForbidden {
		t.Errorf("disabled person's login: %d, want 403", code)
	}
}

// TestSessionExpiry: a session ends after the idle time without requests and after its absolute end
// whatever the activity (fake clock).
func TestSessionExpiry(t *testing.T) {
	x := newTestServer(t)
	c := x.client("operator").login()
	x.clock.Add(29 * time.Minute)
	if code, _ := c.get("/sites"); code != http.StatusOK {
		t.Fatalf("after 29 min: %d", code)
	}
	x.clock.Add(29 * time.Minute) // 29 minutes after the last request: still alive
	if code, _ := c.get("/sites"); code != http.StatusOK {
		t.Fatalf("29 min after the last request: %d", code)
	}
	x.clock.Add(31 * time.Minute)
	if code, _ := c.get("/sites"); code != http.StatusSeeOther {
		t.Errorf("31 min idle: %d, want a redirect to /login", code)
	}
	c.login()
	for range 25 { // active every 29 minutes, past the 12 hours
		x.clock.Add(29 * time.Minute)
		c.get("/sites")
	}
	if code, _ := c.get("/sites"); code != http.StatusSeeOther {
		t.Errorf("after 12 h of activity: %d, want a redirect to /login", code)
	}
	if n, err := x.st.DeleteExpiredSessions(context.Background(), x.clock.Now()); err != nil || n < 2 {
		t.Errorf("sweep: %d, %v", n, err)
	}
}

// TestStolenCookie: a session cookie presented with another person's certificate is worth nothing.
func TestStolenCookie(t *testing.T) {
	x := newTestServer(t)
	victim := x.client("admin").login()
	thief := x.client("operator")
	u, _ := url.Parse(x.ts.URL)
	thief.c.Jar.SetCookies(u, victim.c.Jar.Cookies(u))
	code, body := thief.get("/sites")
	if code != http.StatusSeeOther {
		t.Errorf("stolen cookie: %d\n%.300s", code, body)
	}
	// And without any certificate.
	anon := x.client("")
	anon.c.Jar.SetCookies(u, victim.c.Jar.Cookies(u))
	if code, _ := anon.get("/sites"); code != http.StatusSeeOther {
		t.Errorf("cookie without a certificate: %d", code)
	}
}

// TestCSRF: a form without the session's token, with another's, or sent cross-site is refused and
// changes nothing; the same form with the token works and is audited.
func TestCSRF(t *testing.T) {
	x := newTestServer(t)
	c := x.client("officer").login()
	other := x.client("operator").login()
	path := "/alarms/" + strconv.FormatInt(x.alarmA, 10) + "/ack"
	for name, form := range map[string]url.Values{
		"none":    {"comment": {"x"}},
		"wrong":   {"comment": {"x"}, "csrf": {"abc"}},
		"another": {"comment": {"x"}, "csrf": {other.csrf()}},
	} {
		if code, _ := c.do(http.MethodPost, path, form); code != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", name, code)
		}
	}
	cross := x.client("officer").login()
	cross.header = http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	if code, _ := cross.post(path, url.Values{"comment": {"x"}, "csrf": {c.csrf()}}); code != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", code)
	}
	a, err := x.st.Alarm(context.Background(), x.alarmA)
	must(t, err)
	if a.State != store.AlarmStateOpen {
		t.Fatalf("a refused form changed the alarm: %s", a.State)
	}
	if code, body := c.post(path, url.Values{"comment": {"Проверено на място"}}); code != http.StatusSeeOther {
		t.Fatalf("ack: %d\n%.500s", code, body)
	}
	if a, _ = x.st.Alarm(context.Background(), x.alarmA); a.State != store.AlarmStateAcknowledged {
		t.Errorf("after ack: %s", a.State)
	}
	log, err := x.st.Audit(context.Background(), store.AuditFilter{Site: siteA})
	must(t, err)
	if len(log) != 1 || log[0].Action != "alarm.acknowledged" || log[0].Detail != "Проверено на място" || log[0].Person != x.people["officer"].ID {
		t.Errorf("audit: %+v", log)
	}
	// A comment is required: the page says so and nothing changes.
	if code, body := c.post("/alarms/"+strconv.FormatInt(x.alarmA, 10)+"/close", url.Values{"comment": {"  "}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="problem"`) {
		t.Errorf("close without a comment: %d", code)
	}
}

// TestLogout ends the session: the cookie no longer opens pages.
func TestLogout(t *testing.T) {
	x := newTestServer(t)
	c := x.client("operator").login()
	u, _ := url.Parse(x.ts.URL)
	saved := c.c.Jar.Cookies(u)
	if code, body := c.post("/logout", nil); code != http.StatusOK || !strings.Contains(body, "Излязохте") {
		t.Fatalf("logout: %d", code)
	}
	c.c.Jar.SetCookies(u, saved)
	if code, _ := c.get("/sites"); code != http.StatusSeeOther {
		t.Errorf("the old cookie after logout: %d", code)
	}
	log, _ := x.st.Audit(context.Background(), store.AuditFilter{})
	if len(log) < 2 || log[0].Action != "session.logout" || log[1].Action != "session.login" {
		t.Errorf("audit: %+v", log)
	}
}

// TestTrustedProxy: the certificate header is believed only from a configured proxy address.
func TestTrustedProxy(t *testing.T) {
	officer := func(x *testServer) string {
		return url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.people["officer"].cert.Leaf.Raw})))
	}
	// The test server's client connects from 127.0.0.1.
	x := newTestServer(t, netip.MustParsePrefix("127.0.0.0/8"))
	for name, h := range map[string]http.Header{
		"escaped PEM": {"X-Client-Cert": {officer(x)}},
		"RFC 9440":    {"Client-Cert": {":" + base64.StdEncoding.EncodeToString(x.people["officer"].cert.Leaf.Raw) + ":"}},
	} {
		c := x.client("")
		c.header = h
		c.login()
		if code, body := c.get("/sites"); code != http.StatusOK || !strings.Contains(body, "Иван Митничаров") {
			t.Errorf("%s through a trusted proxy: %d", name, code)
		}
	}
	// The audit log keeps the client's address as the proxy gives it, not the proxy's own.
	fwd := x.client("")
	fwd.header = http.Header{"X-Client-Cert": {officer(x)}, "X-Forwarded-For": {"203.0.113.9, 198.51.100.7"}}
	fwd.login()
	if log, _ := x.st.Audit(context.Background(), store.AuditFilter{Limit: 1}); len(log) != 1 || log[0].Remote != "198.51.100.7" {
		t.Errorf("audit address through the proxy: %+v", log)
	}
	bad := x.client("")
	bad.header = http.Header{"X-Client-Cert": {"garbage"}}
	if code, _ := bad.get("/login"); code != http.StatusUnauthorized {
		t.Errorf("a garbage header: %d, want 401", code)
	}
	// The same header from an address that is not a trusted proxy is ignored.
	y := newTestServer(t, netip.MustParsePrefix("10.0.0.0/8"))
	c := y.client("")
	c.header = http.Header{"X-Client-Cert": {officer(y)}}
	if code, _ := c.get("/login"); code != http.StatusUnauthorized {
		t.Errorf("header from an untrusted address: %d, want 401 (no certificate)", code)
	}
	direct := y.client("officer")
	direct.header = http.Header{"X-Forwarded-For": {"198.51.100.7"}}
	direct.login()
	if log, _ := y.st.Audit(context.Background(), store.AuditFilter{Limit: 1}); len(log) != 1 || log[0].Remote != "127.0.0.1" {
		t.Errorf("audit address from an untrusted peer: %+v", log)
	}
	z := newTestServer(t) // no proxy configured at all
	c = z.client("")
	c.header = http.Header{"X-Client-Cert": {officer(z)}}
	if code, _ := c.get("/login"); code != http.StatusUnauthorized {
		t.Errorf("header with no trusted proxy: %d, want 401", code)
	}
	// A TLS client certificate wins over any header.
	c = x.client("operator")
	c.header = http.Header{"X-Client-Cert": {officer(x)}}
	c.login()
	if _, body := c.get("/sites"); !strings.Contains(body, "Мария Операторова") {
		t.Error("the header overrode the TLS client certificate")
	}
}

// TestLanguage: Bulgarian by default, English by Accept-Language or by the switch.
func TestLanguage(t *testing.T) {
	x := newTestServer(t)
	c := x.client("operator").login()
	if _, body := c.get("/sites"); !strings.Contains(body, `<html lang="bg">`) || !strings.Contains(body, "Обекти") {
		t.Error("default is not Bulgarian")
	}
	c.header = http.Header{"Accept-Language": {"de;q=1, en-GB;q=0.8, bg;q=0.5"}}
	if _, body := c.get("/sites"); !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Sites") {
		t.Error("Accept-Language en-GB above bg did not give English")
	}
	c.header = nil
	code, _ := c.get("/lang/en?next=/sites")
	if code != http.StatusSeeOther {
		t.Fatalf("switch: %d", code)
	}
	if _, body := c.get("/sites"); !strings.Contains(body, "Open alarms") {
		t.Error("the switch did not give English")
	}
	for in, want := range map[string]string{"": "bg", "en": "en", "bg-BG,en;q=0.9": "bg", "en;q=0.1, bg;q=0.2": "bg", "fr": "bg", "en;q=x": "bg", "EN-us": "en"} {
		if got := acceptLanguage(in); string(got) != want {
			t.Errorf("acceptLanguage(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestSessionFixation: a session cookie planted in a browser before its person logs in — a made-up
// token, or another person's live session — is never the session the person gets: the login issues a
// new token, bound to the person's own certificate.
func TestSessionFixation(t *testing.T) {
	x := newTestServer(t)
	u, _ := url.Parse(x.ts.URL)
	attacker := x.client("operatorB").login()
	var attackerToken string
	for _, ck := range attacker.c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			attackerToken = ck.Value
		}
	}
	for name, planted := range map[string]string{"made up": "planted-token", "another's session": attackerToken} {
		victim := x.client("operator")
		victim.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/", Secure: true}})
		req, _ := http.NewRequest(http.MethodGet, x.ts.URL+"/login", nil)
		resp, err := victim.c.Do(req)
		must(t, err)
		resp.Body.Close()
		var issued string
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				issued = ck.Value
			}
		}
		if resp.StatusCode != http.StatusSeeOther || issued == "" || issued == planted {
			t.Errorf("%s: login %d issued %q", name, resp.StatusCode, issued)
		}
		if _, body := victim.get("/sites"); !strings.Contains(body, "Мария Операторова") || strings.Contains(body, siteB) {
			t.Errorf("%s: the person is not in its own session", name)
		}
	}
}
