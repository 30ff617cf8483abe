// Package web is the console of akciz server: the pages customs officers, operators and the agency's
// central administrators read and act on (DESIGN.md §2, §6; docs/console.md).
//
// It is modelled on miniflux's internal/ui: the routes are in one place (routes.go), each page has a
// handler file of its own and a template under templates/, templates and static files are embedded, and
// every text comes from the i18n catalogue (areas "web" and "console"), Bulgarian first. Pages are
// rendered on the server with html/template and read without JavaScript; charts are SVG drawn here.
//
// People log in with the certificate of their electronic signature: a TLS client certificate, or one a
// trusted reverse proxy passes in a header. A certificate is known when it is registered for a person
// (store.Console); the person's role decides which sites it sees: an operator its own EIK's, an officer
// its customs office's, an administrator all. Sessions are kept on the server, every form carries a CSRF
// token, and every change a person makes is written to the audit log. See README.md for how to add a
// page.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/netip"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/notify"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/submit"
	"github.com/akciz/akciz/internal/watch"
)

// Config is what the console needs.
type Config struct {
	Store store.Store
	// TrustedProxies are the addresses of reverse proxies whose certificate header (X-Client-Cert or
	// Client-Cert) is believed. The header from any other address is ignored.
	TrustedProxies []netip.Prefix
	Logger         *log.Logger
	// Now is the clock (time.Now when nil); tests give a fake one.
	Now func() time.Time
	// SessionIdle is how long a session lives without a request (30 minutes when zero); SessionMax is
	// its absolute length (12 hours when zero).
	SessionIdle time.Duration
	SessionMax  time.Duration
	// Alarms are the alarm actions (package watch), with the notifier that tells people of every change;
	// nil means watch.NewAlarms over Store with no notifier.
	Alarms *watch.Alarms
	// DecodeExport reads and verifies the agent's export (`akciz agent export`: a signed batch) for the
	// three-way comparison of чл. 20; the wire format is not the console's business, so akciz server
	// gives it. nil leaves the agent's export out of the form.
	DecodeExport func(ctx context.Context, r io.Reader) ([]core.Record, error)
	// Notices and Submissions are the services of the notices' and the file submissions' pages
	// (notices*.go, uploads*.go); nil when akciz server runs without them.
	Notices     *notify.Service
	Submissions *submit.Service
	// MaxForm bounds the body of a form post, uploads included (64 MiB when zero).
	MaxForm int64
}

// Server is the console: an http.Handler over the store.
type Server struct {
	cfg     Config
	store   store.Store
	pages   map[string]*template.Template
	handler http.Handler
	menu    []MenuItem
	alarms  *watch.Alarms

	// notices and submissions are Config.Notices and Config.Submissions, for notices*.go and uploads*.go.
	notices     *notify.Service
	submissions *submit.Service

	lifecycle      *watch.Lifecycle
	configs        *watch.Configs
	comparisons    *watch.Comparisons
	commissionings *watch.Commissionings
}

// New gives the console over cfg.Store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = log.New(log.Writer(), "akciz web: ", log.LstdFlags|log.LUTC)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.MaxForm <= 0 {
		cfg.MaxForm = 64 << 20
	}
	if cfg.Alarms == nil {
		cfg.Alarms = watch.NewAlarms(cfg.Store, clock{cfg.Now}, nil)
	}
	wc := clock{cfg.Now}
	s := &Server{cfg: cfg, store: cfg.Store, alarms: cfg.Alarms, notices: cfg.Notices, submissions: cfg.Submissions,
		lifecycle:      watch.NewLifecycle(cfg.Store, wc),
		configs:        watch.NewConfigs(cfg.Store, wc, nil),
		comparisons:    watch.NewComparisons(cfg.Store, storedRecord, wc),
		commissionings: watch.NewCommissionings(cfg.Store, wc),
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s.pages = pages
	mux := http.NewServeMux()
	s.routes(mux)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, http.StatusForbidden, "web.error.csrf")
	}))
	s.handler = securityHeaders(csrf.Handler(mux))
	return s, nil
}

// ServeHTTP serves the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Sweep deletes the expired sessions every interval until ctx ends (akciz server runs it in the
// background).
func (s *Server) Sweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.store.DeleteExpiredSessions(ctx, s.cfg.Now()); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Printf("sweep sessions: %v", err)
			}
		}
	}
}

// securityHeaders sets the headers every answer carries: no framing, no sniffing, no referrer to
// other sites, and a content security policy that allows only the console's own files (no inline
// scripts: the pages need none).
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

// clock adapts Config.Now to watch.Clock.
type clock struct{ now func() time.Time }

func (c clock) Now() time.Time                         { return c.now().UTC() }
func (c clock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// TLSConfig is the console's TLS configuration: the server's certificate, and every browser asked for
// the person's certificate (tls.RequestClientCert: the TLS layer does not judge it; the console maps it to
// a person by its fingerprint, and the login page explains a missing or unknown one). TLS 1.2 is
// allowed beside 1.3 because many qualified-signature smart cards sign only with RSA PKCS #1 v1.5, which
// TLS 1.3 does not accept for a client's handshake signature (docs/console.md).
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}
}
