package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/store"
)

// MaxDSN bounds a delivery report: the report and the returned headers, not whole messages (reporting
// MTAs may include the original, which is read no further than this).
const MaxDSN = 1 << 20

// DSN is a delivery status notification (RFC 3464): what a receiving system says of each recipient.
type DSN struct {
	Reporter   string // Reporting-MTA
	Recipients []DSNRecipient
}

// DSNRecipient is one recipient's block of a DSN.
type DSNRecipient struct {
	Final      string // Final-Recipient's address
	Action     string // failed, delayed, delivered, relayed, expanded
	Status     string // e.g. 5.1.1
	Diagnostic string
}

// Permanent reports whether the report says delivery failed for good (RFC 3463: class 5).
func (r DSNRecipient) Permanent() bool {
	return strings.EqualFold(r.Action, "failed") && strings.HasPrefix(r.Status, "5.")
}

// ParseDSN reads a delivery report: a multipart/report message (report-type=delivery-status) whose
// message/delivery-status part holds the per-message fields and one block per recipient. The error names
// the part or the block.
func ParseDSN(r io.Reader) (*DSN, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxDSN+1))
	if err != nil {
		return nil, fmt.Errorf("notify: dsn: %w", err)
	}
	if len(b) > MaxDSN {
		return nil, fmt.Errorf("notify: dsn: larger than %d bytes", MaxDSN)
	}
	m, err := message.Read(bytes.NewReader(b))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("notify: dsn: header: %w", err)
	}
	ct, params, _ := m.Header.ContentType()
	if ct != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") {
		return nil, fmt.Errorf("notify: dsn: content type %s (report-type %q), want multipart/report of delivery-status", ct, params["report-type"])
	}
	mr := m.MultipartReader()
	if mr == nil {
		return nil, errors.New("notify: dsn: not multipart")
	}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errors.New("notify: dsn: no message/delivery-status part")
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return nil, fmt.Errorf("notify: dsn: part %d: %w", i+1, err)
		}
		if pct, _, _ := p.Header.ContentType(); pct == "message/delivery-status" || pct == "message/global-delivery-status" {
			return parseStatus(p.Body)
		}
	}
}

// parseStatus reads the fields of a message/delivery-status body: blocks of header fields separated by
// blank lines, the first per message, the others per recipient.
func parseStatus(r io.Reader) (*DSN, error) {
	tp := textproto.NewReader(bufio.NewReader(r))
	d := &DSN{}
	for block := 0; block < 1000; block++ {
		h, err := tp.ReadMIMEHeader()
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("notify: dsn: delivery-status block %d: %w", block+1, err)
		}
		if len(h) > 0 {
			if block == 0 && h.Get("Final-Recipient") == "" {
				d.Reporter = value(h.Get("Reporting-MTA"))
			} else {
				d.Recipients = append(d.Recipients, DSNRecipient{Final: value(h.Get("Final-Recipient")),
					Action: strings.ToLower(strings.TrimSpace(h.Get("Action"))), Status: status(h.Get("Status")),
					Diagnostic: strings.TrimSpace(h.Get("Diagnostic-Code"))})
			}
		}
		if err == io.EOF {
			break
		}
	}
	if len(d.Recipients) == 0 {
		return nil, errors.New("notify: dsn: no recipient blocks")
	}
	return d, nil
}

// value gives a typed field's value: "rfc822; a@b" → "a@b".
func value(s string) string {
	if _, v, ok := strings.Cut(s, ";"); ok {
		s = v
	}
	return strings.Trim(strings.TrimSpace(s), "<>")
}

// status gives the status code of a Status field ("5.1.1 (no such user)" → "5.1.1"), or "" if it is
// not one.
func status(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	parts := strings.Split(f[0], ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return ""
	}
	for _, p := range parts[1:] {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 999 {
			return ""
		}
	}
	return f[0]
}

// bounceAddr is the envelope sender of the messages to sub: Config.Bounce with its %d replaced by the
// subscription's id and a tag only the server can make (from the subscription's secret unsubscribe
// token), "bounces+17.k3vq9x2m@customs.bg". The id alone would let anyone on the Internet send a forged
// report to bounces+17@… and stop another person's notices; the tag makes a report count only when it
// comes back to an address the server gave out.
func (s *Service) bounceAddr(sub store.Subscription) string {
	return strings.Replace(s.cfg.Bounce, "%d", strconv.FormatInt(sub.ID, 10)+"."+bounceTag(sub), 1)
}

// bounceTag is 8 lower-case base-32 characters of HMAC-SHA256(unsubscribe token, id): 40 bits, which
// nobody guesses by sending reports, and in lower case because MTAs may fold a local part's case.
func bounceTag(sub store.Subscription) string {
	m := hmac.New(sha256.New, []byte(sub.Unsubscribe))
	fmt.Fprintf(m, "bounce %d", sub.ID)
	return strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil))[:8])
}

// subscriptionOf reads a bounce address made by bounceAddr: the subscription's id and the tag (to be
// checked against the subscription).
func (s *Service) subscriptionOf(addr string) (id int64, tag string, ok bool) {
	if s.cfg.Bounce == "" {
		return 0, "", false
	}
	pre, post, _ := strings.Cut(s.cfg.Bounce, "%d")
	if len(addr) <= len(pre)+len(post) || !strings.EqualFold(addr[:len(pre)], pre) || !strings.EqualFold(addr[len(addr)-len(post):], post) {
		return 0, "", false
	}
	num, tag, found := strings.Cut(addr[len(pre):len(addr)-len(post)], ".")
	id, err := strconv.ParseInt(num, 10, 64)
	return id, tag, found && err == nil && id > 0 && len(tag) == 8
}

// HandleBounce takes a delivery report sent to the bounce address rcpt (Config.Bounce with a
// subscription's id): if it says delivery failed for good, the subscription's address is quarantined
// (its owner sees why on the next visit). It reports whether it quarantined.
func (s *Service) HandleBounce(ctx context.Context, rcpt string, r io.Reader) (bool, error) {
	id, tag, ok := s.subscriptionOf(rcpt)
	if !ok {
		return false, fmt.Errorf("notify: bounce to %s: %w", rcpt, ErrNotFound)
	}
	d, err := ParseDSN(r)
	if err != nil {
		return false, err
	}
	sub, err := s.s.Subscription(ctx, id)
	if err != nil {
		return false, fmt.Errorf("notify: bounce: %w", err)
	}
	if !hmac.Equal([]byte(strings.ToLower(tag)), []byte(bounceTag(sub))) {
		// Not an address the server gave out: a forged report, or one for a subscription since deleted.
		return false, fmt.Errorf("notify: bounce to %s: %w", rcpt, ErrNotFound)
	}
	for _, rc := range d.Recipients {
		if rc.Permanent() {
			reason := strings.TrimSpace(rc.Status + " " + rc.Diagnostic)
			if err := s.s.Quarantine(ctx, sub.Email, trim(reason), s.now()); err != nil {
				return false, fmt.Errorf("notify: bounce: %w", err)
			}
			return true, nil
		}
	}
	return false, nil
}

// BounceBackend is a go-smtp backend that takes delivery reports for the bounce addresses (the MTA
// delivers them to it, e.g. over LMTP on a local socket) and hands them to HandleBounce. A message to
// any other address is refused with 550, so nothing else is taken.
func (s *Service) BounceBackend() smtp.Backend {
	return smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &bounceSession{svc: s}, nil })
}

type bounceSession struct {
	svc *Service
	to  []string
}

func (b *bounceSession) Reset()                               { b.to = nil }
func (b *bounceSession) Logout() error                        { return nil }
func (b *bounceSession) Mail(string, *smtp.MailOptions) error { return nil }
func (b *bounceSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, _, ok := b.svc.subscriptionOf(to); !ok {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "not a bounce address"}
	}
	b.to = append(b.to, to)
	return nil
}

func (b *bounceSession) Data(r io.Reader) error {
	body, err := io.ReadAll(io.LimitReader(r, MaxDSN+1))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, r) // the rest of a report that returned a whole message
	for _, to := range b.to {
		// What is not a report we understand (an auto-reply, say) is taken and dropped, so that the MTA
		// does not bounce the bounce.
		b.svc.HandleBounce(context.Background(), to, bytes.NewReader(body))
	}
	return nil
}
