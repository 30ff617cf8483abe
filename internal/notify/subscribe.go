package notify

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Limits of a subscription form's fields.
const (
	maxName  = 100
	maxEmail = 254 // RFC 5321's path limit
)

// Form is the subscription form of the FAQ: „Име“, „Фамилия“, „e-mail“, the system, the events and the
// way of delivery.
type Form struct {
	FirstName string            `json:"first_name"`
	LastName  string            `json:"last_name"`
	Email     string            `json:"email"`
	System    string            `json:"system"`
	Events    []store.EventKind `json:"events"`
	Delivery  store.Delivery    `json:"delivery"`
	Lang      string            `json:"lang,omitempty"` // bg (default) or en: the messages' language
}

// The X.520 attributes of a person's name and the PKCS #9 e-mail address, which pkix.Name does not give
// by name.
var (
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidEmail     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// CertificateUser gives what a client certificate (the electronic signature) says of its holder, for
// the form the FAQ pre-fills: the e-mail address "записан в електронния подпис" (the first subject
// alternative name, else the subject's emailAddress) and the given name and surname (else the first and
// last words of the common name). The caller adds the id, the EIK and the fingerprint.
func CertificateUser(c *x509.Certificate) User {
	var u User
	if c == nil {
		return u
	}
	if len(c.EmailAddresses) > 0 {
		u.Email = c.EmailAddresses[0]
	}
	for _, n := range c.Subject.Names {
		v, _ := n.Value.(string)
		switch {
		case n.Type.Equal(oidGivenName):
			u.FirstName = v
		case n.Type.Equal(oidSurname):
			u.LastName = v
		case n.Type.Equal(oidEmail) && u.Email == "":
			u.Email = v
		}
	}
	if u.FirstName == "" && u.LastName == "" {
		if f := strings.Fields(c.Subject.CommonName); len(f) >= 2 {
			u.FirstName, u.LastName = f[0], f[len(f)-1]
		}
	}
	return u
}

// Prefill gives the form as the FAQ opens it: the e-mail from the certificate, editable.
func Prefill(u User) Form {
	return Form{FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, Lang: string(u.Lang),
		Delivery: store.DeliveryEmail}
}

// Check validates f against the FAQ's rules, field by field, in the form's order: names and address
// filled in, a system the user may follow, at least one known event, a known delivery, and no
// attachment with operability (the FAQ: operability notices cannot be delivered with an attached file).
func Check(f *Form, allowed []store.InfoSystem) Errors {
	var errs Errors
	add := func(field, key string, args ...any) { errs = append(errs, FieldError{field, i18n.M(key, args...)}) }
	name := func(field, v string) {
		switch {
		case strings.TrimSpace(v) == "":
			add(field, "notify.field.required")
		case utf8.RuneCountInString(v) > maxName:
			add(field, "notify.field.too_long", maxName)
		case !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n<>\"\x00"):
			add(field, "notify.field.bad_chars")
		}
	}
	name("first_name", f.FirstName)
	name("last_name", f.LastName)
	switch a, err := mail.ParseAddress(f.Email); {
	case strings.TrimSpace(f.Email) == "":
		add("email", "notify.field.required")
	case len(f.Email) > maxEmail:
		add("email", "notify.field.too_long", maxEmail)
	case err != nil || a.Address != strings.TrimSpace(f.Email) || a.Name != "":
		add("email", "notify.field.email")
	}
	switch {
	case f.System == "":
		add("system", "notify.field.system_required")
	case !has(allowed, f.System):
		add("system", "notify.field.system_denied", f.System)
	}
	seen := map[store.EventKind]bool{}
	for _, e := range f.Events {
		if !e.Valid() {
			add("events", "notify.field.event_unknown", string(e))
		} else if seen[e] {
			add("events", "notify.field.event_twice", string(e))
		}
		seen[e] = true
	}
	if len(f.Events) == 0 {
		add("events", "notify.field.events_required")
	}
	switch {
	case !f.Delivery.Valid():
		add("delivery", "notify.field.delivery_unknown", string(f.Delivery))
	case f.Delivery == store.DeliveryAttachment && seen[store.EventOperability]:
		add("delivery", "notify.field.delivery_operability")
	}
	if f.Lang != "" && f.Lang != "bg" && f.Lang != "en" {
		add("lang", "notify.field.lang")
	}
	return errs
}

func has(l []store.InfoSystem, code string) bool {
	for _, s := range l {
		if s.Code == code {
			return true
		}
	}
	return false
}

// Systems gives the systems u may follow (the FAQ: the portal recognises the systems the certificate
// has access to).
func (s *Service) Systems(ctx context.Context, u User) ([]store.InfoSystem, error) {
	return s.s.SystemsFor(ctx, u.EIK, u.Certificate)
}

// Subscriptions gives u's subscriptions.
func (s *Service) Subscriptions(ctx context.Context, u User) ([]store.Subscription, error) {
	return s.s.Subscriptions(ctx, store.SubscriptionFilter{User: u.ID})
}

// Subscribe saves a new subscription of u („Заяви“). An address other than the certificate's is
// confirmed by a link before anything else is sent to it: the subscription is saved unconfirmed and a
// confirmation message is queued in the same transaction. A refusal is Errors (per field), or
// store.ErrDuplicate when u already follows the system (edit that subscription instead).
func (s *Service) Subscribe(ctx context.Context, u User, f Form) (store.Subscription, error) {
	return s.save(ctx, u, 0, f)
}

// Edit replaces the fields of u's subscription id with f; a new address is confirmed again.
func (s *Service) Edit(ctx context.Context, u User, id int64, f Form) (store.Subscription, error) {
	return s.save(ctx, u, id, f)
}

func (s *Service) save(ctx context.Context, u User, id int64, f Form) (store.Subscription, error) {
	if u.ID == "" {
		return store.Subscription{}, fmt.Errorf("notify: subscribe: %w: no user", ErrForbidden)
	}
	f.FirstName, f.LastName, f.Email = strings.TrimSpace(f.FirstName), strings.TrimSpace(f.LastName), strings.TrimSpace(f.Email)
	allowed, err := s.Systems(ctx, u)
	if err != nil {
		return store.Subscription{}, fmt.Errorf("notify: subscribe: %w", err)
	}
	if errs := Check(&f, allowed); len(errs) > 0 {
		return store.Subscription{}, errs
	}
	now := s.now()
	sub := store.Subscription{User: u.ID, Active: true, Unsubscribe: token(), Created: now}
	if id != 0 {
		old, err := s.own(ctx, u, id)
		if err != nil {
			return store.Subscription{}, err
		}
		sub = old
	}
	sameAddress := strings.EqualFold(sub.Email, f.Email)
	sub.EIK, sub.System, sub.FirstName, sub.LastName = u.EIK, f.System, f.FirstName, f.LastName
	sub.Email, sub.Events, sub.Delivery, sub.Lang, sub.Updated = f.Email, f.Events, f.Delivery, f.Lang, now
	if sub.Lang == "" {
		sub.Lang = string(i18n.BG)
	}
	var confirm *store.OutboxItem
	switch {
	case u.Email != "" && strings.EqualFold(f.Email, u.Email):
		// The certificate's own address needs no confirmation.
		sub.Confirmed, sub.Token = true, ""
	case id == 0 || !sameAddress:
		sub.Confirmed, sub.Token = false, token()
		confirm = &store.OutboxItem{Key: "c" + sub.Token[:16], Kind: store.OutboxConfirm, NextAttempt: now, Created: now}
	}
	if confirm != nil && id != 0 {
		// Every new address gets a confirmation message: without a limit, editing one subscription over
		// and over would make the agency's server mail anyone, as often as one likes.
		if err := s.confirmLimit(ctx, id, now); err != nil {
			return store.Subscription{}, err
		}
	}
	if !sameAddress {
		// A new address starts afresh: a bounce of the old one says nothing of it.
		sub.Quarantined, sub.Bounce = time.Time{}, ""
	}
	if err := s.s.PutSubscription(ctx, &sub, confirm); err != nil {
		return store.Subscription{}, fmt.Errorf("notify: subscribe: %w", err)
	}
	if confirm != nil {
		s.queued()
	}
	return sub, nil
}

// MaxConfirmations is how many confirmation messages one subscription may cause in an hour (its owner
// changing the address); more are refused at the e-mail field.
const MaxConfirmations = 3

func (s *Service) confirmLimit(ctx context.Context, id int64, now time.Time) error {
	rows, err := s.s.Outbox(ctx, store.OutboxFilter{Subscription: id})
	if err != nil {
		return fmt.Errorf("notify: subscribe: %w", err)
	}
	n := 0
	for _, o := range rows {
		if o.Kind == store.OutboxConfirm && now.Sub(o.Created) < time.Hour {
			n++
		}
	}
	if n >= MaxConfirmations {
		return Errors{{Field: "email", Msg: i18n.M("notify.field.confirm_limit", MaxConfirmations)}}
	}
	return nil
}

// own gives u's subscription id, or ErrNotFound (also when it is another user's: no hint that it exists).
func (s *Service) own(ctx context.Context, u User, id int64) (store.Subscription, error) {
	sub, err := s.s.Subscription(ctx, id)
	if err == nil && sub.User != u.ID {
		err = fmt.Errorf("subscription %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return sub, fmt.Errorf("notify: %w", err)
	}
	return sub, nil
}

// SetActive activates or deactivates u's subscription id (the FAQ: at any time).
func (s *Service) SetActive(ctx context.Context, u User, id int64, active bool) (store.Subscription, error) {
	sub, err := s.own(ctx, u, id)
	if err != nil {
		return sub, err
	}
	sub.Active, sub.Updated = active, s.now()
	if active {
		// Activating again is the owner's word that the address works again after a bounce.
		sub.Quarantined, sub.Bounce = time.Time{}, ""
	}
	if err := s.s.PutSubscription(ctx, &sub, nil); err != nil {
		return sub, fmt.Errorf("notify: set active: %w", err)
	}
	return sub, nil
}

// Confirm confirms the address of the subscription whose confirmation token is tok (the link's).
func (s *Service) Confirm(ctx context.Context, tok string) (store.Subscription, error) {
	sub, err := s.s.SubscriptionByToken(ctx, tok)
	if err == nil && sub.Token != tok {
		err = ErrNotFound // an unsubscribe token does not confirm
	}
	if err != nil {
		return sub, fmt.Errorf("notify: confirm: %w", err)
	}
	sub.Confirmed, sub.Token, sub.Updated = true, "", s.now()
	if err := s.s.PutSubscription(ctx, &sub, nil); err != nil {
		return sub, fmt.Errorf("notify: confirm: %w", err)
	}
	return sub, nil
}

// Unsubscribe ends the one subscription whose List-Unsubscribe token is tok (RFC 8058 one-click): it is
// deactivated, not deleted, so that its owner can activate it again.
func (s *Service) Unsubscribe(ctx context.Context, tok string) (store.Subscription, error) {
	sub, err := s.s.SubscriptionByToken(ctx, tok)
	if err == nil && sub.Unsubscribe != tok {
		err = ErrNotFound
	}
	if err != nil {
		return sub, fmt.Errorf("notify: unsubscribe: %w", err)
	}
	if !sub.Active {
		return sub, nil
	}
	sub.Active, sub.Updated = false, s.now()
	if err := s.s.PutSubscription(ctx, &sub, nil); err != nil {
		return sub, fmt.Errorf("notify: unsubscribe: %w", err)
	}
	return sub, nil
}

// IsRefusal reports whether err is the user's to fix (a form error, a duplicate, a missing or foreign
// subscription) rather than the server's.
func IsRefusal(err error) bool {
	var fe Errors
	return errors.As(err, &fe) || errors.Is(err, store.ErrDuplicate) || errors.Is(err, ErrNotFound) ||
		errors.Is(err, ErrForbidden) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrStale)
}
