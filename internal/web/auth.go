package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// User is the person logged in to a request, with its session.
type User struct {
	Person  store.Person
	Session store.Session
	Remote  string // the client's address (through a trusted proxy: as the proxy says, X-Forwarded-For)
}

// Is reports whether the user has one of the roles.
func (u *User) Is(roles ...store.Role) bool {
	for _, r := range roles {
		if u.Person.Role == r {
			return true
		}
	}
	return false
}

type userKey struct{}

// UserOf gives the person logged in to r, or nil. Handlers registered with Server.Page or Server.Action
// always have one.
func UserOf(r *http.Request) *User {
	u, _ := r.Context().Value(userKey{}).(*User)
	return u
}

func withUser(r *http.Request, u *User) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey{}, u))
}

// The session cookie: __Host- makes browsers keep it only when Secure, for this host, on path /.
const (
	sessionCookie = "__Host-akciz_session"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// Headers a trusted reverse proxy passes the client certificate in: X-Client-Cert with the PEM
// URL-escaped (nginx's $ssl_client_escaped_cert), or Client-Cert with the DER in base64 between colons
// (RFC 9440).
const (
	headerEscapedPEM = "X-Client-Cert"
	headerRFC9440    = "Client-Cert"
	maxCertHeader    = 16 << 10
)

// clientCertificate gives the certificate the request's person presented: the TLS client certificate,
// or, only when the TCP peer is a trusted proxy, the one in the proxy's header. nil when there is none.
func (s *Server) clientCertificate(r *http.Request) *x509.Certificate {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0]
	}
	if !s.trustedPeer(r) {
		return nil
	}
	if v := r.Header.Get(headerRFC9440); v != "" && len(v) <= maxCertHeader {
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == ':' && v[len(v)-1] == ':' {
			if der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1]); err == nil {
				if c, err := x509.ParseCertificate(der); err == nil {
					return c
				}
			}
		}
		return nil
	}
	if v := r.Header.Get(headerEscapedPEM); v != "" && len(v) <= maxCertHeader {
		p, err := url.QueryUnescape(v)
		if err != nil {
			return nil
		}
		b, _ := pem.Decode([]byte(p))
		if b == nil || b.Type != "CERTIFICATE" {
			return nil
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			return c
		}
	}
	return nil
}

// trustedPeer reports whether the request's TCP peer is one of the trusted proxies.
func (s *Server) trustedPeer(r *http.Request) bool {
	if len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteOf is the client's address for the audit log: the TCP peer's, or, through a trusted proxy, the
// address the proxy appended last to X-Forwarded-For (earlier entries are the client's own claims).
func (s *Server) remoteOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if s.trustedPeer(r) {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if a, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
				return a.String()
			}
		}
	}
	return host
}

// errNoPerson says that the certificate is not (or no longer) a person's.
var errNoPerson = errors.New("web: no person for the certificate")

// personOf gives the person whose registered certificate c is, if c is valid now and the person may
// log in.
func (s *Server) personOf(ctx context.Context, c *x509.Certificate) (store.Person, store.Hash, error) {
	fp := store.Fingerprint(c.Raw)
	now := s.cfg.Now()
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return store.Person{}, fp, errNoPerson
	}
	p, _, err := s.store.PersonByCertificate(ctx, fp)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.Disabled {
		return store.Person{}, fp, errNoPerson
	}
	return p, fp, err
}

// authenticate finds the request's session: the cookie names a live session of an enabled person,
// and the request presents the very certificate the session was opened with (a stolen cookie alone is
// worth nothing). It moves the session's idle expiry at most once a minute.
func (s *Server) authenticate(r *http.Request) (*User, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return nil, nil
	}
	c := s.clientCertificate(r)
	if c == nil {
		return nil, nil
	}
	now := s.cfg.Now()
	ctx := r.Context()
	ss, err := s.store.Session(ctx, sessionID(ck.Value), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if store.Fingerprint(c.Raw) != ss.Certificate {
		return nil, nil
	}
	p, fp, err := s.personOf(ctx, c)
	if errors.Is(err, errNoPerson) || err == nil && (p.ID != ss.Person || fp != ss.Certificate) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if now.Sub(ss.Seen) >= minuteTouch {
		exp := now.Add(s.cfg.SessionIdle)
		if err := s.store.TouchSession(ctx, ss.ID, now, exp); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		ss.Seen, ss.Expires = now, exp
	}
	return &User{Person: p, Session: ss, Remote: s.remoteOf(r)}, nil
}

// minuteTouch is how often a session's idle expiry moves: not a write per request.
const minuteTouch = time.Minute

// sessionID is what the store keeps of a session's cookie token: its SHA-256.
func sessionID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Page wraps a handler of a page a logged-in person reads (GET): without a session the person is sent
// to /login and comes back.
func (s *Server) Page(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if u == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.Error(w, r, http.StatusForbidden, "web.error.login")
			return
		}
		h(w, withUser(r, u))
	})
}

// Action wraps a handler that changes something (POST): it needs a session and the session's CSRF token
// in the form field "csrf" (or the X-CSRF-Token header). The form is parsed here, bounded by
// Config.MaxForm (a multipart form keeps at most 8 MiB in memory, the rest in temporary files), so
// the handler reads r.PostForm or r.MultipartForm. The handler must write the audit log (Server.Audit).
func (s *Server) Action(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if u == nil {
			s.Error(w, r, http.StatusForbidden, "web.error.login")
			return
		}
		// The form is always parsed here, whether the token comes in the header or in the form, so that
		// every handler finds r.PostForm and r.MultipartForm filled the same way.
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxForm)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			err = r.ParseMultipartForm(8 << 20)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.Error(w, r, http.StatusRequestEntityTooLarge, "web.error.too_large", tooBig.Limit)
				return
			}
			s.Error(w, r, http.StatusBadRequest, "web.error.bad_form")
			return
		}
		if r.MultipartForm != nil {
			// The temporary files of a large upload go when the request ends, whatever the handler did.
			defer r.MultipartForm.RemoveAll()
		}
		token := r.Header.Get(csrfHeader)
		if token == "" {
			token = r.PostFormValue(csrfField)
		}
		if u.Session.CSRF == "" || subtle.ConstantTimeCompare([]byte(token), []byte(u.Session.CSRF)) != 1 {
			s.Error(w, r, http.StatusForbidden, "web.error.csrf")
			return
		}
		h(w, withUser(r, u))
	})
}

// Only lets through the people with one of the roles; others get 404 (they need not learn the page
// exists). Use inside Page or Action: s.Page(s.Only(h, store.RoleAdmin)).
func (s *Server) Only(h http.HandlerFunc, roles ...store.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u := UserOf(r); u == nil || !u.Is(roles...) {
			s.NotFound(w, r)
			return
		}
		h(w, r)
	}
}

// Audit writes an entry of the audit log for a change the request's person made: the action (a short
// dotted name such as "alarm.ack"), the site concerned (or ""), the object changed and the values. Call
// it after the change succeeded; an error is logged and returned (the change stays made).
func (s *Server) Audit(r *http.Request, action, site, object, detail string) error {
	u := UserOf(r)
	e := store.AuditEntry{Time: s.cfg.Now(), Action: action, Site: site, Object: object, Detail: detail, Remote: s.remoteOf(r)}
	if u != nil {
		e.Person, e.Name = u.Person.ID, u.Person.Name
	}
	if _, err := s.store.AddAudit(r.Context(), e); err != nil {
		s.cfg.Logger.Printf("audit %s %s %s: %v", action, site, object, err)
		return err
	}
	return nil
}

// loginData is the login page's data.
type loginData struct {
	Subject     string // the certificate presented, if any
	Fingerprint string
	State       string // "none" (no certificate), "unknown" (not registered or not valid), "out" (logged out)
}

// login opens a session for the certificate the request presents and goes on to ?next.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	// A person already logged in keeps its session (and the CSRF token its open pages hold).
	if u, err := s.authenticate(r); err == nil && u != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c := s.clientCertificate(r)
	if c == nil {
		s.RenderPage(w, r, http.StatusUnauthorized, s.NewPage(r, "login", "web.login.title", loginData{State: "none"}))
		return
	}
	p, fp, err := s.personOf(r.Context(), c)
	if errors.Is(err, errNoPerson) {
		s.RenderPage(w, r, http.StatusForbidden, s.NewPage(r, "login", "web.login.title",
			loginData{State: "unknown", Subject: c.Subject.String(), Fingerprint: fp.String()}))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.cfg.Now()
	token := randomToken()
	ss := store.Session{ID: sessionID(token), Person: p.ID, Certificate: fp, CSRF: randomToken(), Created: now,
		Seen: now, Expires: now.Add(s.cfg.SessionIdle), End: now.Add(s.cfg.SessionMax), Remote: s.remoteOf(r)}
	if err := s.store.CreateSession(r.Context(), ss); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SessionMax.Seconds())})
	r = withUser(r, &User{Person: p, Session: ss, Remote: ss.Remote})
	s.Audit(r, "session.login", "", fp.String(), c.Subject.String())
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	u := UserOf(r)
	if err := s.store.DeleteSession(r.Context(), u.Session.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Audit(r, "session.logout", "", "", "")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	p := s.NewPage(withUser(r, nil), "login", "web.login.title", loginData{State: "out"})
	s.RenderPage(w, r, http.StatusOK, p)
}
