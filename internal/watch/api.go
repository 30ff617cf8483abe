package watch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/workday"
)

// API serves the watch endpoints to operators on the intake's mutual-TLS listener (docs/openapi-watch.yaml).
// The client certificate names the operator; an operator sees and acts on its own sites only.
type API struct {
	// Identify gives the operator EIK of the request's client certificate (ingest.Server.Identify).
	Identify func(r *http.Request) (string, error)

	Store       store.Store
	Alarms      *Alarms
	Lifecycle   *Lifecycle
	Configs     *Configs
	Queries     *Queries
	Comparisons *Comparisons
	Clock       Clock
}

// NewAPI gives the API with its parts over st.
func NewAPI(st store.Store, identify func(*http.Request) (string, error), decode Decoder, clock Clock, n Notifier) *API {
	if clock == nil {
		clock = SystemClock{}
	}
	return &API{Identify: identify, Store: st, Alarms: NewAlarms(st, clock, n), Lifecycle: NewLifecycle(st, clock),
		Configs: NewConfigs(st, clock, nil), Queries: NewQueries(st, decode), Comparisons: NewComparisons(st, decode, clock),
		Clock: clock}
}

// Prefix is where the watch endpoints live.
const Prefix = "/api/v1/watch/"

// MaxJSONBody bounds a JSON request body.
const MaxJSONBody = 64 << 10

// handler is an endpoint's function: it acts for a, answers in p's language, and returns a refusal for
// the problem document.
type handler func(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error

// route is one endpoint: its ServeMux pattern and its handler.
type route struct {
	pattern string
	fn      handler
}

// routes are the endpoints (each in docs/openapi-watch.yaml).
func (x *API) routes() []route {
	return []route{
		{"GET " + Prefix + "sites", x.sites},
		{"GET " + Prefix + "alarms", x.alarms},
		{"GET " + Prefix + "alarms/{id}", x.alarm},
		{"POST " + Prefix + "alarms/{id}/{action}", x.alarmAction},
		{"GET " + Prefix + "sites/{site}/moves", x.moves},
		{"POST " + Prefix + "sites/{site}/moves", x.move},
		{"GET " + Prefix + "sites/{site}/configs", x.configs},
		{"POST " + Prefix + "sites/{site}/configs", x.upload},
		{"GET " + Prefix + "sites/{site}/notices", x.notices},
		{"GET " + Prefix + "sites/{site}/readings", x.readings},
		{"GET " + Prefix + "sites/{site}/transactions", x.transactions},
		{"GET " + Prefix + "sites/{site}/events", x.events},
		{"GET " + Prefix + "sites/{site}/totals", x.totals},
		{"POST " + Prefix + "sites/{site}/test-data", x.testData},
		{"GET " + Prefix + "sites/{site}/comparisons", x.comparisons},
		{"GET " + Prefix + "comparisons/{id}", x.comparison},
	}
}

// Register adds the endpoints to mux.
func (x *API) Register(mux *http.ServeMux) {
	for _, rt := range x.routes() {
		fn := rt.fn
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			p := i18n.For(language(r))
			eik, err := x.Identify(r)
			if err != nil {
				writeProblem(w, p, http.StatusForbidden, "forbidden", p.T("watch.api.no_identity", err.Error()))
				return
			}
			a := Actor{Who: clientName(r, eik), Role: store.RoleOperator, Operator: eik}
			if err := fn(w, r, a, p); err != nil {
				fail(w, p, err)
			}
		})
	}
}

// language is the first language of Accept-Language that we speak, Bulgarian otherwise.
func language(r *http.Request) i18n.Lang {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "bg"):
			return i18n.BG
		case strings.HasPrefix(tag, "en"):
			return i18n.EN
		}
	}
	return i18n.BG
}

// clientName is who acted, for the histories: the certificate's subject and the operator's EIK.
func clientName(r *http.Request, eik string) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0].Subject.String() + " (" + eik + ")"
	}
	return eik
}

// problem is an RFC 9457 problem, as the intake's.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

func writeProblem(w http.ResponseWriter, p *i18n.Printer, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{Type: "urn:akciz:problem:" + code, Title: name(p, "watch.api.code.", code),
		Status: status, Detail: detail, Code: code})
}

func fail(w http.ResponseWriter, p *i18n.Printer, err error) {
	m, ok := Message(err)
	if !ok {
		writeProblem(w, p, http.StatusInternalServerError, "internal", p.T("watch.api.internal"))
		return
	}
	status, code := http.StatusBadRequest, "invalid"
	switch {
	case errors.Is(err, ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrNotFound):
		status, code = http.StatusNotFound, "not-found"
	case errors.Is(err, ErrRefused):
		status, code = http.StatusConflict, "refused"
	}
	writeProblem(w, p, status, code, p.Msg(m))
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// readJSON decodes a body of at most MaxJSONBody bytes into v; unknown fields and trailing data are
// refused, with the decoder's words (which name the field or the offset).
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxJSONBody+1))
	if err != nil {
		return refuse(ErrInvalid, "watch.api.bad_body", err.Error())
	}
	if len(b) > MaxJSONBody {
		return refuse(ErrInvalid, "watch.api.body_too_large", MaxJSONBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse(ErrInvalid, "watch.api.bad_json", err.Error())
	}
	if dec.More() {
		return refuse(ErrInvalid, "watch.api.bad_json", "more than one JSON value")
	}
	return nil
}

// MaxAlarmsPage is the most alarms one request lists (parameter limit; offset pages on).
const MaxAlarmsPage = 10000

// intParam reads a whole-number query parameter in [least, most]; def when absent.
func intParam(s, field string, def, least, most int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < least || n > most {
		return 0, refuse(ErrInvalid, "watch.api.bad_number", field, s, least, most)
	}
	return n, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, refuse(ErrInvalid, "watch.api.bad_id", r.PathValue("id"))
	}
	return id, nil
}

// parseTime reads a query time: RFC 3339, or a date YYYY-MM-DD meaning its midnight in Bulgarian time.
func parseTime(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := workday.Parse(s); err == nil {
		return d.Start().UTC(), nil
	}
	return time.Time{}, refuse(ErrInvalid, "watch.api.bad_time", field, s)
}

func query(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{Site: r.PathValue("site"), Device: v.Get("device"), Point: v.Get("point"), Test: v.Get("test") == "true"}
	var err error
	if q.From, err = parseTime("from", v.Get("from")); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", v.Get("to")); err != nil {
		return q, err
	}
	return q, nil
}

// format is the response format a request asks for: json (default), csv or xlsx (pdf where offered).
func format(r *http.Request, pdf bool) (string, error) {
	f := r.URL.Query().Get("format")
	switch f {
	case "", "json":
		return "json", nil
	case "csv", "xlsx":
		return f, nil
	case "pdf":
		if pdf {
			return f, nil
		}
	}
	return "", refuse(ErrInvalid, "watch.api.bad_format", f)
}

// render writes d as CSV or XLSX (or PDF), for a download named name.
func render(w http.ResponseWriter, d *report.Document, f, name string) error {
	switch f {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	case "pdf":
		w.Header().Set("Content-Type", "application/pdf")
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, name, f))
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch f {
	case "csv":
		err = report.CSV(bw, d, report.CSVOptions{})
	case "xlsx":
		err = report.XLSX(bw, d)
	case "pdf":
		err = report.PDF(bw, d)
	}
	if err != nil {
		// The status may be sent already and cannot change: what is buffered is dropped, the client gets a
		// cut file rather than a problem glued to rows (a known limit of streaming a document).
		return nil
	}
	return bw.Flush()
}

func (x *API) sites(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	ss, err := x.Queries.Sites(r.Context(), a)
	if err != nil {
		return err
	}
	type siteJSON struct {
		Warehouse     string   `json:"warehouse"`
		Name          string   `json:"name"`
		CustomsOffice string   `json:"customsOffice"`
		State         string   `json:"state"`
		Moves         []string `json:"moves"` // the states this operator may move it to
	}
	out := []siteJSON{}
	for _, s := range ss {
		moves := []string{}
		for _, m := range Moves(a, s.State) {
			moves = append(moves, string(m))
		}
		out = append(out, siteJSON{s.Warehouse, s.Name, s.CustomsOffice, string(s.State), moves})
	}
	return writeJSON(w, http.StatusOK, out)
}

// alarmJSON is an alarm as the API gives it, with its kind and state in the request's language.
type alarmJSON struct {
	store.Alarm
	KindText  string `json:"kindText"`
	StateText string `json:"stateText"`
}

func alarmOut(p *i18n.Printer, a store.Alarm) alarmJSON {
	if a.Detail == nil {
		a.Detail = map[string]string{}
	}
	return alarmJSON{Alarm: a, KindText: name(p, "watch.kind.", string(a.Kind)), StateText: name(p, "watch.state.", string(a.State))}
}

func (x *API) alarms(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	v := r.URL.Query()
	f := store.AlarmFilter{Site: v.Get("site"), Point: v.Get("point")}
	for _, s := range v["state"] {
		if !store.AlarmState(s).Valid() {
			return refuse(ErrInvalid, "watch.api.bad_value", "state", s)
		}
		f.States = append(f.States, store.AlarmState(s))
	}
	for _, k := range v["kind"] {
		if !store.AlarmKind(k).Valid() {
			return refuse(ErrInvalid, "watch.api.bad_value", "kind", k)
		}
		f.Kinds = append(f.Kinds, store.AlarmKind(k))
	}
	var err error
	if s := v.Get("from"); s != "" {
		if f.Since, err = parseTime("from", s); err != nil {
			return err
		}
	}
	if s := v.Get("to"); s != "" {
		if f.Until, err = parseTime("to", s); err != nil {
			return err
		}
	}
	fm, err := format(r, false)
	if err != nil {
		return err
	}
	if f.Limit, err = intParam(v.Get("limit"), "limit", MaxAlarmsPage, 1, MaxAlarmsPage); err != nil {
		return err
	}
	if f.Offset, err = intParam(v.Get("offset"), "offset", 0, 0, math.MaxInt32); err != nil {
		return err
	}
	as, err := x.Alarms.List(r.Context(), a, f)
	if err != nil {
		return err
	}
	if fm != "json" {
		return render(w, AlarmsDocument(as, p.Lang(), x.Clock.Now()), fm, "alarms")
	}
	out := make([]alarmJSON, len(as))
	for i, al := range as {
		out[i] = alarmOut(p, al)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (x *API) alarm(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	al, h, err := x.Alarms.Get(r.Context(), a, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Alarm   alarmJSON          `json:"alarm"`
		History []store.AlarmEntry `json:"history"`
	}{alarmOut(p, al), h})
}

func (x *API) alarmAction(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body struct {
		Comment string `json:"comment"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	var act func(context.Context, Actor, int64, string) (store.Alarm, error)
	switch r.PathValue("action") {
	case "acknowledge":
		act = x.Alarms.Acknowledge
	case "close":
		act = x.Alarms.Close
	case "note":
		act = x.Alarms.Note
	default:
		return refuse(ErrNotFound, "watch.api.bad_action", r.PathValue("action"))
	}
	al, err := act(r.Context(), a, id, body.Comment)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, alarmOut(p, al))
}

func (x *API) moves(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	ms, err := x.Lifecycle.History(r.Context(), a, r.PathValue("site"))
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []store.SiteMove{}
	}
	return writeJSON(w, http.StatusOK, ms)
}

func (x *API) move(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	var body struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	m, err := x.Lifecycle.Move(r.Context(), a, r.PathValue("site"), store.SiteState(body.To), body.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, m)
}

func (x *API) configs(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	vs, err := x.Configs.Versions(r.Context(), a, r.PathValue("site"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []store.ConfigVersion{}
	}
	return writeJSON(w, http.StatusOK, vs)
}

func (x *API) upload(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, config.MaxFileSize+1))
	if err != nil {
		return refuse(ErrInvalid, "watch.api.bad_body", err.Error())
	}
	var opt UploadOptions
	if s := r.URL.Query().Get("firstUse"); s != "" {
		if opt.FirstUse, err = workday.Parse(s); err != nil {
			return refuse(ErrInvalid, "watch.api.bad_time", "firstUse", s)
		}
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "automation_config.xml"
	}
	v, err := x.Configs.Upload(r.Context(), a, r.PathValue("site"), name, data, opt)
	if err != nil {
		return err
	}
	v.File = nil
	status := http.StatusCreated
	if v.Verdict == store.ConfigRefused {
		status = http.StatusUnprocessableEntity
	}
	return writeJSON(w, status, v)
}

func (x *API) notices(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	if _, err := site(r.Context(), x.Store, a, r.PathValue("site")); err != nil {
		return err
	}
	ns, err := x.Store.ProductNotices(r.Context(), store.ProductNoticeFilter{Site: r.PathValue("site"),
		Owed: r.URL.Query().Get("owed") == "true"})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if ns == nil {
		ns = []store.ProductNotice{}
	}
	return writeJSON(w, http.StatusOK, ns)
}

// stream writes rows as a JSON array as they come, or the document as CSV/XLSX.
func stream[T any](w http.ResponseWriter, r *http.Request, walk func(fn func(T) error) error,
	doc func() (*report.Document, error), name string) error {
	f, err := format(r, false)
	if err != nil {
		return err
	}
	if f != "json" {
		d, err := doc()
		if err != nil {
			return err
		}
		return render(w, d, f, name)
	}
	// The first row decides the status: a refusal (checked before any row) is still a problem.
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	n := 0
	err = walk(func(v T) error {
		if n == 0 {
			w.Header().Set("Content-Type", "application/json")
			bw.WriteString("[")
		} else {
			bw.WriteString(",")
		}
		n++
		return enc.Encode(v)
	})
	if err != nil && n == 0 {
		return err
	}
	if err != nil {
		// Rows were sent with status 200: the array is left unclosed, so that no client takes the cut
		// list for the whole one.
		bw.Flush()
		return nil
	}
	if n == 0 {
		w.Header().Set("Content-Type", "application/json")
		bw.WriteString("[")
	}
	bw.WriteString("]\n")
	return bw.Flush()
}

func (x *API) readings(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	return stream(w, r, func(fn func(ReadingRow) error) error { return x.Queries.Readings(r.Context(), a, q, fn) },
		func() (*report.Document, error) { return x.Queries.ReadingsDocument(r.Context(), a, q, p.Lang()) }, "readings")
}

func (x *API) transactions(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	return stream(w, r, func(fn func(TransactionRow) error) error { return x.Queries.Transactions(r.Context(), a, q, fn) },
		func() (*report.Document, error) { return x.Queries.TransactionsDocument(r.Context(), a, q, p.Lang()) }, "transactions")
}

func (x *API) events(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	return stream(w, r, func(fn func(EventRow) error) error { return x.Queries.Events(r.Context(), a, q, fn) },
		func() (*report.Document, error) { return x.Queries.EventsDocument(r.Context(), a, q, p.Lang()) }, "events")
}

func (x *API) totals(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	per := Period(r.URL.Query().Get("period"))
	if per == "" {
		per = Daily
	}
	f, err := format(r, false)
	if err != nil {
		return err
	}
	if f != "json" {
		d, err := x.Queries.TotalsDocument(r.Context(), a, q, per, p.Lang())
		if err != nil {
			return err
		}
		return render(w, d, f, "totals")
	}
	rows, err := x.Queries.Totals(r.Context(), a, q, per)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rows)
}

func (x *API) testData(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	values, err := ParseTestValues(r.Body)
	if err != nil {
		return err
	}
	c, err := x.Comparisons.TestData(r.Context(), a, r.PathValue("site"), values)
	if err != nil {
		return err
	}
	return x.writeComparison(w, r, p, c, http.StatusCreated)
}

func (x *API) comparisons(w http.ResponseWriter, r *http.Request, a Actor, _ *i18n.Printer) error {
	cs, err := x.Comparisons.List(r.Context(), a, r.PathValue("site"))
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []store.Comparison{}
	}
	return writeJSON(w, http.StatusOK, cs)
}

func (x *API) comparison(w http.ResponseWriter, r *http.Request, a Actor, p *i18n.Printer) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := x.Comparisons.Get(r.Context(), a, id)
	if err != nil {
		return err
	}
	return x.writeComparison(w, r, p, c, http.StatusOK)
}

func (x *API) writeComparison(w http.ResponseWriter, r *http.Request, p *i18n.Printer, c store.Comparison, status int) error {
	f, err := format(r, true)
	if err != nil {
		return err
	}
	if f == "json" {
		return writeJSON(w, status, c)
	}
	s, err := x.Store.Site(r.Context(), c.Site)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return render(w, ComparisonDocument(c, s, p.Lang(), f == "pdf"), f, fmt.Sprintf("comparison-%d", c.ID))
}
