package watch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// failingNotifier is an outbox that cannot take anything.
type failingNotifier struct{}

func (failingNotifier) AlarmChanged(context.Context, store.Alarm, store.AlarmEntry) error {
	return errors.New("outbox: database is read-only")
}

// lines is a log that keeps its lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, fmt.Sprintf(format, args...))
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

// A person's acknowledgement, note or closing stands when the notifier (the outbox of чл. 28) fails, and
// the failure is logged with the alarm and the action, not dropped.
func TestAlarmsLogNotifierFailure(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	f.send(event("", f.clock.Now(), core.Event{Kind: core.EventPowerLost}))
	f.tick(f.engine(nil))
	a := f.open(store.AlarmPowerLoss)[""]
	var log lines
	x := watch.NewAlarms(f.st, f.clock, failingNotifier{}).WithLogf(log.logf)
	got, err := x.Acknowledge(f.ctx, officer, a.ID, "Проверява се.")
	if err != nil || got.State != store.AlarmStateAcknowledged {
		t.Fatalf("acknowledge with a failing notifier: %+v, %v", got, err)
	}
	if _, err := x.Close(f.ctx, officer, a.ID, "Изяснено."); err != nil {
		t.Fatalf("close with a failing notifier: %v", err)
	}
	l := log.all()
	if len(l) != 2 {
		t.Fatalf("log %q, want a line for each of 2 actions", l)
	}
	for i, action := range []string{"acknowledged", "closed"} {
		if !strings.Contains(l[i], fmt.Sprintf("alarm %d %s by %s", a.ID, action, officer.Who)) ||
			!strings.Contains(l[i], "database is read-only") {
			t.Errorf("log line %q does not name the alarm, the action, who and the error", l[i])
		}
	}
	// A notifier that works logs nothing.
	var quiet lines
	b, _, err := f.st.OpenAlarm(f.ctx, store.Alarm{Kind: store.AlarmLateSite, Site: site}, store.AlarmEntry{Who: "engine"})
	f.must(err)
	if _, err := watch.NewAlarms(f.st, f.clock, &recorder{}).WithLogf(quiet.logf).Note(f.ctx, officer, b.ID, "Бележка."); err != nil {
		t.Fatal(err)
	}
	if q := quiet.all(); len(q) != 0 {
		t.Errorf("logged %q for a notifier that worked", q)
	}
}
