package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// watchTable lists the routes of the alarms inbox and the lifecycle pages (alarms.go, lifecycle.go).
func (s *Server) watchTable() []route {
	return append([]route{
		{"GET /alarms", s.Page(s.alarmsPage)},
		{"GET /alarms/export/{format}", s.Page(s.alarmsExport)},
		{"GET /alarms/{id}", s.Page(s.alarmPage)},
		{"POST /alarms/{id}/ack", s.Action(s.alarmAct(store.AlarmAcknowledged))},
		{"POST /alarms/{id}/close", s.Action(s.alarmAct(store.AlarmClosed))},
		{"POST /alarms/{id}/note", s.Action(s.alarmAct(store.AlarmNoted))},
	}, s.lifecycleTable()...)
}

// actor is the request's person as package watch knows people.
func actor(u *User) watch.Actor {
	return watch.Actor{Who: u.Person.Name, Role: u.Person.Role, Operator: u.Person.Operator, Office: u.Person.Office}
}

type alarmsData struct {
	Alarms []store.Alarm
	Site   string
	State  string // "" (open and acknowledged), "closed", "all"
	Kind   string
	Kinds  []store.AlarmKind
	More   bool
}

// alarmFilter reads the inbox's filter from the query.
func alarmFilter(r *http.Request) (store.AlarmFilter, alarmsData) {
	q := r.URL.Query()
	d := alarmsData{Site: q.Get("site"), State: q.Get("state"), Kind: q.Get("kind"), Kinds: store.AlarmKinds}
	f := store.AlarmFilter{Site: d.Site}
	switch d.State {
	case "closed":
		f.States = []store.AlarmState{store.AlarmStateClosed}
	case "all":
	default:
		d.State = ""
		f.States = []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged}
	}
	if k := store.AlarmKind(d.Kind); k.Valid() {
		f.Kinds = []store.AlarmKind{k}
	} else {
		d.Kind = ""
	}
	return f, d
}

// alarmsPage is the inbox: the alarms of the sites the person sees, open and acknowledged first by
// default, newest first.
func (s *Server) alarmsPage(w http.ResponseWriter, r *http.Request) {
	f, d := alarmFilter(r)
	f.Limit = pageRows + 1
	alarms, err := s.alarms.List(r.Context(), actor(UserOf(r)), f)
	if err != nil {
		s.watchError(w, r, err)
		return
	}
	if len(alarms) > pageRows {
		alarms, d.More = alarms[:pageRows], true
	}
	d.Alarms = alarms
	p := s.NewPage(r, "alarms", "web.alarms.title", d)
	p.Nav = "alarms"
	s.RenderPage(w, r, http.StatusOK, p)
}

func (s *Server) alarmsExport(w http.ResponseWriter, r *http.Request) {
	f, _ := alarmFilter(r)
	alarms, err := s.alarms.List(r.Context(), actor(UserOf(r)), f)
	if err != nil {
		s.watchError(w, r, err)
		return
	}
	pr := s.Printer(r)
	s.export(w, r, r.PathValue("format"), "alarms", pr.T("web.alarms.title"), alarmTable(pr, alarms))
}

type alarmData struct {
	Alarm   store.Alarm
	History []store.AlarmEntry
	Detail  []detailLine
	Problem string // a refusal to show, already translated
	Comment string
	Done    string // the catalogue key of what was just done ("" when nothing)
	Explain string // what the kind of alarm means, with its article (package watch's text)
}

// alarmPage shows one alarm, its history and the forms to acknowledge, note and close it.
func (s *Server) alarmPage(w http.ResponseWriter, r *http.Request) {
	s.showAlarm(w, r, http.StatusOK, "", "")
}

func (s *Server) showAlarm(w http.ResponseWriter, r *http.Request, status int, problem, comment string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.NotFound(w, r)
		return
	}
	a, h, err := s.alarms.Get(r.Context(), actor(UserOf(r)), id)
	if err != nil {
		s.watchError(w, r, err)
		return
	}
	d := alarmData{Alarm: a, History: h, Problem: problem, Comment: comment}
	if key := "watch.alarm." + string(a.Kind); i18n.Has(requestLang(r), key) {
		d.Explain = s.Printer(r).T(key)
	}
	switch act := store.AlarmAction(r.URL.Query().Get("done")); act {
	case store.AlarmAcknowledged, store.AlarmClosed, store.AlarmNoted:
		d.Done = "web.alarm.done_" + string(act)
	}
	d.Detail = alarmDetail(s.Printer(r), a.Kind, a.Detail)
	p := s.NewPage(r, "alarm", "web.alarm.title", d)
	p.Nav = "alarms"
	s.RenderPage(w, r, status, p)
}

// detailLine is one fact of an alarm's detail as a person reads it: a label and a value, both in the
// catalogue's words.
type detailLine struct {
	Key   string // what the fact is ("tag", "limit", "seq_first", …): its place in the list and its CSS class
	Label string
	Value string
}

// detailOrder is the order the facts of an alarm's detail are shown in (by label): what happened,
// where, when, then the limits; keys not named here follow in alphabetical order.
var detailOrder = []string{"event", "incident", "tag", "value", "previous", "unit", "bits", "time", "seq", "seq_first", "seq_last",
	"last", "limit", "class", "detail"}

// alarmDetail writes the detail package watch keeps with an alarm (docs/watching.md) in the words of
// the catalogue: an event's kind, times in Sofia's time with the zone, a limit as minutes and seconds,
// a control point's class of чл. 30(13), an intake incident's kind, numbers as the reader writes them.
// A key the catalogue does not know is shown as it is, so that nothing the engine recorded is hidden.
func alarmDetail(pr *i18n.Printer, kind store.AlarmKind, detail map[string]string) []detailLine {
	l := pr.Lang()
	var out []detailLine
	for k, v := range detail {
		if v == "" {
			continue
		}
		label := k
		if kind == store.AlarmIncident && (k == "first" || k == "last") {
			label = "seq_" + k // the incident's first and last sequence numbers, not times
		}
		line := detailLine{Key: label, Label: codeName(pr, "web.detail.", label), Value: v}
		switch label {
		case "event":
			line.Value = eventName(pr, core.EventKind(v))
		case "time", "last":
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				line.Value = formatTime(t, l)
			}
		case "limit":
			if d, err := time.ParseDuration(v); err == nil {
				line.Value = durationText(pr, d)
			}
		case "class":
			line.Value = codeName(pr, "web.class.", v)
		case "incident":
			line.Value = codeName(pr, "web.incident.", v)
		case "value", "previous", "seq", "seq_first", "seq_last":
			line.Value = formatNum(v, l)
		case "bits":
			line.Value = strings.ReplaceAll(v, ",", ", ")
		}
		out = append(out, line)
	}
	rank := func(key string) int {
		if i := slices.Index(detailOrder, key); i >= 0 {
			return i
		}
		return len(detailOrder)
	}
	slices.SortFunc(out, func(a, b detailLine) int {
		if d := rank(a.Key) - rank(b.Key); d != 0 {
			return d
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// durationText writes a duration in whole hours, minutes and seconds as a person says it: "1 ч 5 мин",
// "10 мин 30 с", "15 с".
func durationText(pr *i18n.Printer, d time.Duration) string {
	d = d.Round(time.Second)
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	if h > 0 {
		parts = append(parts, pr.T("web.duration.hours", h))
	}
	if m > 0 {
		parts = append(parts, pr.T("web.duration.minutes", m))
	}
	if sec > 0 || len(parts) == 0 {
		parts = append(parts, pr.T("web.duration.seconds", sec))
	}
	return strings.Join(parts, " ")
}

// alarmAct acknowledges, notes or closes an alarm with the form's comment.
func (s *Server) alarmAct(action store.AlarmAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			s.NotFound(w, r)
			return
		}
		comment := r.PostFormValue("comment")
		a := actor(UserOf(r))
		var got store.Alarm
		switch action {
		case store.AlarmAcknowledged:
			got, err = s.alarms.Acknowledge(r.Context(), a, id, comment)
		case store.AlarmClosed:
			got, err = s.alarms.Close(r.Context(), a, id, comment)
		default:
			got, err = s.alarms.Note(r.Context(), a, id, comment)
		}
		if err != nil {
			if m, ok := watch.Message(err); ok && !errors.Is(err, watch.ErrNotFound) {
				status := http.StatusUnprocessableEntity
				if errors.Is(err, watch.ErrForbidden) {
					status = http.StatusForbidden
				}
				s.showAlarm(w, r, status, s.Printer(r).Msg(m), comment)
				return
			}
			s.watchError(w, r, err)
			return
		}
		s.Audit(r, "alarm."+string(action), got.Site, strconv.FormatInt(id, 10), comment)
		http.Redirect(w, r, "/alarms/"+strconv.FormatInt(id, 10)+"?done="+string(action), http.StatusSeeOther)
	}
}

// watchError answers a refusal of package watch: not found (also for what the person may not see) is
// 404, a rule's refusal 403/422 with its message, anything else 500.
func (s *Server) watchError(w http.ResponseWriter, r *http.Request, err error) {
	m, ok := watch.Message(err)
	switch {
	case errors.Is(err, watch.ErrNotFound), errors.Is(err, store.ErrNotFound):
		s.NotFound(w, r)
	case ok && errors.Is(err, watch.ErrForbidden):
		s.Error(w, r, http.StatusForbidden, "web.error.refused", s.Printer(r).Msg(m))
	case ok:
		s.Error(w, r, http.StatusUnprocessableEntity, "web.error.refused", s.Printer(r).Msg(m))
	default:
		s.fail(w, r, err)
	}
}

func alarmTable(pr *i18n.Printer, alarms []store.Alarm) *report.Table {
	l := pr.Lang()
	t := &report.Table{Columns: []report.Column{{Header: pr.T("web.col.id")}, {Header: pr.T("web.col.opened")},
		{Header: pr.T("web.col.warehouse")}, {Header: pr.T("web.col.device")}, {Header: pr.T("web.col.point")},
		{Header: pr.T("web.col.kind")}, {Header: pr.T("web.col.alarm_state")}, {Header: pr.T("web.col.updated")}, {Header: pr.T("web.col.closed")}}}
	for _, a := range alarms {
		t.Rows = append(t.Rows, []report.Cell{report.Int(a.ID), exportTime(a.Opened, l), report.Text(a.Site), report.Text(a.Device),
			report.Text(a.Point), report.Text(alarmKindName(pr, a.Kind)), report.Text(alarmStateName(pr, a.State)),
			exportTime(a.Updated, l), exportTime(a.Closed, l)})
	}
	return t
}

func alarmKindName(pr *i18n.Printer, k store.AlarmKind) string {
	key := "watch.kind." + string(k)
	if !i18n.Has(pr.Lang(), key) {
		return string(k)
	}
	return pr.T(key)
}

func alarmStateName(pr *i18n.Printer, st store.AlarmState) string {
	key := "web.alarm_state." + string(st)
	return pr.T(key)
}
