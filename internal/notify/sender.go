package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/store"
)

// SMTP is where the worker hands messages over: a submission server with STARTTLS (or implicit TLS)
// and authentication.
type SMTP struct {
	Addr     string // host:port
	Implicit bool   // TLS from the first byte (smtps, port 465) instead of STARTTLS
	Username string // AUTH PLAIN when not empty
	Password string
	// TLS configures the TLS handshake (nil: the system's roots and Addr's host name). TLS is never
	// optional: credentials and subscribers' addresses do not cross a network in clear.
	TLS *tls.Config
	// Hello is the name the worker gives in EHLO (default "localhost").
	Hello string
}

// maxSMTPURL bounds --smtp.
const maxSMTPURL = 2048

// ParseSMTPURL reads the --smtp flag: smtp://user:password@host:587 (STARTTLS) or
// smtps://user:password@host:465 (implicit TLS); user and password are percent-encoded, the port
// defaults to 587 and 465.
func ParseSMTPURL(s string) (SMTP, error) {
	if len(s) > maxSMTPURL {
		return SMTP{}, fmt.Errorf("notify: smtp url: longer than %d bytes", maxSMTPURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return SMTP{}, fmt.Errorf("notify: smtp url: %w", err)
	}
	var c SMTP
	port := "587"
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.Implicit, port = true, "465"
	default:
		return SMTP{}, fmt.Errorf("notify: smtp url: scheme %q, want smtp (STARTTLS) or smtps", u.Scheme)
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return SMTP{}, fmt.Errorf("notify: smtp url: no host")
	}
	// An IPv6 address must be a bracketed literal: url.Parse takes "smtp://::" as host ":" with an empty
	// port, an address no dialer can reach (found by FuzzParseSMTPURL).
	if h := u.Hostname(); strings.Contains(h, ":") {
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() || !strings.HasPrefix(u.Host, "[") {
			return SMTP{}, fmt.Errorf("notify: smtp url: host %q: an IPv6 address goes in brackets, e.g. smtp://[2001:db8::1]:587", h)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return SMTP{}, fmt.Errorf("notify: smtp url: unexpected path, query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return SMTP{}, fmt.Errorf("notify: smtp url: port %q", p)
		}
		port = p
	}
	c.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" {
			return SMTP{}, fmt.Errorf("notify: smtp url: empty user name")
		}
	}
	return c, nil
}

// Redacted gives the server's address and user for logs, never the password.
func (c SMTP) Redacted() string {
	scheme := "smtp"
	if c.Implicit {
		scheme = "smtps"
	}
	if c.Username != "" {
		return scheme + "://" + url.User(c.Username).String() + "@" + c.Addr
	}
	return scheme + "://" + c.Addr
}

// Sender is the outbox worker: it claims due rows, composes their messages and hands them to SMTP.
//
// A message is never sent twice: its Message-ID is fixed by its row, and the row moves pending →
// sending (claimed, in one transaction) → unsure (committed after the whole message is written but
// before the final dot that makes the server take it) → sent. A crash before unsure leaves the row
// sending, and after its lease another worker sends it again: the server cannot have taken the
// incomplete message. A crash between the dot and sent leaves it unsure: it is shown as such and not sent
// again unless an administrator asks (Service.Resend).
type Sender struct {
	svc  *Service
	smtp SMTP
	// Lease is how long a claimed row is another worker's (default 5 minutes).
	Lease time.Duration
	// Batch is the most rows one pass claims (default 50).
	Batch int
	// Backoff gives the waits before each retry (default 1 min, 5 min, 15 min, 1 h, 3 h, 6 h); after the
	// last, the row fails.
	Backoff []time.Duration
	// Log reports failures (nil: silent).
	Log *log.Logger
	// HTTP posts webhooks (default: a 15-second timeout, no redirects).
	HTTP *http.Client

	// crash, in tests, is called at each step of a send; true stops the send there as a crash would.
	crash func(step string) bool
}

// NewSender gives a Sender of svc's outbox over c.
func NewSender(svc *Service, c SMTP) *Sender {
	return &Sender{svc: svc, smtp: c, Lease: 5 * time.Minute, Batch: 50, HTTP: webhookClient(),
		Backoff: []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour}}
}

// errCrash stops a pass as a crash would, leaving the rows where they are (tests only).
var errCrash = errors.New("notify: simulated crash")

// Run sends due messages every interval, and at once when the service queues some (in this process),
// until ctx ends.
func (w *Sender) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, claimed, err := w.sendDue(ctx)
		if err != nil && ctx.Err() == nil {
			w.logf("notices: outbox: %v", err)
		}
		if err == nil && claimed == w.Batch {
			continue // more are due: no wait
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.svc.kick:
		}
	}
}

func (w *Sender) logf(format string, args ...any) {
	if w.Log != nil {
		w.Log.Printf(format, args...)
	}
}

// SendDue makes one pass: it claims the rows due now and sends them over one SMTP connection, and gives
// how many were sent. A connection failure puts the claimed rows back for a retry.
func (w *Sender) SendDue(ctx context.Context) (int, error) {
	sent, _, err := w.sendDue(ctx)
	return sent, err
}

func (w *Sender) sendDue(ctx context.Context) (sent, claimed int, err error) {
	svc := w.svc
	now := svc.now()
	items, err := svc.s.ClaimOutbox(ctx, now, w.Lease, w.Batch)
	if err != nil || len(items) == 0 {
		return 0, 0, err
	}
	claimed = len(items)
	read := newCache(svc.s)
	var c *smtp.Client
	defer func() {
		if c != nil {
			c.Quit()
			c.Close()
		}
	}()
	for i, item := range items {
		if item.Kind == store.OutboxWebhook {
			ok, err := w.hook(ctx, item, read)
			if err != nil {
				return sent, claimed, err
			}
			if ok {
				sent++
			}
			continue
		}
		msg, skip, err := w.prepare(ctx, item, read)
		if err != nil {
			if err := w.fail(ctx, item, store.OutboxSending, err.Error(), false); err != nil {
				return sent, claimed, err
			}
			continue
		}
		if skip != "" {
			if err := svc.s.MoveOutbox(ctx, item.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxCancelled,
				Attempts: item.Attempts, Error: skip}); err != nil {
				return sent, claimed, err
			}
			continue
		}
		if c == nil {
			var derr error
			if c, derr = w.dial(); derr != nil {
				// Nothing was sent: every e-mail of this pass waits for a retry; webhooks go on.
				for _, it := range items[i:] {
					if it.Kind == store.OutboxWebhook {
						if ok, err := w.hook(ctx, it, read); err != nil {
							return sent, claimed, err
						} else if ok {
							sent++
						}
						continue
					}
					it.Attempts++
					if err := w.retry(ctx, it, store.OutboxSending, derr.Error()); err != nil {
						return sent, claimed, err
					}
				}
				return sent, claimed, fmt.Errorf("notify: smtp %s: %w", w.smtp.Redacted(), derr)
			}
		}
		ok, err := w.send(ctx, c, item, msg)
		if errors.Is(err, errCrash) {
			c.Close()
			c = nil
			return sent, claimed, err
		}
		if ok {
			sent++
		}
		if err != nil || !ok {
			// A refusal leaves the transaction open, a failure the connection in an unknown state: the
			// next message starts on a new connection.
			c.Close()
			c = nil
		}
		if err != nil {
			w.logf("notices: %s: %v", item.Key, err)
		}
	}
	return sent, claimed, nil
}

// prepare composes a row's message, or says why it is no longer to be sent.
func (w *Sender) prepare(ctx context.Context, item store.OutboxItem, c *cache) (*Message, string, error) {
	svc := w.svc
	if item.Kind == store.OutboxAlarm {
		return svc.composeAlarm(ctx, item)
	}
	sub, err := svc.s.Subscription(ctx, item.Subscription)
	if err != nil {
		return nil, "", err
	}
	switch {
	case !sub.Quarantined.IsZero():
		return nil, "quarantined: " + sub.Bounce, nil
	case item.Kind == store.OutboxConfirm && sub.Confirmed:
		return nil, "confirmed already", nil
	case item.Kind != store.OutboxConfirm && (!sub.Active || !sub.Confirmed):
		return nil, "subscription inactive or unconfirmed", nil
	}
	if item.Kind == store.OutboxReminder {
		n, err := c.notice(ctx, item.Notice)
		if err != nil {
			return nil, "", err
		}
		if l := n.Latest(); l.Rev != item.Rev || l.Action == store.ActionCancel || l.Action == store.ActionEnd {
			return nil, "superseded by revision " + strconv.Itoa(l.Rev), nil
		}
	}
	msg, err := svc.compose(ctx, item, c)
	return msg, "", err
}

func (w *Sender) dial() (*smtp.Client, error) {
	host, _, err := net.SplitHostPort(w.smtp.Addr)
	if err != nil {
		return nil, err
	}
	cfg := w.smtp.TLS
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	var c *smtp.Client
	if w.smtp.Implicit {
		c, err = smtp.DialTLS(w.smtp.Addr, cfg)
	} else {
		c, err = smtp.DialStartTLS(w.smtp.Addr, cfg) // refuses a server that offers no STARTTLS
	}
	if err != nil {
		return nil, err
	}
	if w.smtp.Hello != "" {
		if err := c.Hello(w.smtp.Hello); err != nil {
			c.Close()
			return nil, err
		}
	}
	if w.smtp.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", w.smtp.Username, w.smtp.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("auth as %s: %w", w.smtp.Username, err)
		}
	}
	return c, nil
}

// send hands one message over; ok is true when the server took it. An error means the connection
// should not be used again.
func (w *Sender) send(ctx context.Context, c *smtp.Client, item store.OutboxItem, msg *Message) (bool, error) {
	svc := w.svc
	attempts := item.Attempts + 1
	// A shutdown must not cut the bookkeeping of a message in flight: what the server took is recorded.
	ctx = context.WithoutCancel(ctx)
	if w.crashAt("mail") {
		return false, errCrash
	}
	if err := c.Mail(msg.From, nil); err != nil {
		return false, w.refused(ctx, item, store.OutboxSending, attempts, err, false)
	}
	if err := c.Rcpt(msg.To, nil); err != nil {
		return false, w.refused(ctx, item, store.OutboxSending, attempts, err, true)
	}
	d, err := c.Data()
	if err != nil {
		return false, w.refused(ctx, item, store.OutboxSending, attempts, err, true)
	}
	if _, err := d.Write(msg.Bytes); err != nil {
		return false, w.refused(ctx, item, store.OutboxSending, attempts, err, true)
	}
	if w.crashAt("data") {
		return false, errCrash // the final dot never went: the server drops the message
	}
	// From here the server may take the message at any moment: say so durably first.
	if err := svc.s.MoveOutbox(ctx, item.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxUnsure,
		Attempts: attempts, Error: item.Error}); err != nil {
		return false, err
	}
	if w.crashAt("unsure") {
		return false, errCrash
	}
	resp, err := d.CloseWithResponse()
	if w.crashAt("dot") {
		return false, errCrash // taken, but not yet marked sent
	}
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			// The server answered: it did not take the message.
			return false, w.refused(ctx, item, store.OutboxUnsure, attempts, err, true)
		}
		// No answer: it may have taken it. The row stays unsure.
		return false, fmt.Errorf("no answer after the message (left unsure): %w", err)
	}
	if resp != nil {
		w.logf("notices: %s sent: %s", item.Key, trim(resp.StatusText))
	}
	if err := svc.s.MoveOutbox(ctx, item.ID, store.OutboxUnsure, store.OutboxUpdate{State: store.OutboxSent,
		Attempts: attempts, SentAt: svc.now()}); err != nil {
		return true, err
	}
	return true, nil
}

func (w *Sender) crashAt(step string) bool { return w.crash != nil && w.crash(step) }

// refused handles a refusal or a broken connection: 5xx fails the row (and, from RCPT on, quarantines
// the address: the FAQ's subscriber is shown why on the next login); anything else retries it later.
func (w *Sender) refused(ctx context.Context, item store.OutboxItem, from store.OutboxState, attempts int, err error, byRecipient bool) error {
	item.Attempts = attempts
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		if ferr := w.fail(ctx, item, from, reason(err), byRecipient); ferr != nil {
			return ferr
		}
		// The server answered; the connection is fine after RSET.
		return nil
	}
	if rerr := w.retry(ctx, item, from, reason(err)); rerr != nil {
		return rerr
	}
	if errors.As(err, &se) {
		return nil
	}
	return err
}

func (w *Sender) fail(ctx context.Context, item store.OutboxItem, from store.OutboxState, reason string, quarantine bool) error {
	svc := w.svc
	reason = trim(reason)
	if err := svc.s.MoveOutbox(ctx, item.ID, from, store.OutboxUpdate{State: store.OutboxFailed, Attempts: item.Attempts,
		Error: reason}); err != nil {
		return err
	}
	w.logf("notices: %s failed: %s", item.Key, reason)
	if !quarantine || item.Subscription == 0 {
		// An alarm's recipient is a person of the console, not a subscription: the failure is the row's.
		return nil
	}
	sub, err := svc.s.Subscription(ctx, item.Subscription)
	if err != nil {
		return err
	}
	return svc.s.Quarantine(ctx, sub.Email, reason, svc.now())
}

func (w *Sender) retry(ctx context.Context, item store.OutboxItem, from store.OutboxState, reason string) error {
	attempts := item.Attempts
	if attempts > len(w.Backoff) {
		item.Attempts = attempts
		return w.fail(ctx, item, from, "gave up after "+strconv.Itoa(attempts)+" attempts: "+reason, false)
	}
	wait := w.Backoff[max(attempts-1, 0)]
	return w.svc.s.MoveOutbox(ctx, item.ID, from, store.OutboxUpdate{State: store.OutboxPending, Attempts: attempts,
		NextAttempt: w.svc.now().Add(wait), Error: trim(reason)})
}

// reason gives an error for the delivery status: an SMTP reply as the server wrote it (code, enhanced
// code, text), anything else as it says.
func reason(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
		}
		return fmt.Sprintf("%d %s", se.Code, se.Message)
	}
	return err.Error()
}

func trim(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "?")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// Resend puts an outbox row left unsure or failed back in the queue (an administrator's decision, after
// checking that the recipient did not get it).
func (s *Service) Resend(ctx context.Context, id int64) error {
	rows, err := s.s.Outbox(ctx, store.OutboxFilter{ID: id})
	if err != nil {
		return fmt.Errorf("notify: resend: %w", err)
	}
	for _, o := range rows {
		if o.ID == id && (o.State == store.OutboxUnsure || o.State == store.OutboxFailed) {
			if err := s.s.MoveOutbox(ctx, id, o.State, store.OutboxUpdate{State: store.OutboxPending, Attempts: o.Attempts,
				NextAttempt: s.now(), Error: o.Error}); err != nil {
				return fmt.Errorf("notify: resend: %w", err)
			}
			s.queued()
			return nil
		}
	}
	return fmt.Errorf("notify: resend %d: %w", id, ErrNotFound)
}
