package web

import (
	"context"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/notify"
	"github.com/akciz/akciz/internal/store"
)

// TestAlarmDeliveries: the alarm page lists the alarm's e-mails by recipient, with their state and
// time; an operator sees only its own people's; without a notices service the section is absent.
func TestAlarmDeliveries(t *testing.T) {
	ctx := context.Background()
	var svc *notify.Service
	x := newServerWith(t, func(x *testServer, cfg *Config) {
		x.addPerson(ctx, "opmail", store.Person{Name: "Мария Пощенска", Email: "maria@neft.bg", Role: store.RoleOperator, Operator: eikA})
		x.addPerson(ctx, "offmail", store.Person{Name: "Иван Пощенски", Email: "ivan@customs.bg", Role: store.RoleOfficer, Office: officeA})
		var err error
		svc, err = notify.New(x.st, notify.Config{Portal: "https://portal.example", From: mail.Address{Address: "alarms@customs.bg"},
			Clock: x.clock, Alarms: x.st})
		must(t, err)
		cfg.Notices = svc
	})
	a, err := x.st.Alarm(ctx, x.alarmA)
	must(t, err)
	h, err := x.st.AlarmHistory(ctx, x.alarmA)
	must(t, err)
	must(t, svc.AlarmChanged(ctx, a, h[0]))
	rows, err := x.st.Outbox(ctx, store.OutboxFilter{Alarm: x.alarmA})
	must(t, err)
	if len(rows) != 2 {
		t.Fatalf("%d outbox rows, want 2 (the operator's and the officer's person with an address)", len(rows))
	}
	sentAt := fixedNow.Add(-20 * time.Minute)
	for _, o := range rows {
		if p, _ := x.st.Person(ctx, o.Person); p.Role == store.RoleOfficer {
			must(t, x.st.MoveOutbox(ctx, o.ID, store.OutboxPending, store.OutboxUpdate{State: store.OutboxSent, Attempts: 1, SentAt: sentAt}))
		}
	}
	page := "/alarms/" + strconv.FormatInt(x.alarmA, 10)

	_, body := x.client("admin").login().get(page)
	for _, want := range []string{`id="deliveries"`, "Изпратени уведомления по имейл", "Мария Пощенска", "задължено лице",
		"Иван Пощенски", "митнически служител", "изпратено", "чака изпращане", formatTime(sentAt, i18n.BG)} {
		if !strings.Contains(body, want) {
			t.Errorf("the administrator's alarm page lacks %q", want)
		}
	}
	_, body = x.client("operator").login().get(page)
	if !strings.Contains(body, "Мария Пощенска") || strings.Contains(body, "Иван Пощенски") || strings.Contains(body, "ivan@customs.bg") {
		t.Errorf("the operator's alarm page shows other than its own people's e-mails:\n%s", body)
	}
	// An alarm nobody was told of says so.
	if _, body = x.client("admin").login().get("/alarms/" + strconv.FormatInt(x.alarmB, 10)); !strings.Contains(body, `id="no-deliveries"`) {
		t.Errorf("alarm B without e-mails:\n%s", body)
	}

	// Without a notices service there is nothing to show.
	y := newTestServer(t)
	code, body := y.client("admin").login().get("/alarms/" + strconv.FormatInt(y.alarmA, 10))
	if code != http.StatusOK || strings.Contains(body, "deliveries") {
		t.Errorf("alarm page without a notices service: %d, shows deliveries", code)
	}
}

// TestDeliveryStateNames: every outbox state has its name in both languages (the page builds the key).
func TestDeliveryStateNames(t *testing.T) {
	for _, st := range []store.OutboxState{store.OutboxPending, store.OutboxSending, store.OutboxUnsure, store.OutboxSent,
		store.OutboxFailed, store.OutboxCancelled} {
		for _, l := range []i18n.Lang{i18n.BG, i18n.EN} {
			if !i18n.Has(l, "web.delivery."+string(st)) {
				t.Errorf("no web.delivery.%s in %s", st, l)
			}
		}
	}
}

// TestSitesLastData: the sites list shows each site's last batch time, read for the whole list at once.
func TestSitesLastData(t *testing.T) {
	x := newTestServer(t)
	last, err := x.st.LastData(context.Background(), []string{siteA, siteB})
	must(t, err)
	if last[siteA].IsZero() || last[siteB].IsZero() {
		t.Fatalf("fixture sites without last data: %v", last)
	}
	_, body := x.client("admin").login().get("/sites")
	if want := formatTime(last[siteA], i18n.BG); !strings.Contains(body, want) {
		t.Errorf("the sites list lacks site A's last data %s", want)
	}
}
