package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/submit"
	"github.com/akciz/akciz/internal/wire"
)

// The fixture: two operators with a site each under different customs offices, and one person of each
// role. Operator A's site is supervised by office BG001000, operator B's by BG002000.
const (
	siteA   = "BGNCA00005001"
	siteB   = "BGNCA00007001"
	deviceA = siteA + "001"
	deviceB = siteB + "001"
	pointA  = deviceA + "001"
	pointB  = deviceB + "001"
	officeA = "BG001000"
	officeB = "BG002000"
	eikA    = "121000008" // valid EIKs (checksum)
	eikB    = "121000015"
)

// fixedNow is the fake clock's start: the records of the fixture are from the hours before.
var fixedNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock tests move.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testPerson is a person of the fixture with the certificate it logs in with.
type testPerson struct {
	store.Person
	cert tls.Certificate
}

type testServer struct {
	t      *testing.T
	st     store.Store
	web    *Server
	ts     *httptest.Server
	clock  *fakeClock
	people map[string]*testPerson // by role name, and "operatorB", "officerB"
	alarmA int64                  // an open alarm of site A
	alarmB int64                  // an open alarm of site B
	// site B's lifecycle objects, which the access test asks for as people who may not see them
	noticeB, comparisonB, commissioningB int64
	logs                                 *strings.Builder
	proxies                              []netip.Prefix
}

// newTestServer gives a console over a fresh SQLite store with the fixture, served over TLS that asks
// for client certificates, on 127.0.0.1.
func newTestServer(t *testing.T, proxies ...netip.Prefix) *testServer {
	t.Helper()
	return newServerWith(t, nil, proxies...)
}

// newFullServer is newTestServer with every optional part of the console running (the file
// submissions' pages), so that the access walks reach every route.
func newFullServer(t *testing.T) *testServer {
	t.Helper()
	return newServerWith(t, func(x *testServer, cfg *Config) {
		svc, err := submit.New(submit.Config{Store: x.st, TempDir: t.TempDir(), Now: x.clock.Now})
		must(t, err)
		cfg.Submissions = svc
	})
}

// newServerWith is newTestServer with the console's configuration changed by set before it starts.
func newServerWith(t *testing.T, set func(*testServer, *Config), proxies ...netip.Prefix) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	x := &testServer{t: t, st: st, clock: &fakeClock{t: fixedNow}, people: map[string]*testPerson{}, logs: &strings.Builder{}, proxies: proxies}
	x.fill(ctx)
	cfg := Config{Store: st, TrustedProxies: proxies, Now: x.clock.Now, Logger: log.New(syncWriter{mu: &sync.Mutex{}, b: x.logs}, "", 0)}
	if set != nil {
		set(x, &cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x.web = w
	x.ts = httptest.NewUnstartedServer(w)
	x.ts.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes a browser abandons
	x.ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	x.ts.StartTLS()
	t.Cleanup(x.ts.Close)
	return x
}

// syncWriter collects the console's log from concurrent handlers.
type syncWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newCert makes a self-signed ECDSA certificate (an electronic signature's, for the tests).
func newCert(t testing.TB, cn string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Country: []string{"BG"}},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	must(t, err)
	leaf, err := x509.ParseCertificate(der)
	must(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// addPerson registers a person and a certificate for it.
func (x *testServer) addPerson(ctx context.Context, name string, p store.Person) *testPerson {
	id, err := x.st.PutPerson(ctx, p)
	must(x.t, err)
	p.ID = id
	c := newCert(x.t, p.Name, fixedNow.AddDate(-1, 0, 0), fixedNow.AddDate(1, 0, 0))
	must(x.t, x.st.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: store.Fingerprint(c.Leaf.Raw), Person: id,
		DER: c.Leaf.Raw, Subject: c.Leaf.Subject.String(), NotAfter: c.Leaf.NotAfter}))
	tp := &testPerson{Person: p, cert: c}
	x.people[name] = tp
	return tp
}

func (x *testServer) fill(ctx context.Context) {
	t := x.t
	must(t, x.st.PutOperator(ctx, store.Operator{EIK: eikA, Name: "Нефтена база А ЕООД"}))
	must(t, x.st.PutOperator(ctx, store.Operator{EIK: eikB, Name: "Петрол Б АД"}))
	must(t, x.st.PutSite(ctx, store.Site{Warehouse: siteA, Operator: eikA, Name: "Склад Бургас", CustomsOffice: officeA, State: store.SiteLive}))
	must(t, x.st.PutSite(ctx, store.Site{Warehouse: siteB, Operator: eikB, Name: "Склад Русе", CustomsOffice: officeB, State: store.SiteTesting}))
	for _, d := range []struct{ dev, pt, name string }{{deviceA, pointA, "Естакада 1"}, {deviceB, pointB, "Естакада Русе"}} {
		must(t, x.st.PutDevice(ctx, store.Device{ID: d.dev, Name: "ИКУНК"}))
		must(t, x.st.PutPoint(ctx, store.Point{ID: d.pt, Name: d.name}))
		x.records(ctx, d.dev, d.pt)
	}
	x.addPerson(ctx, "operator", store.Person{Name: "Мария Операторова", Role: store.RoleOperator, Operator: eikA})
	x.addPerson(ctx, "operatorB", store.Person{Name: "Борис Операторов", Role: store.RoleOperator, Operator: eikB})
	x.addPerson(ctx, "officer", store.Person{Name: "Иван Митничаров", Role: store.RoleOfficer, Office: officeA})
	x.addPerson(ctx, "officerB", store.Person{Name: "Петя Русенска", Role: store.RoleOfficer, Office: officeB})
	x.addPerson(ctx, "admin", store.Person{Name: "Админ Централен", Role: store.RoleAdmin})
	open := func(site, dev string) int64 {
		a, _, err := x.st.OpenAlarm(ctx, store.Alarm{Kind: store.AlarmDoorOpened, Site: site, Device: dev, Opened: fixedNow.Add(-30 * time.Minute),
			Detail: map[string]string{"tag": "door"}}, store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmOpened})
		must(t, err)
		return a.ID
	}
	x.alarmA, x.alarmB = open(siteA, deviceA), open(siteB, deviceB)
	// Site B has a configuration version with a product notice, a comparison and a commissioning.
	v, err := x.st.AddConfigVersion(ctx, store.ConfigVersion{Site: siteB, File: []byte("<automationConfig/>"), UploadedBy: "Б",
		UploadedAt: fixedNow, Verdict: store.ConfigAccepted, Notices: []store.ProductNotice{{Point: pointB, Product: "27101943", Change: "added", Due: "2026-11-30"}}})
	must(t, err)
	x.noticeB = v.Notices[0].ID
	cmp, err := x.st.AddComparison(ctx, store.Comparison{Kind: store.ComparisonThreeWay, Site: siteB, Time: fixedNow, By: "Петя",
		From: fixedNow.Add(-time.Hour), To: fixedNow, Sources: []string{"officer", "agent", "server"}})
	must(t, err)
	x.comparisonB = cmp.ID
	com, err := x.st.AddCommissioning(ctx, store.Commissioning{Site: siteB, Time: fixedNow, Officer: "Петя", Protocol: "1/2026",
		Controller: "C1", Computer: "K1", UPS: "U1", Seals: []string{"S1"}})
	must(t, err)
	x.commissioningB = com.ID
}

// records stores, as one verified batch, readings every minute over the last two hours, a finished
// loading transaction and a door event.
func (x *testServer) records(ctx context.Context, dev, pt string) {
	var recs []core.Record
	start := fixedNow.Add(-2 * time.Hour)
	for i := range 120 {
		tm := start.Add(time.Duration(i) * time.Minute)
		total := 1000000 + i*50
		recs = append(recs, core.Record{Kind: core.KindReading, Time: tm, Device: dev, Point: pt, Reading: &core.Reading{Values: []core.Value{
			{Tag: "GOV_TOTAL", Role: core.RoleTotalVolume, Value: core.Decimal(itoa(total) + ".5"), Unit: "L"},
			{Tag: "FLOW", Role: core.RoleFlow, Value: core.Decimal(itoa(50 + i%7)), Unit: "L/min"},
		}}})
	}
	begin, end := fixedNow.Add(-90*time.Minute), fixedNow.Add(-80*time.Minute)
	recs = append(recs, core.Record{Kind: core.KindTransaction, Time: end, Device: dev, Point: pt, Transaction: &core.Transaction{
		Begin: begin, End: end, Product: "27101943", ProductName: "Дизелово гориво", Direction: core.DirectionOut,
		Forward:   core.Flow{Volume: &core.Totals{Begin: "1000500.5", End: "1030500.5", Quantity: "30000.0", Unit: "L"}},
		Density15: &core.Measure{Value: "835.2", Unit: "kg/m3"}}})
	recs = append(recs, core.Record{Kind: core.KindEvent, Time: fixedNow.Add(-30 * time.Minute), Device: dev, Event: &core.Event{Kind: core.EventDoorOpened, Tag: "door"}})
	// Time order is what a box sends: sort by time keeping the seq order.
	sortRecords(recs)
	b := &store.Batch{Device: dev, First: 1, Last: int64(len(recs)), Created: fixedNow.Add(-10 * time.Minute),
		Signature: []byte("sig"), ReceivedAt: fixedNow.Add(-10 * time.Minute)}
	var prev [32]byte
	for i := range recs {
		seq := int64(i + 1)
		bs, err := wire.EncodeRecord(uint64(seq), prev, &recs[i])
		must(x.t, err)
		h := sha256.Sum256(bs)
		b.Records = append(b.Records, store.Row{Device: dev, Seq: seq, Hash: h, Kind: recs[i].Kind, Time: recs[i].Time, Point: recs[i].Point, Bytes: bs})
		prev = h
	}
	b.LastChain = prev
	b.Digest = sha256.Sum256([]byte(dev))
	if _, err := x.st.AppendBatch(ctx, b); err != nil {
		x.t.Fatal(err)
	}
}

func sortRecords(r []core.Record) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Time.Before(r[j-1].Time); j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// client gives an HTTPS client presenting the person's certificate (none for ""), with a cookie jar,
// not following redirects.
func (x *testServer) client(who string) *testClient {
	tc := x.ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	if who != "" {
		p, ok := x.people[who]
		if !ok {
			x.t.Fatalf("no person %q", who)
		}
		tc.Certificates = []tls.Certificate{p.cert}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	x.t.Cleanup(c.CloseIdleConnections)
	return &testClient{x: x, c: c}
}

type testClient struct {
	x      *testServer
	c      *http.Client
	header http.Header
}

// get requests path and gives the status and body.
func (c *testClient) get(path string) (int, string) {
	return c.do(http.MethodGet, path, nil)
}

func (c *testClient) do(method, path string, form url.Values) (int, string) {
	c.x.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.x.ts.URL+path, body)
	must(c.x.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.c.Do(req)
	must(c.x.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(c.x.t, err)
	return resp.StatusCode, string(b)
}

// login opens a session (GET /login) and fails the test if it does not.
func (c *testClient) login() *testClient {
	c.x.t.Helper()
	code, body := c.get("/login")
	if code != http.StatusSeeOther {
		c.x.t.Fatalf("login: %d\n%s", code, body)
	}
	return c
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of the session from a page's form.
func (c *testClient) csrf() string {
	c.x.t.Helper()
	_, body := c.get("/sites")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.x.t.Fatalf("no CSRF token on /sites:\n%s", body)
	}
	return m[1]
}

// post sends a form with the session's CSRF token.
func (c *testClient) post(path string, form url.Values) (int, string) {
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", c.csrf())
	}
	return c.do(http.MethodPost, path, form)
}
