package notify

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Alarms by e-mail (чл. 28; issue #6): the site's operator's people and its customs office's officers
// hear of every change of an alarm at once, through the notices' outbox, threaded per alarm.

// validEIK gives the n-th valid EIK from 121000000 on (the site register checks them).
func validEIK(t *testing.T, n int) string {
	t.Helper()
	for v := 121000000; v < 122000000; v++ {
		if s := strconv.Itoa(v); core.ValidEIK(s) {
			if n == 0 {
				return s
			}
			n--
		}
	}
	t.Fatal("no valid EIK")
	return ""
}

// alarmWorld is two operators' sites under two customs offices and the people of the console.
type alarmWorld struct {
	siteA, siteB string // siteA: operator opA under BG005800; siteB: another operator under BG003000
	opA          string
	people       map[string]int64
}

func newAlarmWorld(t *testing.T, f *fixture) *alarmWorld {
	t.Helper()
	ctx := f.ctx
	opA, other := validEIK(t, 0), validEIK(t, 1)
	must(t, f.st.PutOperator(ctx, store.Operator{EIK: opA, Name: "Нефт АД"}))
	must(t, f.st.PutOperator(ctx, store.Operator{EIK: other, Name: "Спирт ООД"}))
	w := &alarmWorld{siteA: "BGNCA00005001", siteB: "BGNCA00005002", people: map[string]int64{}, opA: opA}
	must(t, f.st.PutSite(ctx, store.Site{Warehouse: w.siteA, Operator: opA, Name: "Склад Бургас",
		CustomsOffice: "BG005800", State: store.SiteLive}))
	must(t, f.st.PutSite(ctx, store.Site{Warehouse: w.siteB, Operator: other, Name: "Дестилерия",
		CustomsOffice: "BG003000", State: store.SiteLive}))
	for _, p := range []store.Person{
		{Name: "Мария Иванова", Email: "maria@neft.bg", Role: store.RoleOperator, Operator: opA},
		{Name: "Петър Колев", Email: "petar@neft.bg", Role: store.RoleOperator, Operator: opA, Disabled: true},
		{Name: "Без адрес", Role: store.RoleOperator, Operator: opA},
		{Name: "Стоян Спиртов", Email: "boss@spirt.bg", Role: store.RoleOperator, Operator: other},
		{Name: "Иван Петров", Email: "ivan@customs.bg", Role: store.RoleOfficer, Office: "BG005800"},
		{Name: "Георги Георгиев", Email: "georgi@customs.bg", Role: store.RoleOfficer, Office: "BG003000"},
		{Name: "Админ ЦМУ", Email: "admin@customs.bg", Role: store.RoleAdmin},
	} {
		p.Created = start
		id, err := f.st.PutPerson(ctx, p)
		must(t, err)
		w.people[p.Email] = id
	}
	return w
}

// change records e on alarm id as package watch does, and tells the service as watch's Notifier is told:
// the entry as written, without its number.
func change(t *testing.T, f *fixture, id int64, e store.AlarmEntry) store.Alarm {
	t.Helper()
	e.Time = f.clock.Now()
	a, err := f.st.ChangeAlarm(f.ctx, id, e)
	must(t, err)
	e.Alarm = id
	must(t, f.svc.AlarmChanged(f.ctx, a, e))
	return a
}

// open opens an alarm as the watch engine does and tells the service.
func open(t *testing.T, f *fixture, a store.Alarm) store.Alarm {
	t.Helper()
	e := store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmOpened, Time: f.clock.Now(), Detail: a.Detail}
	got, created, err := f.st.OpenAlarm(f.ctx, a, e)
	must(t, err)
	if !created {
		t.Fatalf("alarm %+v was open already", a)
	}
	must(t, f.svc.AlarmChanged(f.ctx, got, e))
	return got
}

func doorAlarm(site string) store.Alarm {
	return store.Alarm{Kind: store.AlarmDoorOpened, Site: site, Device: "BOX-1", Opened: start,
		Detail: map[string]string{"event": "door-opened", "time": start.Format(time.RFC3339Nano), "seq": "42"}}
}

func TestAlarmMail(t *testing.T) {
	f := newFixture(t)
	box, conn := startSMTP(t)
	w := NewSender(f.svc, conn)
	world := newAlarmWorld(t, f)
	ctx := f.ctx

	a := open(t, f, doorAlarm(world.siteA))
	// The same change told twice (the notifier retried): queued once.
	e1 := store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmOpened, Time: start}
	must(t, f.svc.AlarmChanged(ctx, a, e1))
	rows, err := f.st.Outbox(ctx, store.OutboxFilter{Alarm: a.ID})
	must(t, err)
	if len(rows) != 2 {
		t.Fatalf("rows of the opened alarm: %+v, want maria's and ivan's", rows)
	}
	if sent := sendAll(t, w); sent != 2 {
		t.Fatalf("sent %d, want 2", sent)
	}
	// The site's operator's person and its office's officer; nobody else (disabled, no address, another
	// operator, another office, administrators).
	for addr, want := range map[string]int{"maria@neft.bg": 1, "ivan@customs.bg": 1, "petar@neft.bg": 0,
		"boss@spirt.bg": 0, "georgi@customs.bg": 0, "admin@customs.bg": 0} {
		if got := len(box.to(addr)); got != want {
			t.Errorf("%s got %d messages, want %d", addr, got, want)
		}
	}
	m := box.to("maria@neft.bg")[0]
	if !m.TLS || m.User != smtpUser || m.From != "notices@customs.bg" {
		t.Errorf("envelope: TLS %v, user %q, from %q", m.TLS, m.User, m.From)
	}
	verify(t, f, m.Data)
	p := parse(t, m.Data)
	first := "akciz." + alarmKey(a, 1, world.people["maria@neft.bg"]) + "@customs.bg"
	if id := msgID(t, p); id != first {
		t.Errorf("Message-ID %s, want %s", id, first)
	}
	subject, _ := p.h.Subject()
	for _, want := range []string{"Открита", "Отворена кутия на ИКУНК", "Opened", "Box opened", world.siteA, strconv.FormatInt(a.ID, 10)} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject %q lacks %q", subject, want)
		}
	}
	if strings.Index(subject, "Отворена") > strings.Index(subject, "Box opened") {
		t.Errorf("subject %q: Bulgarian first", subject)
	}
	if p.h.Get("In-Reply-To") != "" || p.h.Get("List-Unsubscribe") != "" {
		t.Errorf("the first message: In-Reply-To %q, List-Unsubscribe %q", p.h.Get("In-Reply-To"), p.h.Get("List-Unsubscribe"))
	}
	// Both languages, Bulgarian first; times in Sofia with the zone named; the catalogue's words for the
	// kind; the link to the alarm's page in the console.
	link := "https://console.customs.bg/alarms/" + strconv.FormatInt(a.ID, 10)
	for _, want := range []string{"Аларма № " + strconv.FormatInt(a.ID, 10) + ": Отворена кутия на ИКУНК",
		"Alarm no. " + strconv.FormatInt(a.ID, 10) + ": Box opened",
		"22.11.2026 10:00 ч. EET (UTC+02:00, София)", "22.11.2026 10:00 EET (UTC+02:00, Sofia)",
		"Датчикът за отваряне на защитната кутия е сработил (чл. 36).", "The box's opening sensor went off",
		"Обект (данъчен склад): " + world.siteA, "Митническо учреждение: BG005800", "Пореден № на записа: 42",
		"Събитие: отворена кутия", "Event: box opened", "Състояние: открита",
		"системата за наблюдение", link, "ЕИК " + world.opA} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text lacks %q:\n%s", want, p.text)
		}
	}
	if strings.Index(p.text, "Аларма №") > strings.Index(p.text, "Alarm no.") {
		t.Error("the English part comes before the Bulgarian")
	}
	if !strings.Contains(p.html, `lang="bg"`) || !strings.Contains(p.html, `<div lang="en">`) || !strings.Contains(p.html, `href="`+link+`"`) {
		t.Errorf("html: %s", p.html)
	}
	if got := strings.Join(p.types, ","); got != "text/plain,text/html" {
		t.Errorf("parts %s", got)
	}
	officer := parse(t, box.to("ivan@customs.bg")[0].Data)
	if !strings.Contains(officer.text, "митнически служител от BG005800") {
		t.Errorf("the officer's footer:\n%s", officer.text)
	}

	// An officer acknowledges: both sides, threaded under each one's first message.
	f.clock.Advance(5 * time.Minute)
	change(t, f, a.ID, store.AlarmEntry{Who: "Иван Петров", Role: "officer", Action: store.AlarmAcknowledged,
		Comment: "Проверява се на място."})
	sendAll(t, w)
	// The operator's person comments: to the office only.
	f.clock.Advance(5 * time.Minute)
	change(t, f, a.ID, store.AlarmEntry{Who: "Мария Иванова", Role: "operator", Action: store.AlarmNoted,
		Comment: "Кутията е отворена за ремонт на помпата."})
	sendAll(t, w)
	if got := len(box.to("maria@neft.bg")); got != 2 {
		t.Errorf("the operator's person got %d messages after her own comment, want 2", got)
	}
	if got := len(box.to("ivan@customs.bg")); got != 3 {
		t.Errorf("the officer got %d messages after the operator's comment, want 3", got)
	}
	// The engine sees the condition end, the officer closes: both sides.
	f.clock.Advance(5 * time.Minute)
	change(t, f, a.ID, store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmRestored,
		Detail: map[string]string{"ended": f.clock.Now().Format(time.RFC3339Nano)}})
	f.clock.Advance(time.Hour)
	change(t, f, a.ID, store.AlarmEntry{Who: "Иван Петров", Role: "officer", Action: store.AlarmClosed,
		Comment: "Пломбата е поставена отново."})
	sendAll(t, w)

	for addr, want := range map[string][]string{
		"maria@neft.bg":   {"Открита", "Потвърдена", "Условието отпадна", "Приключена"},
		"ivan@customs.bg": {"Открита", "Потвърдена", "Нов коментар", "Условието отпадна", "Приключена"},
	} {
		msgs := box.to(addr)
		if len(msgs) != len(want) {
			t.Fatalf("%s got %d messages, want %d", addr, len(msgs), len(want))
		}
		root := "akciz." + alarmKey(a, 1, world.people[addr]) + "@customs.bg"
		for i, m := range msgs {
			verify(t, f, m.Data)
			p := parse(t, m.Data)
			subject, _ := p.h.Subject()
			if !strings.HasPrefix(subject, want[i]+":") {
				t.Errorf("%s message %d: subject %q, want it to start with %s", addr, i+1, subject, want[i])
			}
			if i == 0 {
				continue
			}
			irt, _ := p.h.MsgIDList("In-Reply-To")
			refs, _ := p.h.MsgIDList("References")
			if len(irt) != 1 || irt[0] != root || len(refs) != 1 || refs[0] != root {
				t.Errorf("%s message %d: In-Reply-To %v, References %v, want %s", addr, i+1, irt, refs, root)
			}
		}
	}
	last := parse(t, box.to("maria@neft.bg")[3].Data)
	for _, want := range []string{"Приключена от Иван Петров (митнически служител) на 22.11.2026 11:15 ч. EET (UTC+02:00, София).",
		"Closed by Иван Петров (customs officer) at 22.11.2026 11:15 EET (UTC+02:00, Sofia).",
		"Коментар:\nПломбата е поставена отново.", "Състояние: приключена", "State: closed",
		"Условието отпадна: 22.11.2026 10:15 ч. EET"} {
		if !strings.Contains(strings.ReplaceAll(last.text, "\r\n", "\n"), want) {
			t.Errorf("the closing message lacks %q:\n%s", want, last.text)
		}
	}
	ack := parse(t, box.to("maria@neft.bg")[1].Data)
	if !strings.Contains(ack.text, "Проверява се на място.") {
		t.Errorf("the acknowledgement lacks the comment:\n%s", ack.text)
	}
	seen := map[string]bool{}
	for _, m := range box.all() {
		id := msgID(t, parse(t, m.Data))
		if seen[id] {
			t.Errorf("Message-ID %s twice", id)
		}
		seen[id] = true
	}

	// Another operator's site under another office: its own people only.
	before := len(box.all())
	b := open(t, f, store.Alarm{Kind: store.AlarmLateSite, Site: world.siteB, Opened: start.Add(2 * time.Hour),
		Detail: map[string]string{"last": start.Format(time.RFC3339Nano), "limit": "17m0s"}})
	sendAll(t, w)
	if got := len(box.all()) - before; got != 2 || len(box.to("boss@spirt.bg")) != 1 || len(box.to("georgi@customs.bg")) != 1 {
		t.Errorf("site B's alarm: %d messages, boss %d, georgi %d", got, len(box.to("boss@spirt.bg")), len(box.to("georgi@customs.bg")))
	}
	lateText := parse(t, box.to("georgi@customs.bg")[0].Data).text
	if !strings.Contains(lateText, "Обектът не изпраща данни") || !strings.Contains(lateText, "Последни данни: 22.11.2026 10:00 ч. EET") {
		t.Errorf("late-site message:\n%s", lateText)
	}
	if len(box.to("maria@neft.bg")) != 4 || len(box.to("ivan@customs.bg")) != 5 {
		t.Error("site B's alarm reached site A's people")
	}
	_ = b

	// A person disabled before the message went: the row is cancelled, the other goes.
	c := open(t, f, store.Alarm{Kind: store.AlarmPowerLoss, Site: world.siteA, Device: "BOX-1", Opened: start.Add(3 * time.Hour)})
	mariaP, err := f.st.Person(ctx, world.people["maria@neft.bg"])
	must(t, err)
	mariaP.Disabled = true
	_, err = f.st.PutPerson(ctx, mariaP)
	must(t, err)
	sendAll(t, w)
	ds, err := f.svc.AlarmDeliveries(ctx, c.ID)
	must(t, err)
	states := map[string]store.OutboxState{}
	for _, d := range ds {
		states[d.Email] = d.State
	}
	if states["maria@neft.bg"] != store.OutboxCancelled || states["ivan@customs.bg"] != store.OutboxSent || len(ds) != 2 {
		t.Errorf("deliveries of the power alarm: %+v", ds)
	}
}

func TestAlarmMailNoDuplicateAcrossCrash(t *testing.T) {
	for _, step := range []string{"mail", "data", "unsure", "dot"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t)
			box, conn := startSMTP(t)
			world := newAlarmWorld(t, f)
			a := open(t, f, doorAlarm(world.siteA))

			w := NewSender(f.svc, conn)
			w.crash = func(s string) bool { return s == step }
			if _, err := w.SendDue(f.ctx); !errors.Is(err, errCrash) {
				t.Fatalf("crash at %s: %v", step, err)
			}
			// The engine tells the same change again after its own restart: nothing more is queued.
			must(t, f.svc.AlarmChanged(f.ctx, a, store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmOpened, Time: start}))
			w2 := NewSender(f.svc, conn)
			sendAll(t, w2)
			f.clock.Advance(w2.Lease + time.Second)
			sendAll(t, w2)
			f.clock.Advance(time.Hour)
			sendAll(t, w2)
			want := 2
			if step == "unsure" {
				want = 1 // the crashed row may have gone: held back, never guessed
			}
			if got := len(box.all()); got != want {
				t.Errorf("after a crash at %s and a restart: %d messages, want %d", step, got, want)
			}
			for _, addr := range []string{"maria@neft.bg", "ivan@customs.bg"} {
				if n := len(box.to(addr)); n > 1 {
					t.Errorf("%s got %d copies", addr, n)
				}
			}
			rows, err := f.st.Outbox(f.ctx, store.OutboxFilter{Alarm: a.ID})
			must(t, err)
			if len(rows) != 2 {
				t.Errorf("rows: %+v", rows)
			}
		})
	}
}

// TestAlarmChangedRefusals: without an alarm source, or for an entry the history does not hold, nothing is
// queued and the caller hears why.
func TestAlarmChangedRefusals(t *testing.T) {
	f := newFixture(t)
	world := newAlarmWorld(t, f)
	a := open(t, f, doorAlarm(world.siteA))
	err := f.svc.AlarmChanged(f.ctx, a, store.AlarmEntry{Who: "nobody", Role: "officer", Action: store.AlarmClosed, Comment: "?"})
	if err == nil || !strings.Contains(err.Error(), "history") {
		t.Errorf("an entry not in the history: %v", err)
	}
	bare, err := New(f.st, Config{From: mailAddress("", "notices@customs.bg"), Clock: f.clock})
	must(t, err)
	if err := bare.AlarmChanged(context.Background(), a, store.AlarmEntry{Seq: 1}); !errors.Is(err, ErrNoAlarms) {
		t.Errorf("without an alarm source: %v", err)
	}
	rows, err := f.st.Outbox(f.ctx, store.OutboxFilter{Alarm: a.ID})
	must(t, err)
	if len(rows) != 2 {
		t.Errorf("rows: %d, want only the opening's 2", len(rows))
	}
}

func TestAlarmKeys(t *testing.T) {
	var keys []string
	for _, a := range []store.AlarmAction{store.AlarmOpened, store.AlarmAcknowledged, store.AlarmClosed, store.AlarmNoted,
		store.AlarmRestored, store.AlarmRecurred} {
		keys = append(keys, "notify.alarm.action."+string(a))
	}
	for _, r := range []store.Role{store.RoleOperator, store.RoleOfficer, store.RoleAdmin} {
		keys = append(keys, "notify.alarm.role."+string(r))
	}
	for _, k := range store.AlarmKinds {
		keys = append(keys, "watch.kind."+string(k))
	}
	for _, s := range []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged, store.AlarmStateClosed} {
		keys = append(keys, "watch.state."+string(s))
	}
	for _, k := range append(detailOrder, "seq_first", "seq_last", "ended") {
		if k != "first" {
			keys = append(keys, "notify.alarm.detail."+k)
		}
	}
	for _, k := range keys {
		for _, l := range i18n.Langs {
			if !i18n.Has(l, k) {
				t.Errorf("%s missing in %s", k, l)
			}
		}
	}
}
