// Package watch turns stored records into customs control (чл. 28): the engine that watches every site's
// cadence and events and keeps alarms; the alarms' lifecycle (open, acknowledge, close); the site
// lifecycle of чл. 6, 17–21; configuration versions checked with the change rules of чл. 26; the
// commissioning protocol of чл. 21(3)–(6); the comparisons of чл. 20 and 27; and the queries and reports
// of readings, transactions, events, alarms and totals per product code.
//
// The rules are here; the facts are in store.Watch. Every function that a person triggers takes an Actor
// and checks what that person may see and do; a refusal is an *Error with a catalogue message
// (area "watch"). See docs/watching.md for every rule, its article and the assumptions made.
package watch

import (
	"context"
	"errors"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Clock gives the time. The engine never reads the wall clock itself, so that tests move time with a
// fake clock instead of sleeping.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed (as time.After).
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now gives the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Notifier is told of every change of an alarm, at once, so that the operator and the responsible
// customs office learn of it (чл. 28) on their pages and by e-mail. The notices' outbox implements it; an
// error is logged by the engine and does not undo the change (the alarm is stored, and on its page).
type Notifier interface {
	AlarmChanged(ctx context.Context, a store.Alarm, e store.AlarmEntry) error
}

// NopNotifier tells no one: for a server without an outbox yet, and for tests that do not look.
type NopNotifier struct{}

// AlarmChanged does nothing.
func (NopNotifier) AlarmChanged(context.Context, store.Alarm, store.AlarmEntry) error { return nil }

// Actor is the person who does something, as the console or the API identified them.
type Actor struct {
	Who      string     // the person: certificate subject or login
	Role     store.Role // operator, officer or admin
	Operator string     // the EIK whose sites an operator sees (RoleOperator)
	Office   string     // the customs office whose sites an officer sees (RoleOfficer)
}

// The engine's own identity in alarm histories.
const (
	engineWho  = "engine"
	engineRole = "engine"
)

// Sees reports whether a may see site s: an operator its own sites, an officer its office's, an admin all.
func (a Actor) Sees(s store.Site) bool {
	switch a.Role {
	case store.RoleOperator:
		return a.Operator != "" && s.Operator == a.Operator
	case store.RoleOfficer:
		return a.Office != "" && s.CustomsOffice == a.Office
	case store.RoleAdmin:
		return true
	}
	return false
}

// Errors of this package, for errors.Is; an *Error wraps one of them.
var (
	// ErrForbidden: the actor may not do this (or may not see the site).
	ErrForbidden = errors.New("forbidden")
	// ErrRefused: a rule of the ordinance refuses it (a lifecycle move, a configuration change).
	ErrRefused = errors.New("refused")
	// ErrInvalid: the input is malformed; the message names the field.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: there is no such thing (or the actor may not know that there is).
	ErrNotFound = errors.New("not found")
)

// Error is a refusal with the catalogue message that explains it to a person.
type Error struct {
	Err error        // ErrForbidden, ErrRefused, ErrInvalid or ErrNotFound
	Msg i18n.Message // key in area "watch"
}

// Error gives the message in English (the log's language); people get it through Msg in theirs.
func (e *Error) Error() string { return "watch: " + e.Msg.String() }

// Unwrap gives the kind of refusal.
func (e *Error) Unwrap() error { return e.Err }

func refuse(kind error, key string, args ...any) error {
	return &Error{Err: kind, Msg: i18n.M(key, args...)}
}

// Message gives the catalogue message of err when it is an *Error (wrapped or not), and false otherwise.
func Message(err error) (i18n.Message, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg, true
	}
	return i18n.Message{}, false
}

// site gives the site if a may see it; a site it may not see is reported as not found, so that an
// operator cannot learn which warehouse numbers exist.
func site(ctx context.Context, st store.Store, a Actor, warehouse string) (store.Site, error) {
	s, err := st.Site(ctx, warehouse)
	if errors.Is(err, store.ErrNotFound) || err == nil && !a.Sees(s) {
		return store.Site{}, refuse(ErrNotFound, "watch.site.not_found", warehouse)
	}
	if err != nil {
		return store.Site{}, err
	}
	return s, nil
}

// LogNotifier writes each alarm change to a log: the trace a server keeps until the outbox tells people.
type LogNotifier struct {
	Logf func(format string, args ...any)
}

// AlarmChanged logs the change.
func (n LogNotifier) AlarmChanged(_ context.Context, a store.Alarm, e store.AlarmEntry) error {
	n.Logf("alarm %d %s %s %s %s: %s by %s", a.ID, a.Kind, a.Site, a.Device, a.Point, e.Action, e.Who)
	return nil
}

// name gives the catalogue text of a key made of a prefix and a value (a kind, a state, a column).
func name(p *i18n.Printer, prefix, value string) string { return p.T(prefix + value) }
