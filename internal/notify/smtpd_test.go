package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
)

// The test's SMTP server: go-smtp's own server, in-process, with STARTTLS on a self-signed certificate
// and AUTH PLAIN (offered only after STARTTLS), keeping every message it takes.

const (
	smtpUser = "akciz"
	smtpPass = "s3cret pass"
)

type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string
}

type mailbox struct {
	mu   sync.Mutex
	msgs []received
	// rcpt refuses these recipients with the error.
	rcpt map[string]*smtp.SMTPError
	// tempData fails this many DATA commands with 451 before taking one.
	tempData int
}

func (b *mailbox) all() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

// to gives the messages to one recipient.
func (b *mailbox) to(addr string) []received {
	var out []received
	for _, m := range b.all() {
		for _, t := range m.To {
			if strings.EqualFold(t, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

type session struct {
	box  *mailbox
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != smtpUser || password != smtpPass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.box.mu.Lock()
	e := s.box.rcpt[strings.ToLower(to)]
	s.box.mu.Unlock()
	if e != nil {
		return e
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.tempData > 0 {
		s.box.tempData--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	_, tlsOn := s.conn.TLSConnectionState()
	s.box.msgs = append(s.box.msgs, received{From: s.from, To: s.to, Data: b, TLS: tlsOn, User: s.user})
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// startSMTP runs the server and gives its mailbox and the client's settings.
func startSMTP(t *testing.T) (*mailbox, SMTP) {
	t.Helper()
	cert, pool := selfSigned(t)
	box := &mailbox{rcpt: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{box: box, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.AllowInsecureAuth = false // AUTH only inside TLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 30 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, SMTP{Addr: ln.Addr().String(), Username: smtpUser, Password: smtpPass,
		TLS: &tls.Config{RootCAs: pool}, Hello: "akciz.test"}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// A fixed start: 22 November 2026, 10:00 in Sofia (EET, UTC+02:00).
var start = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// dkimKey is one RSA key for all tests (generating one per test is slow under -race).
var dkimKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fixture is a store, a service with a fake clock and DKIM, and the catalogue of the tests: the
// system BACIS granted to the operator 121000004 (a valid EIK).
type fixture struct {
	st    store.Store
	svc   *Service
	clock *fakeClock
	dkim  *DKIM
	ctx   context.Context
}

const testEIK = "121000004"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/akciz.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: start}
	d := &DKIM{Domain: "customs.bg", Selector: "notices", Signer: dkimKey()}
	svc, err := New(st, Config{Portal: "https://portal.customs.bg/", Clock: clock, DKIM: d,
		From: mailAddress("Агенция „Митници“", "notices@customs.bg"), Alarms: st, Console: "https://console.customs.bg/"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, svc: svc, clock: clock, dkim: d, ctx: ctx}
	must(t, svc.PutSystem(ctx, store.InfoSystem{Code: "BACIS", Name: "БАЦИС", NameEN: "BACIS"}))
	must(t, svc.PutSystem(ctx, store.InfoSystem{Code: "EMCS", Name: "Акцизна система"}))
	must(t, st.GrantSystem(ctx, store.SystemGrant{System: "BACIS", EIK: testEIK}))
	must(t, st.GrantSystem(ctx, store.SystemGrant{System: "EMCS", EIK: testEIK}))
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func user(id, email string) User {
	return User{ID: id, EIK: testEIK, Email: email, FirstName: "Иван", LastName: "Петров"}
}
