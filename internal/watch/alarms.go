package watch

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/akciz/akciz/internal/store"
)

// MaxComment bounds a person's comment on an alarm or a move, in bytes.
const MaxComment = 4000

// Alarms is what a person does with alarms: every action is checked against what the actor may see and
// do, written to the alarm's history and told to the Notifier.
type Alarms struct {
	st       store.Store
	clock    Clock
	notifier Notifier
	logf     func(format string, args ...any)
}

// NewAlarms gives the alarm actions over st (clock and notifier may be nil: the wall clock, no one). A
// notifier's failure is logged to the standard logger unless WithLogf names another log.
func NewAlarms(st store.Store, clock Clock, n Notifier) *Alarms {
	if clock == nil {
		clock = SystemClock{}
	}
	if n == nil {
		n = NopNotifier{}
	}
	return &Alarms{st: st, clock: clock, notifier: n, logf: log.Printf}
}

// WithLogf sets the log that a failing notifier is reported to (nil: the standard logger) and gives x.
// The person's action stands whatever the notifier says, so the log is where such a failure is seen.
// Call it before x is used.
func (x *Alarms) WithLogf(logf func(format string, args ...any)) *Alarms {
	if logf == nil {
		logf = log.Printf
	}
	x.logf = logf
	return x
}

// List gives the alarms f selects among those the actor may see, newest first: an operator's own sites,
// an officer's office's, everything for an admin.
func (x *Alarms) List(ctx context.Context, a Actor, f store.AlarmFilter) ([]store.Alarm, error) {
	switch a.Role {
	case store.RoleOperator:
		if a.Operator == "" {
			return nil, refuse(ErrForbidden, "watch.actor.no_scope")
		}
		f.Operator = a.Operator
	case store.RoleOfficer:
		if a.Office == "" {
			return nil, refuse(ErrForbidden, "watch.actor.no_scope")
		}
		f.CustomsOffice = a.Office
	case store.RoleAdmin:
	default:
		return nil, refuse(ErrForbidden, "watch.actor.no_scope")
	}
	as, err := x.st.Alarms(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return as, nil
}

// Get gives one alarm and its history, if the actor may see its site.
func (x *Alarms) Get(ctx context.Context, a Actor, id int64) (store.Alarm, []store.AlarmEntry, error) {
	al, err := x.visible(ctx, a, id)
	if err != nil {
		return al, nil, err
	}
	h, err := x.st.AlarmHistory(ctx, id)
	if err != nil {
		return al, nil, fmt.Errorf("watch: %w", err)
	}
	return al, h, nil
}

func (x *Alarms) visible(ctx context.Context, a Actor, id int64) (store.Alarm, error) {
	al, err := x.st.Alarm(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return al, refuse(ErrNotFound, "watch.alarm.not_found", id)
	}
	if err != nil {
		return al, fmt.Errorf("watch: %w", err)
	}
	if !a.Sees(store.Site{Warehouse: al.Site, Operator: al.Operator, CustomsOffice: al.CustomsOffice}) {
		return al, refuse(ErrNotFound, "watch.alarm.not_found", id)
	}
	return al, nil
}

// Acknowledge records that the actor took note of the alarm, with a comment (required: what is being
// done about it). Anyone who sees the alarm may acknowledge it.
func (x *Alarms) Acknowledge(ctx context.Context, a Actor, id int64, comment string) (store.Alarm, error) {
	return x.act(ctx, a, id, store.AlarmAcknowledged, comment)
}

// Close closes the alarm with a comment. An incident alarm only an officer closes; an officer or an admin
// closes any other; an operator closes one of its own only when its condition has ended (docs/watching.md).
func (x *Alarms) Close(ctx context.Context, a Actor, id int64, comment string) (store.Alarm, error) {
	return x.act(ctx, a, id, store.AlarmClosed, comment)
}

// Note adds a comment to the alarm's history without changing its state.
func (x *Alarms) Note(ctx context.Context, a Actor, id int64, comment string) (store.Alarm, error) {
	return x.act(ctx, a, id, store.AlarmNoted, comment)
}

func (x *Alarms) act(ctx context.Context, a Actor, id int64, action store.AlarmAction, comment string) (store.Alarm, error) {
	if strings.TrimSpace(a.Who) == "" {
		return store.Alarm{}, refuse(ErrInvalid, "watch.actor.anonymous")
	}
	comment = strings.TrimSpace(comment)
	if comment == "" {
		return store.Alarm{}, refuse(ErrInvalid, "watch.alarm.comment_required")
	}
	if len(comment) > MaxComment {
		return store.Alarm{}, refuse(ErrInvalid, "watch.comment.too_long", MaxComment)
	}
	al, err := x.visible(ctx, a, id)
	if err != nil {
		return al, err
	}
	if al.State == store.AlarmStateClosed {
		return al, refuse(ErrRefused, "watch.alarm.closed", id)
	}
	if action == store.AlarmClosed {
		if err := mayClose(a, al); err != nil {
			return al, err
		}
	}
	e := store.AlarmEntry{Time: x.clock.Now(), Who: a.Who, Role: string(a.Role), Action: action, Comment: comment}
	got, err := x.st.ChangeAlarm(ctx, id, e)
	if errors.Is(err, store.ErrInvalid) {
		// closed meanwhile by someone else
		return got, refuse(ErrRefused, "watch.alarm.closed", id)
	}
	if err != nil {
		return got, fmt.Errorf("watch: %w", err)
	}
	e.Alarm = id
	// The change is stored and on the alarm's page whatever the outbox says: its failure is logged, not
	// put to the person, who did what they meant to.
	if err := x.notifier.AlarmChanged(ctx, got, e); err != nil {
		x.logf("watch: notify alarm %d %s by %s: %v", id, action, a.Who, err)
	}
	return got, nil
}

// mayClose is the closing rule: an ingest incident, and records an agent lost, are matters of evidence
// that only the customs officer decides (issue #6; чл. 28 gives the officers the instructions); other
// alarms the officer or an admin closes, and the operator once the condition is over.
func mayClose(a Actor, al store.Alarm) error {
	switch {
	case al.Kind == store.AlarmIncident || al.Kind == store.AlarmRecordsLost:
		if a.Role != store.RoleOfficer {
			return refuse(ErrForbidden, "watch.alarm.incident_officer_only", al.ID)
		}
	case a.Role == store.RoleOperator:
		if al.Restored.IsZero() {
			return refuse(ErrForbidden, "watch.alarm.operator_close_ongoing", al.ID)
		}
	case a.Role != store.RoleOfficer && a.Role != store.RoleAdmin:
		return refuse(ErrForbidden, "watch.actor.no_scope")
	}
	return nil
}
