package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/notify"
	"github.com/akciz/akciz/internal/store"
)

// The notices and subscriptions of akciz server („Обратна връзка с ИО“, docs/notices.md): the API under
// /api/v1/notices/ on the intake's listener, the Atom and iCalendar feeds, and the outbox worker that
// sends over SMTP when --smtp is given.
func init() {
	serverParts = append(serverParts, serverPart{name: "notices", help: "notices.server.help", setup: setupNotices})
}

// noticesService is the running service, for the web console's pages.
var noticesService *notify.Service

// noticesPoll is how often the worker looks for due messages (reminders fall due on their own).
const noticesPoll = 15 * time.Second

// noticeFlags are the flags of the notices part, shared with `akciz notices`.
type noticeFlags struct {
	smtp, from, dkimKey, dkimSelector, portal, admins, reminders, bounce, smtpCA, bounceListen, console *string
	// The watchdog of the intake (server only): the system that stands for it, how often to probe, and
	// how many failures over how long make an outage.
	ingestSystem            *string
	ingestEvery, ingestDown *time.Duration
	ingestProbes            *int
}

func addNoticeFlags(fs *flag.FlagSet) *noticeFlags {
	return &noticeFlags{
		smtp:         fs.String("smtp", "", ""),
		smtpCA:       fs.String("smtp-ca", "", ""),
		from:         fs.String("mail-from", "", ""),
		dkimKey:      fs.String("dkim-key", "", ""),
		dkimSelector: fs.String("dkim-selector", "", ""),
		portal:       fs.String("portal-url", "", ""),
		admins:       fs.String("notices-admin", "", ""),
		reminders:    fs.String("reminders", "24h,1h", ""),
		bounce:       fs.String("bounce", "", ""),
		bounceListen: fs.String("bounce-listen", "", ""),
		console:      fs.String("console-url", "", ""),
	}
}

// addWatchdogFlags adds the flags of the intake's watchdog (akciz server only).
func (f *noticeFlags) addWatchdogFlags(fs *flag.FlagSet) {
	f.ingestSystem = fs.String("ingest-system", "", "")
	f.ingestEvery = fs.Duration("ingest-probe", time.Minute, "")
	f.ingestProbes = fs.Int("ingest-down-probes", notify.DefaultDownProbes, "")
	f.ingestDown = fs.Duration("ingest-down-for", notify.DefaultDownFor, "")
}

// config turns the flags into the service's configuration; errors are the catalogue's text.
func (f *noticeFlags) config(p *i18n.Printer, listen string) (notify.Config, error) {
	cfg := notify.Config{Portal: *f.portal, Bounce: *f.bounce, Console: *f.console}
	if cfg.Portal == "" {
		cfg.Portal = "https://" + listen
	}
	from := *f.from
	if from == "" {
		from = "akciz <notices@akciz.invalid>"
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return cfg, errors.New(p.T("notices.bad_from", from, err.Error()))
	}
	cfg.From = *a
	for _, r := range strings.Split(*f.reminders, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		d, err := time.ParseDuration(r)
		if err != nil || d <= 0 {
			return cfg, errors.New(p.T("notices.bad_reminder", r))
		}
		cfg.Reminders = append(cfg.Reminders, d)
	}
	if cfg.Reminders == nil {
		cfg.Reminders = []time.Duration{} // none
	}
	if *f.dkimKey != "" {
		if *f.dkimSelector == "" {
			return cfg, errors.New(p.T("notices.dkim_selector"))
		}
		k, err := notify.LoadDKIMKey(*f.dkimKey)
		if err != nil {
			return cfg, errors.New(p.T("notices.bad_dkim", err.Error()))
		}
		cfg.DKIM = &notify.DKIM{Domain: a.Address[strings.LastIndexByte(a.Address, '@')+1:], Selector: *f.dkimSelector, Signer: k}
	}
	return cfg, nil
}

// smtpConfig reads --smtp and --smtp-ca.
func (f *noticeFlags) smtpConfig(p *i18n.Printer) (notify.SMTP, error) {
	c, err := notify.ParseSMTPURL(*f.smtp)
	if err != nil {
		return c, errors.New(p.T("notices.bad_smtp", err.Error()))
	}
	if *f.smtpCA != "" {
		b, err := os.ReadFile(*f.smtpCA)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(b) {
			return c, errors.New(p.T("notices.bad_smtp_ca", *f.smtpCA))
		}
		c.TLS = &tls.Config{RootCAs: pool}
	}
	return c, nil
}

func setupNotices(fs *flag.FlagSet) func(context.Context, *serverContext) error {
	nf := addNoticeFlags(fs)
	nf.addWatchdogFlags(fs)
	return func(ctx context.Context, sc *serverContext) error {
		p := sc.env.p
		listen := ""
		if f := fs.Lookup("listen"); f != nil {
			listen = f.Value.String()
		}
		cfg, err := nf.config(p, listen)
		if err != nil {
			return err
		}
		// Alarms by e-mail (чл. 28): the console's people and the alarms' histories are the store's.
		cfg.Alarms = sc.store
		svc, err := notify.New(sc.store, cfg)
		if err != nil {
			return err
		}
		// The watch engine and the console tell every alarm change to the outbox (they start after this
		// part).
		sc.alarms = svc
		admins := map[string]bool{}
		for _, e := range strings.Split(*nf.admins, ",") {
			if e = strings.TrimSpace(e); e != "" {
				admins[e] = true
			}
		}
		svc.Routes(sc.api, func(r *http.Request) (notify.User, error) {
			eik, err := sc.ingest.Identify(r)
			if err != nil {
				return notify.User{}, err
			}
			u := certUser(r.TLS.PeerCertificates[0], eik)
			u.Admin = admins[eik]
			// A person of the console is the same user on the API and on the pages.
			if p, _, err := sc.store.PersonByCertificate(r.Context(), u.Certificate); err == nil && !p.Disabled {
				u.ID = fmt.Sprintf("person:%d", p.ID)
				u.Admin = u.Admin || p.Role == store.RoleAdmin
				if u.Email == "" {
					u.Email = p.Email
				}
			}
			u.Lang = i18n.Parse(r.Header.Get("Accept-Language"))
			return u, nil
		})
		noticesService = svc
		if *nf.bounceListen != "" {
			if err := listenBounces(sc, svc, p, *nf.bounce, *nf.bounceListen); err != nil {
				return err
			}
		}
		if *nf.ingestSystem != "" {
			if err := startWatchdog(ctx, sc, nf, svc); err != nil {
				return err
			}
		}
		if *nf.smtp == "" {
			sc.logger.Print(p.T("notices.no_smtp"))
			return nil
		}
		conn, err := nf.smtpConfig(p)
		if err != nil {
			return err
		}
		w := notify.NewSender(svc, conn)
		w.Log = sc.logger
		sc.logger.Print(p.T("notices.sending", conn.Redacted(), cfg.From.String(), cfg.DKIM != nil))
		sc.run(func(ctx context.Context) { w.Run(ctx, noticesPoll) })
		return nil
	}
}

// startWatchdog starts the intake's watchdog (--ingest-system): every --ingest-probe it reads the store
// and fetches the intake's checkpoint over the listener akciz server serves, and raises an unplanned
// unavailability of the system after --ingest-down-probes failures over --ingest-down-for, ended when the
// intake answers again (notify.Watchdog; docs/notices.md, "Raised by the server").
func startWatchdog(ctx context.Context, sc *serverContext, nf *noticeFlags, svc *notify.Service) error {
	p := sc.env.p
	code := *nf.ingestSystem
	if _, err := sc.store.System(ctx, code); err != nil {
		return errors.New(p.T("notices.ingest_system_unknown", code))
	}
	if *nf.ingestEvery < time.Second || *nf.ingestProbes < 1 || *nf.ingestDown < 0 {
		return errors.New(p.T("notices.ingest_bad_probe"))
	}
	addr, leaf, err := servedListener(sc)
	if err != nil {
		return errors.New(p.T("notices.ingest_no_probe", err.Error()))
	}
	span := *nf.ingestDown
	if span == 0 {
		span = -1 // the count alone (the Watchdog's zero is its default)
	}
	wd := &notify.Watchdog{Service: svc, System: code, Probe: ingestProbe(sc.store, addr, leaf),
		Probes: *nf.ingestProbes, For: span, Timeout: min(*nf.ingestEvery, notify.DefaultProbeTimeout),
		Logf: sc.logger.Printf}
	sc.logger.Print(p.T("notices.ingest_watching", code, addr, *nf.ingestProbes, nf.ingestDown.String()))
	sc.run(func(ctx context.Context) { wd.Run(ctx, *nf.ingestEvery) })
	return nil
}

// servedListener gives the address to reach the intake's listener at (as bound; an unspecified host is
// reached on loopback) and the certificate it serves.
func servedListener(sc *serverContext) (string, []byte, error) {
	host, port, err := net.SplitHostPort(sc.addr)
	if err != nil || len(sc.cert.Certificate) == 0 {
		return "", nil, fmt.Errorf("the listener %q: not bound", sc.addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), sc.cert.Certificate[0], nil
}

// ingestProbe is the watchdog's probe: a cheap read of the store (the tree's size) and an HTTPS GET of
// the intake's own checkpoint at addr, which must answer 200 with the certificate we serve (pinned: the
// listener's name need not be in it, and no other server may stand in for it).
func ingestProbe(st interface {
	TreeSize(context.Context) (int64, error)
}, addr string, leaf []byte) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // pinned below: the certificate must be the one we serve
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return errors.New("not the certificate this server serves")
			}
			return nil
		}}}}
	url := "https://" + addr + ingest.CheckpointPath
	return func(ctx context.Context) error {
		if _, err := st.TreeSize(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// listenBounces takes delivery reports (RFC 3464) for the --bounce addresses over SMTP on a loopback
// address, where the agency's MTA delivers them (a transport for the bounce domain). Loopback only: a
// report quarantines an address, so nobody else may send one.
func listenBounces(sc *serverContext, svc *notify.Service, p *i18n.Printer, bounce, addr string) error {
	if bounce == "" {
		return errors.New(p.T("notices.bounce_needs_bounce"))
	}
	if !loopbackAddr(addr) {
		return errors.New(p.T("notices.bounce_not_loopback", addr))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.New(p.T("server.listen_failed", addr, err.Error()))
	}
	srv := smtp.NewServer(svc.BounceBackend())
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 10 << 20
	sc.logger.Print(p.T("notices.bounce_listening", ln.Addr().String()))
	sc.run(func(ctx context.Context) {
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
		if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
			sc.logger.Printf("notices: bounces: %v", err)
		}
	})
	return nil
}

// certUser is the person a client certificate names (notify.CertificateUser: the e-mail, given name and
// surname the certificate carries). Unless the certificate is a console person's (then the id is
// "person:<id>", as on the console's pages), their id is the SHA-256 of the subject and the EIK, not of
// the certificate, so that a renewed certificate (same person, same operator) keeps the subscriptions.
func certUser(c *x509.Certificate, eik string) notify.User {
	id := sha256.Sum256([]byte(c.Subject.String() + "\x00" + eik))
	u := notify.CertificateUser(c)
	u.ID, u.EIK, u.Certificate = hex.EncodeToString(id[:16]), eik, store.Fingerprint(c.Raw)
	return u
}
