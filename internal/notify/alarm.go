package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Alarms by e-mail (чл. 28; issue #6: every alarm "reaches the operator and the responsible customs office
// at once — on their pages and by e-mail through the same outbox that sends notices"). Service.AlarmChanged
// is the watch engine's and the console's Notifier (package watch's interface, satisfied without importing
// it): each change of an alarm becomes one outbox row per person it concerns, with a deterministic key, and
// the Sender delivers those rows like any other. docs/watching.md ("Alarms by e-mail") gives the rules.

// AlarmSource is what the alarm mail reads besides the outbox: the people of the console (who is told) and
// the alarms with their histories (what is told). store.Store has all four.
type AlarmSource interface {
	People(ctx context.Context) ([]store.Person, error)
	Person(ctx context.Context, id int64) (store.Person, error)
	Alarm(ctx context.Context, id int64) (store.Alarm, error)
	AlarmHistory(ctx context.Context, id int64) ([]store.AlarmEntry, error)
}

// ErrNoAlarms: the service was configured without an AlarmSource, so it cannot tell anyone of alarms.
var ErrNoAlarms = errors.New("notify: no alarm source configured")

// AlarmChanged queues an e-mail about entry e of alarm a to the people it concerns: the operator's people
// (role operator, the site's EIK) and the responsible customs office's officers (role officer, the site's
// office), each enabled and with an e-mail address; administrators are not mailed (they see every site on
// the console). A person's comment (noted by an operator or an officer) goes to the other side only: its
// author's side wrote it. Every other change — opened, acknowledged, closed, restored, recurred, a repeat
// the engine notes, an administrator's comment — goes to both.
//
// One row per (entry, person), keyed a{alarm}.{opened}.e{seq}.p{person} (opened: the alarm's opening time
// in base-36 milliseconds, so that a fresh database never repeats a Message-ID); a second call for the same
// entry queues nothing. The rows are stored when it returns; the worker is woken to send them at once.
// It implements watch.Notifier.
func (s *Service) AlarmChanged(ctx context.Context, a store.Alarm, e store.AlarmEntry) error {
	src := s.cfg.Alarms
	if src == nil {
		return ErrNoAlarms
	}
	if a.ID == 0 {
		return fmt.Errorf("notify: alarm change: alarm without id")
	}
	if a.Operator == "" && a.CustomsOffice == "" {
		// Not read from the store (those are filled from the site on reads): read it.
		got, err := src.Alarm(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("notify: alarm %d: %w", a.ID, err)
		}
		a = got
	}
	seq := e.Seq
	if seq == 0 {
		// The engine and the console give the entry as they wrote it; the store numbered it.
		h, err := src.AlarmHistory(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("notify: alarm %d: %w", a.ID, err)
		}
		if seq = findEntry(h, e); seq == 0 {
			return fmt.Errorf("notify: alarm %d: no %s entry by %s in its history", a.ID, e.Action, e.Who)
		}
	}
	people, err := src.People(ctx)
	if err != nil {
		return fmt.Errorf("notify: alarm %d: %w", a.ID, err)
	}
	operators, officers := alarmSides(e)
	now := s.now()
	var items []store.OutboxItem
	for _, p := range people {
		if (operators && p.Role == store.RoleOperator || officers && p.Role == store.RoleOfficer) && concerns(p, a) {
			items = append(items, store.OutboxItem{Key: alarmKey(a, seq, p.ID), Kind: store.OutboxAlarm, Alarm: a.ID,
				Entry: seq, Person: p.ID, NextAttempt: now, Created: now})
		}
	}
	if len(items) == 0 {
		return nil
	}
	n, err := s.s.QueueOutbox(ctx, items)
	if err != nil {
		return fmt.Errorf("notify: alarm %d: %w", a.ID, err)
	}
	if n > 0 {
		s.queued()
	}
	return nil
}

// alarmSides says who hears of e: a person's comment goes to the other side, everything else to both.
func alarmSides(e store.AlarmEntry) (operators, officers bool) {
	if e.Action == store.AlarmNoted {
		switch store.Role(e.Role) {
		case store.RoleOperator:
			return false, true
		case store.RoleOfficer:
			return true, false
		}
	}
	return true, true
}

// concerns reports whether alarm a is p's to hear of: an enabled person with an address, of the site's
// operator or of its customs office.
func concerns(p store.Person, a store.Alarm) bool {
	if p.Disabled || strings.TrimSpace(p.Email) == "" {
		return false
	}
	switch p.Role {
	case store.RoleOperator:
		return a.Operator != "" && p.Operator == a.Operator
	case store.RoleOfficer:
		return a.CustomsOffice != "" && p.Office == a.CustomsOffice
	}
	return false
}

// findEntry gives the Seq of the latest entry of h that is e (the same action, author and comment, at the
// same millisecond when e has a time), or 0.
func findEntry(h []store.AlarmEntry, e store.AlarmEntry) int {
	for i := len(h) - 1; i >= 0; i-- {
		x := h[i]
		if x.Action == e.Action && x.Who == e.Who && x.Comment == e.Comment &&
			(e.Time.IsZero() || x.Time.UnixMilli() == e.Time.UnixMilli()) {
			return x.Seq
		}
	}
	return 0
}

// alarmKey is the outbox key, and so the Message-ID's local part, of entry seq of alarm a to person id.
func alarmKey(a store.Alarm, seq int, person int64) string {
	return fmt.Sprintf("a%d.%s.e%d.p%d", a.ID, strconv.FormatInt(a.Opened.UnixMilli(), 36), seq, person)
}

// ConsoleAlarmURL gives the alarm's page in the web console.
func (s *Service) ConsoleAlarmURL(id int64) string {
	return fmt.Sprintf("%s/alarms/%d", s.cfg.Console, id)
}

// alarmSection is the message in one language.
type alarmSection struct {
	Lang   string
	Title  string
	Status string
	Lines  [][2]string
	Text   string
	Link   [2]string
}

var alarmHTML = template.Must(template.New("").Parse(`<!DOCTYPE html>
<html lang="bg"><head><meta charset="utf-8"><title>{{(index .Sections 0).Title}}</title></head>
<body style="font-family:sans-serif;line-height:1.4">
{{range .Sections}}<div lang="{{.Lang}}">
<h1 style="font-size:1.3em">{{.Title}}</h1>
<p><strong>{{.Status}}</strong></p>
<table>{{range .Lines}}<tr><th style="text-align:left;padding-right:1em;vertical-align:top">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{if .Text}}<div style="white-space:pre-wrap;margin:1em 0">{{.Text}}</div>{{end}}
<p>{{index .Link 0}}: <a href="{{index .Link 1}}">{{index .Link 1}}</a></p>
</div>
<hr>
{{end}}<p style="font-size:0.85em;color:#555">{{range .Footer}}{{.}}<br>{{end}}</p>
</body></html>
`))

func alarmText(sections []alarmSection, footer []string) string {
	var b strings.Builder
	for i, v := range sections {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(v.Title + "\n" + strings.Repeat("=", len([]rune(v.Title))) + "\n\n" + v.Status + "\n\n")
		for _, l := range v.Lines {
			b.WriteString(l[0] + ": " + l[1] + "\n")
		}
		if v.Text != "" {
			b.WriteString("\n" + strings.TrimSpace(v.Text) + "\n")
		}
		b.WriteString("\n" + v.Link[0] + ": " + v.Link[1] + "\n")
	}
	b.WriteString("\n-- \n" + strings.Join(footer, "\n") + "\n")
	return b.String()
}

// composeAlarm builds the message of an OutboxAlarm row from the person, the alarm and its history as
// stored now, or says why it is no longer to be sent (the person was disabled, lost the address, or no
// longer sees the site).
func (s *Service) composeAlarm(ctx context.Context, item store.OutboxItem) (*Message, string, error) {
	src := s.cfg.Alarms
	if src == nil {
		return nil, "", fmt.Errorf("notify: compose %s: %w", item.Key, ErrNoAlarms)
	}
	p, err := src.Person(ctx, item.Person)
	if err != nil {
		return nil, "", fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	a, err := src.Alarm(ctx, item.Alarm)
	if err != nil {
		return nil, "", fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	switch {
	case p.Disabled:
		return nil, "person disabled", nil
	case strings.TrimSpace(p.Email) == "":
		return nil, "person has no e-mail address", nil
	case !concerns(p, a):
		return nil, "the person no longer sees the site", nil
	}
	h, err := src.AlarmHistory(ctx, item.Alarm)
	if err != nil {
		return nil, "", fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	i := slices.IndexFunc(h, func(e store.AlarmEntry) bool { return e.Seq == item.Entry })
	if i < 0 {
		return nil, "", fmt.Errorf("notify: compose %s: alarm %d has no entry %d", item.Key, a.ID, item.Entry)
	}
	e := h[i]

	m := &Message{ID: s.messageID(item.Key), From: s.cfg.From.Address, To: strings.TrimSpace(p.Email)}
	var hd mail.Header
	hd.SetAddressList("From", []*mail.Address{{Name: s.cfg.From.Name, Address: s.cfg.From.Address}})
	hd.SetAddressList("To", []*mail.Address{{Name: p.Name, Address: m.To}})
	hd.SetDate(s.cfg.Clock.Now().In(Sofia))
	hd.SetMessageID(m.ID)
	if item.Entry > 1 {
		// Threaded under the alarm's first message to this person.
		first := s.messageID(alarmKey(a, 1, p.ID))
		hd.SetMsgIDList("In-Reply-To", []string{first})
		hd.SetMsgIDList("References", []string{first})
	}
	hd.Set("Auto-Submitted", "auto-generated")
	hd.Set("Content-Language", "bg, en")
	hd.Set("MIME-Version", "1.0")

	var sections []alarmSection
	var subject, footer []string
	for _, l := range i18n.Langs {
		pr := i18n.For(l)
		v := s.alarmSection(pr, a, e)
		sections = append(sections, v)
		subject = append(subject, pr.T("notify.alarm.subject", alarmAction(pr, e), a.ID, alarmKind(pr, a.Kind), a.Site))
		if p.Role == store.RoleOperator {
			footer = append(footer, pr.T("notify.alarm.footer.operator", p.Operator))
		} else {
			footer = append(footer, pr.T("notify.alarm.footer.officer", p.Office))
		}
	}
	hd.SetSubject(strings.Join(subject, " / "))
	var html bytes.Buffer
	if err := alarmHTML.Execute(&html, struct {
		Sections []alarmSection
		Footer   []string
	}{sections, footer}); err != nil {
		return nil, "", fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	var buf bytes.Buffer
	if err := writeBody(&buf, hd, alarmText(sections, footer), html.String(), "", nil, false); err != nil {
		return nil, "", fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	if m.Bytes, err = s.signed(item.Key, buf.Bytes()); err != nil {
		return nil, "", err
	}
	return m, "", nil
}

// alarmSection gives the message about entry e of alarm a in pr's language.
func (s *Service) alarmSection(pr *i18n.Printer, a store.Alarm, e store.AlarmEntry) alarmSection {
	v := alarmSection{Lang: string(pr.Lang()), Title: pr.T("notify.alarm.title", a.ID, alarmKind(pr, a.Kind))}
	if e.Role == "engine" {
		v.Status = pr.T("notify.alarm.status_engine", alarmAction(pr, e), FormatTime(pr, e.Time))
	} else {
		v.Status = pr.T("notify.alarm.status", alarmAction(pr, e), e.Who, codeName(pr, "notify.alarm.role.", e.Role), FormatTime(pr, e.Time))
	}
	add := func(key, value string) {
		if value != "" {
			v.Lines = append(v.Lines, [2]string{pr.T(key), value})
		}
	}
	add("notify.alarm.label.site", a.Site)
	add("notify.alarm.label.operator", a.Operator)
	add("notify.alarm.label.office", a.CustomsOffice)
	add("notify.alarm.label.device", a.Device)
	add("notify.alarm.label.point", a.Point)
	add("notify.alarm.label.kind", alarmKind(pr, a.Kind))
	add("notify.alarm.label.state", codeName(pr, "watch.state.", string(a.State)))
	add("notify.alarm.label.opened", FormatTime(pr, a.Opened))
	if !a.Restored.IsZero() {
		add("notify.alarm.label.restored", FormatTime(pr, a.Restored))
	}
	if !a.Closed.IsZero() {
		add("notify.alarm.label.closed", FormatTime(pr, a.Closed))
	}
	for _, k := range detailKeys(a.Detail) {
		val, label := a.Detail[k], k
		if a.Kind == store.AlarmIncident && (k == "first" || k == "last") {
			label = "seq_" + k // the incident's first and last sequence numbers, not times
		} else if t, err := time.Parse(time.RFC3339Nano, val); err == nil {
			val = FormatTime(pr, t)
		} else if k == "event" {
			val = codeName(pr, "watch.event.", val)
		}
		if val != "" {
			v.Lines = append(v.Lines, [2]string{codeName(pr, "notify.alarm.detail.", label), val})
		}
	}
	var text []string
	if key := "watch.alarm." + string(a.Kind); i18n.Has(pr.Lang(), key) {
		text = append(text, pr.T(key))
	}
	if c := strings.TrimSpace(e.Comment); c != "" {
		text = append(text, pr.T("notify.alarm.comment")+":\n"+c)
	}
	v.Text = strings.Join(text, "\n\n")
	v.Link = [2]string{pr.T("notify.alarm.link"), s.ConsoleAlarmURL(a.ID)}
	return v
}

// detailOrder is the order the facts of an alarm's detail are told in (the console's): what happened,
// where, when, then the limits; keys not named here follow in alphabetical order.
var detailOrder = []string{"event", "tag", "value", "previous", "unit", "bits", "time", "seq", "last", "limit", "class",
	"incident", "first", "detail"}

func detailKeys(d map[string]string) []string {
	var rest []string
	for k := range d {
		if !slices.Contains(detailOrder, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	var out []string
	for _, k := range detailOrder {
		if _, ok := d[k]; ok {
			out = append(out, k)
		}
	}
	return append(out, rest...)
}

// alarmKind gives the kind of alarm in the words of the watch catalogue (the console's words).
func alarmKind(pr *i18n.Printer, k store.AlarmKind) string {
	return codeName(pr, "watch.kind.", string(k))
}

// alarmAction names what entry e did; a repeat the engine notes is not a person's comment.
func alarmAction(pr *i18n.Printer, e store.AlarmEntry) string {
	if e.Action == store.AlarmNoted && e.Role == "engine" {
		return pr.T("notify.alarm.action.repeated")
	}
	return codeName(pr, "notify.alarm.action.", string(e.Action))
}

// codeName gives the catalogue's text of prefix+code, or code itself when the catalogue has none (a code
// added later is shown rather than hidden).
func codeName(pr *i18n.Printer, prefix, code string) string {
	if !i18n.Has(pr.Lang(), prefix+code) {
		return code
	}
	return tk(pr, prefix, code)
}

// AlarmDeliveries gives the per-recipient delivery status of an alarm's e-mails, every entry (Rev is the
// entry's number).
func (s *Service) AlarmDeliveries(ctx context.Context, alarm int64) ([]Delivery, error) {
	if alarm == 0 {
		return nil, fmt.Errorf("notify: alarm deliveries: %w", ErrNotFound)
	}
	rows, err := s.s.Outbox(ctx, store.OutboxFilter{Alarm: alarm})
	if err != nil {
		return nil, fmt.Errorf("notify: alarm deliveries: %w", err)
	}
	emails := map[int64]string{}
	out := []Delivery{}
	for _, o := range rows {
		if o.Kind != store.OutboxAlarm {
			continue
		}
		if _, ok := emails[o.Person]; !ok && s.cfg.Alarms != nil {
			if p, err := s.cfg.Alarms.Person(ctx, o.Person); err == nil {
				emails[o.Person] = p.Email
			}
		}
		d := Delivery{Outbox: o.ID, Rev: o.Entry, Kind: o.Kind, Email: emails[o.Person], State: o.State,
			Attempts: o.Attempts, SentAt: o.SentAt, Error: o.Error}
		if o.State == store.OutboxPending {
			d.Next = o.NextAttempt
		}
		out = append(out, d)
	}
	return out, nil
}
