package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	Detail  []watch.DetailLine // the alarm's detail in the catalogue's words (package watch's, as its exports)
	Problem string             // a refusal to show, already translated
	Comment string
	Done    string // the catalogue key of what was just done ("" when nothing)
	Explain string // what the kind of alarm means, with its article (package watch's text)
	// Mail says whether the console knows of alarm e-mails (a notices service runs); Deliveries are
	// then the alarm's e-mails, one per history entry and recipient.
	Mail       bool
	Deliveries []deliveryLine
}

// deliveryLine is one e-mail about an alarm to one person, as the alarm page shows it.
type deliveryLine struct {
	Name   string // the recipient's name, or its address when no person has it any more
	Role   string // the recipient's role ("" when unknown)
	Action store.AlarmAction
	State  store.OutboxState
	Status string    // the state in the reader's words
	Time   time.Time // when it was sent, or when the next attempt is due (zero: neither)
}

// alarmDeliveries gives the e-mails about alarm id that u may see: customs people see every recipient,
// an operator's people only their own operator's (not the officers' addresses). With no notices service
// there is nothing to show.
func (s *Server) alarmDeliveries(ctx context.Context, pr *i18n.Printer, u *User, id int64, history []store.AlarmEntry) ([]deliveryLine, error) {
	if s.notices == nil {
		return nil, nil
	}
	ds, err := s.notices.AlarmDeliveries(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, nil
	}
	people, err := s.store.People(ctx)
	if err != nil {
		return nil, err
	}
	// notify names a recipient by its address; the person is found by it (addresses are the people's own).
	byEmail := make(map[string]store.Person, len(people))
	for _, p := range people {
		if p.Email != "" {
			byEmail[strings.ToLower(p.Email)] = p
		}
	}
	actions := make(map[int]store.AlarmAction, len(history))
	for _, e := range history {
		actions[e.Seq] = e.Action
	}
	var out []deliveryLine
	for _, d := range ds {
		p, known := byEmail[strings.ToLower(d.Email)]
		if u.Person.Role == store.RoleOperator && (!known || p.Role != store.RoleOperator || p.Operator != u.Person.Operator) {
			continue
		}
		l := deliveryLine{Name: d.Email, Action: actions[d.Rev], State: d.State,
			Status: codeName(pr, "web.delivery.", string(d.State))}
		if known {
			l.Name, l.Role = p.Name, string(p.Role)
		}
		switch {
		case !d.SentAt.IsZero():
			l.Time = d.SentAt
		case d.State == store.OutboxPending:
			l.Time = d.Next
		}
		out = append(out, l)
	}
	return out, nil
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
	d.Detail = watch.DetailLines(s.Printer(r), a)
	d.Mail = s.notices != nil
	if d.Deliveries, err = s.alarmDeliveries(r.Context(), s.Printer(r), UserOf(r), a.ID, h); err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.NewPage(r, "alarm", "web.alarm.title", d)
	p.Nav = "alarms"
	s.RenderPage(w, r, status, p)
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
