// Package notify is the e-Portal's service „Обратна връзка с ИО“ (the Customs Agency's FAQ, summarised
// in DESIGN.md §4): registered users subscribe to notices about the agency's information systems
// (document updates, operability, nomenclature updates), administrators publish those notices, and a
// worker delivers them by e-mail from an outbox in the database, with a deterministic Message-ID per
// message so that a message is never sent twice. It also serves an Atom feed of notices and an
// iCalendar feed of planned windows per system.
//
// The rules of the FAQ, each mapped to the code and the test that holds it, are in docs/notices.md.
package notify

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/workday"
)

// Clock gives the current time; tests give a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Sofia is the zone every time a person reads is shown in (the agency's): workday's, with its embedded
// time zone database.
var Sofia = workday.Sofia

// Config is what the service needs to know of its installation.
type Config struct {
	// Portal is the public base URL of akciz server's API as people reach it (https://portal.example),
	// for links in messages: confirmations, unsubscribing, documents.
	Portal string
	// From is the author of every message (e.g. "Агенция „Митници“ <notices@customs.bg>").
	From mail.Address
	// Bounce, if not empty, is the envelope sender, with %d for the subscription's id and a tag only
	// the server can make (bounces+%d@customs.bg gives bounces+17.k3vq9x2m@customs.bg), so that a
	// delivery report (RFC 3464) names the subscription and a forged one does not count; otherwise
	// From's address.
	Bounce string
	// Reminders are how long before a planned window reminders go out (default 24 h and 1 h).
	Reminders []time.Duration
	// DKIM signs every message when not nil.
	DKIM *DKIM
	// Clock is the time (default the system's).
	Clock Clock
	// Alarms, when not nil, lets the service tell the people of the console about alarms by e-mail
	// (AlarmChanged): it gives the people and the alarms with their histories (store.Store does).
	Alarms AlarmSource
	// Console is the web console's base URL as people reach it, for the link to an alarm's page
	// (default Portal).
	Console string
}

// Service is the notices service over a store.
type Service struct {
	s   store.Notices
	cfg Config
	// kick wakes the worker when something was queued, so that a notice goes out at once rather than
	// at the next poll.
	kick chan struct{}
}

// queued tells the worker that rows are due.
func (s *Service) queued() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// New gives a Service; cfg.From must have an address.
func New(s store.Notices, cfg Config) (*Service, error) {
	if cfg.From.Address == "" || !strings.Contains(cfg.From.Address, "@") {
		return nil, fmt.Errorf("notify: from address %q has no domain", cfg.From.Address)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Reminders == nil {
		cfg.Reminders = []time.Duration{24 * time.Hour, time.Hour}
	}
	for _, r := range cfg.Reminders {
		if r <= 0 {
			return nil, fmt.Errorf("notify: reminder %v is not before the window", r)
		}
	}
	if cfg.Bounce != "" && strings.Count(cfg.Bounce, "%d") != 1 {
		return nil, fmt.Errorf("notify: bounce address %q must hold one %%d", cfg.Bounce)
	}
	cfg.Portal = strings.TrimRight(cfg.Portal, "/")
	if cfg.Console = strings.TrimRight(cfg.Console, "/"); cfg.Console == "" {
		cfg.Console = cfg.Portal
	}
	return &Service{s: s, cfg: cfg, kick: make(chan struct{}, 1)}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC().Truncate(time.Millisecond) }

// domain is the right-hand side of Message-IDs and UIDs: the From address's domain.
func (s *Service) domain() string {
	return s.cfg.From.Address[strings.LastIndexByte(s.cfg.From.Address, '@')+1:]
}

// User is the person behind a request: who logged in with which certificate.
type User struct {
	// ID is the person's stable id: the subscriptions are theirs (akciz server uses the SHA-256 of the
	// certificate's subject and EIK, so that a renewed certificate keeps the subscriptions).
	ID          string
	EIK         string     // the operator the certificate names
	Certificate store.Hash // the certificate's fingerprint (grants may name it)
	Email       string     // the e-mail address in the certificate ("" if none)
	FirstName   string
	LastName    string
	Lang        i18n.Lang
	Admin       bool // an administrator of the catalogue and the notices
}

// FieldError is a refusal of one field, in words for the person who filled it in.
type FieldError struct {
	Field string // the JSON and form name of the field (first_name, email, delivery, …)
	Msg   i18n.Message
}

// Errors is a refused form: every field that is wrong, in the form's order.
type Errors []FieldError

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Msg.String()
	}
	return "notify: " + strings.Join(parts, "; ")
}

// Field gives the message for a field, if refused.
func (e Errors) Field(name string) (i18n.Message, bool) {
	for _, f := range e {
		if f.Field == name {
			return f.Msg, true
		}
	}
	return i18n.Message{}, false
}

// Errors of the service; test with errors.Is.
var (
	// ErrForbidden: the user may not do this (not theirs, not granted, not an administrator).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such subscription, notice or token.
	ErrNotFound = store.ErrNotFound
)

// token gives a random URL-safe token of 160 bits.
func token() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("notify: " + err.Error()) // crypto/rand does not fail on Linux
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// printer gives the catalogue in a subscriber's language.
func printer(lang string) *i18n.Printer { return i18n.For(i18n.Parse(lang)) }

// tk gives the message of a key made of a prefix and a name (an event, a kind, an action); the test
// TestDynamicKeys checks that every such key exists.
func tk(p *i18n.Printer, prefix, name string, args ...any) string { return p.T(prefix+name, args...) }
