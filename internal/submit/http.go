package submit

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/sepi"
	"github.com/akciz/akciz/internal/store"
)

// The API's paths (docs/openapi-submissions.yaml).
const (
	SepiListsPath    = "/api/v1/sepi/lists"
	SepiProductsPath = "/api/v1/sepi/products"
	SepiFlagsPath    = "/api/v1/sepi/flags"
	EnergyFilesPath  = "/api/v1/energy/files"
	EnergyRowsPath   = "/api/v1/energy/rows"
)

// XLSXType is the media type of an XLSX workbook.
const XLSXType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Identify names the operator (EIK) of a request: on akciz server, its TLS client certificate's.
type Identify func(*http.Request) (string, error)

// Routes adds the submissions API to mux. Every request is the operator's identify names, and sees
// only that operator's submissions.
func (s *Service) Routes(mux *http.ServeMux, identify Identify, logger *log.Logger) {
	h := &api{s: s, identify: identify, logger: logger}
	mux.HandleFunc("POST "+SepiListsPath, h.operator(h.postSepi))
	mux.HandleFunc("GET "+SepiListsPath, h.operator(h.report(s.SepiLists)))
	mux.HandleFunc("GET "+SepiListsPath+"/{number}/barcodes", h.operator(h.report(s.SepiBarcodes)))
	mux.HandleFunc("GET "+SepiProductsPath, h.operator(h.report(s.SepiProducts)))
	mux.HandleFunc("GET "+SepiFlagsPath, h.operator(h.report(s.SepiFlags)))
	mux.HandleFunc("POST "+EnergyFilesPath, h.operator(h.postEnergy))
	mux.HandleFunc("GET "+EnergyFilesPath, h.operator(h.report(s.EnergyFiles)))
	mux.HandleFunc("GET "+EnergyRowsPath, h.operator(h.report(s.EnergyRows)))
}

type api struct {
	s        *Service
	identify Identify
	logger   *log.Logger
}

func (h *api) logf(format string, args ...any) {
	if h.logger != nil {
		h.logger.Printf(format, args...)
	}
}

type operatorKey struct{}

// operator identifies the request's operator or answers 403.
func (h *api) operator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := h.identify(r)
		if err == nil && op == "" {
			// An empty operator would select every operator's submissions (the officers' view).
			err = errors.New("no operator")
		}
		if err != nil {
			h.fail(w, r, http.StatusForbidden, i18n.M("submit.http.unidentified"), err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)))
	}
}

func operatorOf(r *http.Request) string { s, _ := r.Context().Value(operatorKey{}).(string); return s }

// Printer is the language of the answer: ?lang=, else Accept-Language; Bulgarian by default.
func Printer(r *http.Request) *i18n.Printer {
	if l := r.URL.Query().Get("lang"); l != "" {
		return i18n.For(i18n.Parse(l))
	}
	return i18n.For(i18n.Parse(r.Header.Get("Accept-Language")))
}

// problem is the JSON body of an answer that is not a result.
type problem struct {
	Message string `json:"message"`
}

func (h *api) fail(w http.ResponseWriter, r *http.Request, status int, m i18n.Message, cause error) {
	if cause != nil {
		h.logf("%s %s: %v", r.Method, r.URL.Path, cause)
	}
	writeJSON(w, status, problem{Message: Printer(r).Msg(m)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// contentDigest reads an RFC 9530 Content-Digest's sha-256 (nil when absent); ok is false when it is
// malformed.
func contentDigest(r *http.Request) (*[32]byte, bool) {
	v := r.Header.Get("Content-Digest")
	if v == "" {
		return nil, true
	}
	for _, part := range strings.Split(v, ",") {
		k, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found || strings.ToLower(k) != "sha-256" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
		if err != nil || len(b) != 32 {
			return nil, false
		}
		var d [32]byte
		copy(d[:], b)
		return &d, true
	}
	return nil, true
}

// Finding is one error or flag of a submission, as the API and the web pages give it.
type Finding struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// SepiReply is the API's answer to a barcode list.
type SepiReply struct {
	Status    Status    `json:"status"`
	Number    string    `json:"number"`
	SHA256    string    `json:"sha256"`
	Bytes     int64     `json:"bytes"`
	Barcodes  int64     `json:"barcodes"`
	Duplicate bool      `json:"duplicate"`
	Flagged   int       `json:"flagged"`
	Flags     []Finding `json:"flags"`
	Errors    []Finding `json:"errors"`
	Omitted   int       `json:"omitted"`
	Message   string    `json:"message"`
}

// SepiReplyOf gives the outcome in p's language.
func SepiReplyOf(p *i18n.Printer, o *SepiOutcome) SepiReply {
	res := o.Result
	rep := SepiReply{Status: o.Status, Number: res.Number, SHA256: hex.EncodeToString(res.SHA256[:]), Bytes: res.Bytes,
		Duplicate: o.Status == Duplicate, Flags: []Finding{}, Errors: []Finding{}, Omitted: res.Omitted}
	for _, e := range res.Errors {
		rep.Errors = append(rep.Errors, Finding{Line: e.Line, Column: e.Col, Rule: e.Rule, Message: sepi.Text(p, e.Msg)})
	}
	for _, f := range res.Flags {
		if f.Prior.Operator != "" && f.Prior.Operator != o.List.Operator {
			// Another obligated person's list is not this operator's business: the officers see its
			// number in the flags report, the operator only that it was another's.
			f.Prior.List = p.T("submit.sepi.other_list")
		}
		rep.Flags = append(rep.Flags, Finding{Line: f.Line, Column: f.Col, Rule: f.Rule(), Message: sepi.Text(p, f.Message())})
	}
	rep.Flagged = len(res.Flags)
	switch o.Status {
	case Accepted:
		rep.Barcodes = o.List.Barcodes
		rep.Message = p.T("submit.sepi.accepted", res.Number, o.List.Barcodes, len(res.Flags))
	case Duplicate:
		rep.Barcodes = o.List.Barcodes
		rep.Message = p.T("submit.sepi.duplicate", res.Number)
	default:
		rep.Message = p.T("submit.sepi.refused", len(res.Errors)+res.Omitted)
	}
	return rep
}

func (h *api) postSepi(w http.ResponseWriter, r *http.Request) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/xml" && ct != "text/xml" {
		h.fail(w, r, http.StatusUnsupportedMediaType, i18n.M("submit.http.sepi_type"), nil)
		return
	}
	want, ok := contentDigest(r)
	if !ok {
		h.fail(w, r, http.StatusBadRequest, i18n.M("submit.http.bad_digest"), nil)
		return
	}
	// sepi.Parse stops at its own limit (512 MiB) and says so; the reader bound here only keeps a
	// client from streaming on for ever after that.
	extendDeadlines(w, sepiDeadline)
	body := http.MaxBytesReader(w, r.Body, sepi.DefaultMaxBytes+1)
	o, err := h.s.ImportSepi(r.Context(), operatorOf(r), body, want)
	if err != nil {
		h.importFailed(w, r, err)
		return
	}
	status := map[Status]int{Accepted: http.StatusCreated, Duplicate: http.StatusOK, Refused: http.StatusUnprocessableEntity}[o.Status]
	writeJSON(w, status, SepiReplyOf(Printer(r), o))
}

// How long an upload may take, body and answer: the intake's listener gives a request minutes (its
// batches are small); 0.5 GB over a slow line, then checked and staged, needs more.
const (
	sepiDeadline   = 30 * time.Minute
	energyDeadline = time.Hour
)

// extendDeadlines lets this request read and answer for d (where the server supports it).
func extendDeadlines(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(d))
	rc.SetWriteDeadline(time.Now().Add(d))
}

func (h *api) importFailed(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrDigest):
		h.fail(w, r, http.StatusBadRequest, i18n.M("submit.http.digest_mismatch"), nil)
	case errors.As(err, &tooBig):
		h.fail(w, r, http.StatusRequestEntityTooLarge, i18n.M("submit.http.too_large", tooBig.Limit-1), nil)
	case r.Context().Err() != nil:
		// The client went away: nobody to answer.
		h.logf("%s %s: %v", r.Method, r.URL.Path, err)
	default:
		h.fail(w, r, http.StatusInternalServerError, i18n.M("submit.http.internal"), err)
	}
}

// EnergyReply is the API's answer to an energy table.
type EnergyReply struct {
	Status        Status        `json:"status"`
	ID            int64         `json:"id,omitempty"`
	Key           string        `json:"key,omitempty"`
	SHA256        string        `json:"sha256"`
	Size          int64         `json:"size"`
	Duplicate     bool          `json:"duplicate"`
	Declarant     string        `json:"declarant_eik,omitempty"`
	Product       string        `json:"product,omitempty"`
	Quarter       string        `json:"quarter,omitempty"`
	Unit          string        `json:"unit,omitempty"`
	Declared      *EnergyTotals `json:"declared,omitempty"`
	Computed      *EnergyTotals `json:"computed,omitempty"`
	Rows          int64         `json:"rows"`
	Errors        []Finding     `json:"errors"`
	ErrorsOmitted int           `json:"errors_omitted"`
	Message       string        `json:"message"`
}

// EnergyTotals are totals as decimal strings in MWh or m³, exact.
type EnergyTotals struct {
	All             string `json:"all"`
	Household       string `json:"household"`
	Business        string `json:"business"`
	SelfConsumption string `json:"self_consumption"`
}

func energyTotals(product string, t store.EnergyTotals) *EnergyTotals {
	p := energy.Product(product)
	f := func(v int64) string { return energy.Quantity(v).Format(p, '.') }
	return &EnergyTotals{All: f(t.All), Household: f(t.Household), Business: f(t.Business), SelfConsumption: f(t.SelfConsumption)}
}

// EnergyReplyOf gives the outcome in p's language.
func EnergyReplyOf(p *i18n.Printer, o *EnergyOutcome) EnergyReply {
	rep := EnergyReply{Status: o.Status, SHA256: hex.EncodeToString(o.SHA256[:]), Size: o.Size,
		Duplicate: o.Status == Duplicate, Errors: []Finding{}}
	if o.Status == Refused {
		n := 0
		if e := o.Errors; e != nil {
			for _, x := range e.List {
				rep.Errors = append(rep.Errors, Finding{Line: x.Line, Column: x.Column, Field: x.Field, Rule: x.Msg.Key,
					Message: x.Text(p, e.Kind)})
			}
			rep.ErrorsOmitted, n = e.Omitted, len(e.List)+e.Omitted
		}
		rep.Message = p.T("submit.energy.refused", n)
		return rep
	}
	f := o.File
	rep.ID, rep.Declarant, rep.Product, rep.Quarter, rep.Rows = f.ID, f.DeclarantEIK, f.Product, f.Quarter, f.Rows
	rep.Key = f.DeclarantEIK + "/" + f.Product + "/" + f.Quarter + "/" + rep.SHA256
	rep.Unit = energy.Product(f.Product).Unit()
	rep.Declared, rep.Computed = energyTotals(f.Product, f.Declared), energyTotals(f.Product, f.Computed)
	if o.Status == Duplicate {
		rep.Message = p.T("submit.energy.duplicate", f.Quarter, f.ID)
	} else {
		rep.Message = p.T("submit.energy.accepted", f.Quarter, f.Rows, rep.Computed.All, rep.Unit)
	}
	return rep
}

// EnergyName gives the name of an uploaded table: ?name=, else by its media type.
func EnergyName(r *http.Request) string {
	if n := path.Base(r.URL.Query().Get("name")); n != "." && n != "/" && n != "" {
		return n
	}
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
	case XLSXType:
		return "upload.xlsx"
	case "text/tab-separated-values":
		return "upload.tsv"
	}
	return "upload.csv"
}

func (h *api) postEnergy(w http.ResponseWriter, r *http.Request) {
	want, ok := contentDigest(r)
	if !ok {
		h.fail(w, r, http.StatusBadRequest, i18n.M("submit.http.bad_digest"), nil)
		return
	}
	if r.ContentLength > energy.MaxFileSize {
		h.fail(w, r, http.StatusRequestEntityTooLarge, i18n.M("submit.http.too_large", int64(energy.MaxFileSize)), nil)
		return
	}
	extendDeadlines(w, energyDeadline)
	body := http.MaxBytesReader(w, r.Body, energy.MaxFileSize+1)
	o, err := h.s.ImportEnergy(r.Context(), operatorOf(r), EnergyName(r), body, want, nil)
	if err != nil {
		h.importFailed(w, r, err)
		return
	}
	status := map[Status]int{Accepted: http.StatusCreated, Duplicate: http.StatusOK, Refused: http.StatusUnprocessableEntity}[o.Status]
	writeJSON(w, status, EnergyReplyOf(Printer(r), o))
}

// ParseQuery reads a report's query from a request's parameters: point, kind, from, to (RFC 3339 or a
// date), number (or the path's {number}), product, quarter, file, meter, eik, limit.
func ParseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{Point: v.Get("point"), Kind: v.Get("kind"), Number: v.Get("number"), Product: v.Get("product"),
		Quarter: v.Get("quarter"), MeterID: v.Get("meter"), ConsumerEIK: v.Get("eik")}
	if n := r.PathValue("number"); n != "" {
		q.Number = n
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(t.name)
		if s == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			tm, err = time.Parse(time.DateOnly, s)
		}
		if err != nil {
			return q, fmt.Errorf("%s=%q: %w", t.name, s, err)
		}
		*t.to = tm
	}
	for _, n := range []struct {
		name string
		to   func(int64)
	}{{"file", func(x int64) { q.File = x }}, {"limit", func(x int64) { q.Limit = int(x) }}} {
		s := v.Get(n.name)
		if s == "" {
			continue
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || x < 0 {
			return q, fmt.Errorf("%s=%q: not a number", n.name, s)
		}
		n.to(x)
	}
	return q, nil
}

// WriteReport writes rep as format: json (the default), csv or xlsx.
func WriteReport(w http.ResponseWriter, rep *Report, format, name string) error {
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		return report.CSVTable(w, rep.Doc.Sections[0].Blocks[0].(*report.Table), report.ExcelBG)
	case "xlsx":
		w.Header().Set("Content-Type", XLSXType)
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
		return report.XLSX(w, rep.Doc)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return rep.WriteJSON(w)
}

func (h *api) report(build func(context.Context, *i18n.Printer, Query) (*Report, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseQuery(r)
		if err != nil {
			h.fail(w, r, http.StatusBadRequest, i18n.M("submit.http.bad_query", err.Error()), nil)
			return
		}
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "csv" && format != "xlsx" {
			h.fail(w, r, http.StatusBadRequest, i18n.M("submit.http.bad_format", format), nil)
			return
		}
		q.Operator = operatorOf(r)
		rep, err := build(r.Context(), Printer(r), q)
		if errors.Is(err, store.ErrNotFound) {
			h.fail(w, r, http.StatusNotFound, i18n.M("submit.http.not_found"), nil)
			return
		}
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, i18n.M("submit.http.internal"), err)
			return
		}
		name := strings.TrimPrefix(strings.ReplaceAll(r.URL.Path, "/", "-"), "-api-v1-")
		if err := WriteReport(w, rep, format, name); err != nil {
			// The status is sent: the client sees a cut body.
			h.logf("%s %s: %v", r.Method, r.URL.Path, err)
		}
	}
}
