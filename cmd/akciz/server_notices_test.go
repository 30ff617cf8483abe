package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/notify"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/watch"
)

// mailSession is the test mail server's session: AUTH PLAIN (only inside STARTTLS), every message to
// the channel.
type mailSession struct {
	got  chan string
	auth bool
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "akciz" || pass != "s3cret word" {
			return smtp.ErrAuthFailed
		}
		s.auth = true
		return nil
	}), nil
}
func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	if !s.auth {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err == nil {
		s.got <- string(b)
	}
	return err
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

// TestServerNotices runs akciz server with the notices part against a real SMTP server (go-smtp's, with
// STARTTLS and AUTH): the administrator (an EIK of --notices-admin) adds a system and grants it, a person
// subscribes with the certificate's own address, a published document reaches the mail server at once,
// and the feed is public.
func TestServerNotices(t *testing.T) {
	dir := t.TempDir()
	certPEM := filepath.Join(dir, "operator.pem")
	key, cert := selfSigned(t, &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "Иван Петров"},
		EmailAddresses: []string{"ivan@neft.bg"}}, certPEM)
	data := filepath.Join(dir, "data")
	runAll(t,
		[]string{"server", "operator", "add", "--dir", data, "--eik", srvEIK, "--name", "Нефтена база ЕООД"},
		[]string{"server", "cert", "add", "--dir", data, "--operator", srvEIK, certPEM},
	)

	// The mail server: a self-signed certificate, trusted through --smtp-ca.
	caFile := filepath.Join(dir, "mx.pem")
	mkey, mcert := selfSigned(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "mx.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caFile)
	mder := mcert.Raw
	got := make(chan string, 16)
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{got: got}, nil }))
	srv.Domain = "mx.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{mder}, PrivateKey: mkey}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	flags := []string{"--smtp", "smtp://akciz:s3cret%20word@" + ln.Addr().String(), "--smtp-ca", caFile,
		"--mail-from", "Агенция „Митници“ <notices@customs.bg>", "--notices-admin", srvEIK, "--portal-url", "https://portal.test"}
	serveWith(t, data, flags, func(url string, c *http.Client, errw *lineWriter) {
		do := func(method, path, body string, want int) string {
			t.Helper()
			req, err := http.NewRequest(method, url+path, strings.NewReader(body))
			must(t, err)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := c.Do(req)
			must(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Fatalf("%s %s: %d, want %d\n%s", method, path, resp.StatusCode, want, b)
			}
			return string(b)
		}
		do("PUT", "/api/v1/notices/admin/systems/BACIS", `{"name":"БАЦИС"}`, 200)
		do("POST", "/api/v1/notices/admin/grants", `{"system":"BACIS","eik":"`+srvEIK+`"}`, 204)
		me := do("GET", "/api/v1/notices/me", "", 200)
		if !strings.Contains(me, `"email": "ivan@neft.bg"`) || !strings.Contains(me, `"first_name": "Иван"`) {
			t.Errorf("me: %s", me)
		}
		do("POST", "/api/v1/notices/subscriptions", `{"first_name":"Иван","last_name":"Петров","email":"ivan@neft.bg",`+
			`"system":"BACIS","events":["documents"],"delivery":"email"}`, 201)
		do("POST", "/api/v1/notices/admin/notices", `{"system":"BACIS","kind":"document","title":"Ръководство","text":"Нова версия.",`+
			`"link":"https://portal.test/docs/1"}`, 201)
		select {
		case m := <-got:
			if !regexp.MustCompile(`Message-Id: <akciz\.n1\.r1\.[0-9a-z]+\.s1@customs\.bg>`).MatchString(m) ||
				!strings.Contains(m, "https://portal.test/api/v1/notices/unsubscribe/") {
				t.Errorf("the message:\n%s", m)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no message reached the mail server\n%s", errw)
		}
		if feed := do("GET", "/api/v1/notices/systems/BACIS/feed.atom", "", 200); !strings.Contains(feed, "Ръководство") {
			t.Errorf("feed: %s", feed)
		}
	}, key, cert)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoticesTellAlarms: the notices part gives akciz server the outbox as the alarms' notifier (the
// watch engine and the console, which start after it, tell it every change), with links to the console.
func TestNoticesTellAlarms(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	start := setupNotices(fs)
	must(t, fs.Parse([]string{"--portal-url", "https://portal.test", "--console-url", "https://console.test/"}))
	sc := &serverContext{env: &environment{stdout: io.Discard, stderr: io.Discard, p: i18n.For(i18n.BG)}, store: st,
		api: http.NewServeMux(), logger: log.New(io.Discard, "", 0), ctx: ctx}
	must(t, start(ctx, sc))
	svc, ok := sc.alarms.(*notify.Service)
	if !ok {
		t.Fatalf("the alarms' notifier is %T, want the notices' outbox", sc.alarms)
	}
	if got := svc.ConsoleAlarmURL(7); got != "https://console.test/alarms/7" {
		t.Errorf("the link to an alarm: %s", got)
	}

	// Through package watch as the engine and the console call it: an officer's acknowledgement is queued
	// for the site's operator's person and the office's officer, as entry 2 of the alarm.
	must(t, st.PutOperator(ctx, store.Operator{EIK: srvEIK, Name: "Нефтена база ЕООД"}))
	must(t, st.PutSite(ctx, store.Site{Warehouse: "BGNCA00005001", Operator: srvEIK, Name: "Склад",
		CustomsOffice: "BG005800", State: store.SiteLive}))
	for _, p := range []store.Person{
		{Name: "Мария Иванова", Email: "maria@neft.bg", Role: store.RoleOperator, Operator: srvEIK},
		{Name: "Иван Петров", Email: "ivan@customs.bg", Role: store.RoleOfficer, Office: "BG005800"},
		{Name: "Георги Георгиев", Email: "georgi@customs.bg", Role: store.RoleOfficer, Office: "BG003000"},
	} {
		_, err := st.PutPerson(ctx, p)
		must(t, err)
	}
	a, _, err := st.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmDoorOpened, Site: "BGNCA00005001", Device: "BOX-1"},
		store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmOpened})
	must(t, err)
	officer := watch.Actor{Who: "Иван Петров", Role: store.RoleOfficer, Office: "BG005800"}
	_, err = watch.NewAlarms(st, nil, sc.alarms).Acknowledge(ctx, officer, a.ID, "Проверява се.")
	must(t, err)
	rows, err := st.Outbox(ctx, store.OutboxFilter{Alarm: a.ID})
	must(t, err)
	if len(rows) != 2 || rows[0].Entry != 2 || rows[1].Entry != 2 || rows[0].Kind != store.OutboxAlarm {
		t.Errorf("the acknowledgement's rows: %+v", rows)
	}
}

// TestIngestProbe: the watchdog's probe of akciz server's own intake (issue #8, "can raise an
// unplanned-unavailability notice when ingest is down"). Against a real TLS server on the listen address
// with the certificate of --dir, stopped and started: it answers, a 500 is down, a stopped listener is
// down, another certificate is refused (pinned), a closed store is down; --ingest-system must name a
// system of the catalogue and needs a fixed port.
func TestIngestProbe(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cert, _, err := devTLS(dir, "127.0.0.1:0")
	must(t, err)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "akciz.db"))
	must(t, err)
	status := http.StatusOK
	serve := func(addr string, c tls.Certificate) (*http.Server, string) {
		ln, err := net.Listen("tcp", addr)
		must(t, err)
		hs := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{c}},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v1/checkpoint" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(status)
			})}
		go hs.ServeTLS(ln, "", "")
		t.Cleanup(func() { hs.Close() })
		return hs, ln.Addr().String()
	}
	hs, addr := serve("127.0.0.1:0", cert)

	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	start := setupNotices(fs)
	must(t, fs.Parse([]string{"--ingest-system", "AKCIZ"}))
	sc := &serverContext{env: &environment{stdout: io.Discard, stderr: io.Discard, p: i18n.For(i18n.BG)}, store: st, dir: dir,
		api: http.NewServeMux(), logger: log.New(io.Discard, "", 0), ctx: ctx, addr: "0.0.0.0:" + addr[strings.LastIndexByte(addr, ':')+1:], cert: cert}
	if err := start(ctx, sc); err == nil || !strings.Contains(err.Error(), "AKCIZ") {
		t.Errorf("an unknown --ingest-system: %v", err)
	}
	must(t, st.PutSystem(ctx, store.InfoSystem{Code: "AKCIZ", Name: "Приемане на данни akciz"}))
	sc.api = http.NewServeMux()
	wctx, stop := context.WithCancel(ctx)
	sc.ctx = wctx
	must(t, start(wctx, sc))
	stop()
	sc.wg.Wait()
	gotAddr, leaf, err := servedListener(sc)
	must(t, err)
	if gotAddr != addr || !bytes.Equal(leaf, cert.Certificate[0]) {
		t.Errorf("servedListener: %s, want %s", gotAddr, addr)
	}
	probe := ingestProbe(st, addr, leaf)
	must(t, probe(ctx))
	status = http.StatusInternalServerError
	if err := probe(ctx); err == nil {
		t.Error("a 500 counts as up")
	}
	status = http.StatusOK
	hs.Close()
	if err := probe(ctx); err == nil {
		t.Error("a stopped listener counts as up")
	}
	serve(addr, cert)
	must(t, probe(ctx))
	if err := ingestProbe(st, addr, []byte("another"))(ctx); err == nil {
		t.Error("another certificate is accepted")
	}
	st.Close()
	if err := probe(ctx); err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("a closed store: %v", err)
	}

	sc.addr = ""
	if _, _, err := servedListener(sc); err == nil {
		t.Error("a listener not bound is accepted for probing")
	}
}
