package web

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/submit"
)

// uploadRoutes adds the pages of the file submissions: SEPI barcode lists (чл. 40–42) and the energy
// tables (чл. 22–24) (owned by the submissions work; see README.md for how to add a page). An operator
// uploads its own files here and sees what it has filed; the same checks as the API's apply
// (internal/submit), and a refused file is shown with every error and its line.
func (s *Server) uploadRoutes(mux *http.ServeMux) {
	if s.submissions == nil {
		return
	}
	all := []store.Role{store.RoleOperator, store.RoleOfficer, store.RoleAdmin}
	mux.Handle("GET /uploads", s.Page(s.Only(s.uploadsPage, all...)))
	mux.Handle("POST /uploads/sepi", s.Action(s.Only(s.uploadSepi, store.RoleOperator)))
	mux.Handle("POST /uploads/energy", s.Action(s.Only(s.uploadEnergy, store.RoleOperator)))
	mux.Handle("GET /uploads/reports/{report}", s.Page(s.Only(s.uploadReport, all...)))
	s.AddMenu("uploads", "/uploads", "submit.web.nav", all...)
}

// uploadScope is what of the submissions a person sees: an operator its own; an officer the barcode
// lists of its customs office's sites (a list names its control point, and so its warehouse) and no
// energy table (a seller of electricity or gas has no site the console knows); an administrator all.
type uploadScope struct {
	operator   string
	warehouses []string // nil: not limited
	energy     bool
}

func (s *Server) uploadScope(r *http.Request) (uploadScope, error) {
	u := UserOf(r)
	switch u.Person.Role {
	case store.RoleOperator:
		if u.Person.Operator == "" {
			// An operator's account not (yet) tied to its operator sees nothing: an empty operator
			// would select every operator's submissions.
			return uploadScope{warehouses: []string{}}, nil
		}
		return uploadScope{operator: u.Person.Operator, energy: true}, nil
	case store.RoleAdmin:
		return uploadScope{energy: true}, nil
	}
	sites, err := s.VisibleSites(r.Context(), u)
	if err != nil {
		return uploadScope{}, err
	}
	sc := uploadScope{warehouses: []string{}}
	for _, site := range sites {
		sc.warehouses = append(sc.warehouses, site.Warehouse)
	}
	return sc, nil
}

// uploadsData is the data of the uploads page: what the operator filed before.
type uploadsData struct {
	Lists    []store.SepiList
	Files    []store.EnergyFile
	MaxMiB   int64 // the largest upload the console takes
	Energy   bool  // the person may see energy tables
	Operator bool  // the person files (and sees only its own)
}

// recentUploads bounds the lists and files shown.
const recentUploads = 50

func (s *Server) uploadsPage(w http.ResponseWriter, r *http.Request) {
	sc, err := s.uploadScope(r)
	if err != nil {
		s.Fail(w, r, err)
		return
	}
	lists, err := s.store.SepiLists(r.Context(), store.SepiFilter{Operator: sc.operator, Warehouses: sc.warehouses})
	if err != nil {
		s.Fail(w, r, err)
		return
	}
	var files []store.EnergyFile
	if sc.energy {
		if files, err = s.store.EnergyFiles(r.Context(), store.EnergyFilter{Operator: sc.operator}); err != nil {
			s.Fail(w, r, err)
			return
		}
	}
	// Newest first, the last few.
	reverse(lists)
	reverse(files)
	d := uploadsData{Lists: lists[:min(len(lists), recentUploads)], Files: files[:min(len(files), recentUploads)],
		MaxMiB: s.cfg.MaxForm >> 20, Energy: sc.energy, Operator: sc.operator != ""}
	p := s.NewPage(r, "uploads", "submit.web.title", d)
	p.Nav = "uploads"
	s.RenderPage(w, r, http.StatusOK, p)
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// uploadResult is the data of the result page of one upload.
type uploadResult struct {
	What     string // "sepi" or "energy"
	File     string // the file's name as uploaded
	Status   submit.Status
	Message  string
	SHA256   string
	Findings []submit.Finding // errors of a refused file, each with its line; flags of an accepted list
	Omitted  int
	Sepi     *submit.SepiReply
	Energy   *submit.EnergyReply
}

// uploadedFile gives the form's file.
func uploadedFile(r *http.Request) (multipart.File, *multipart.FileHeader, error) {
	if r.MultipartForm == nil {
		return nil, nil, fmt.Errorf("no multipart form")
	}
	return r.FormFile("file")
}

func (s *Server) uploadSepi(w http.ResponseWriter, r *http.Request) {
	f, h, err := uploadedFile(r)
	if err != nil {
		s.Error(w, r, http.StatusBadRequest, "submit.web.no_file")
		return
	}
	defer f.Close()
	o, err := s.submissions.ImportSepi(r.Context(), UserOf(r).Person.Operator, f, nil)
	if err != nil {
		s.Fail(w, r, err)
		return
	}
	rep := submit.SepiReplyOf(s.Printer(r), o)
	res := uploadResult{What: "sepi", File: h.Filename, Status: o.Status, Message: rep.Message, SHA256: rep.SHA256,
		Findings: rep.Errors, Omitted: rep.Omitted, Sepi: &rep}
	if o.Status != submit.Refused {
		res.Findings = rep.Flags
	}
	if o.Status == submit.Accepted {
		s.Audit(r, "submit.sepi", "", o.List.Number, fmt.Sprintf("sha256=%s barcodes=%d flagged=%d", rep.SHA256, o.List.Barcodes, o.List.Flagged))
	}
	s.renderUpload(w, r, res)
}

func (s *Server) uploadEnergy(w http.ResponseWriter, r *http.Request) {
	f, h, err := uploadedFile(r)
	if err != nil {
		s.Error(w, r, http.StatusBadRequest, "submit.web.no_file")
		return
	}
	defer f.Close()
	o, err := s.submissions.ImportEnergy(r.Context(), UserOf(r).Person.Operator, h.Filename, f, nil, nil)
	if err != nil {
		s.Fail(w, r, err)
		return
	}
	rep := submit.EnergyReplyOf(s.Printer(r), o)
	res := uploadResult{What: "energy", File: h.Filename, Status: o.Status, Message: rep.Message, SHA256: rep.SHA256,
		Findings: rep.Errors, Omitted: rep.ErrorsOmitted, Energy: &rep}
	if o.Status == submit.Accepted {
		s.Audit(r, "submit.energy", "", rep.Key, fmt.Sprintf("file=%d rows=%d total=%s %s", o.File.ID, o.File.Rows, rep.Computed.All, rep.Unit))
	}
	s.renderUpload(w, r, res)
}

// uploadReport sends one of the reports on the operator's submissions as CSV or XLSX (format=), with the
// query parameters of the API's (submit.ParseQuery): the operator is always the person's.
func (s *Server) uploadReport(w http.ResponseWriter, r *http.Request) {
	sc, err := s.uploadScope(r)
	if err != nil {
		s.Fail(w, r, err)
		return
	}
	name := r.PathValue("report")
	build, ok := map[string]func(context.Context, *i18n.Printer, submit.Query) (*submit.Report, error){
		"sepi-lists":    s.submissions.SepiLists,
		"sepi-products": s.submissions.SepiProducts,
		"sepi-flags":    s.submissions.SepiFlags,
		"sepi-barcodes": s.submissions.SepiBarcodes,
		"energy-files":  s.submissions.EnergyFiles,
		"energy-rows":   s.submissions.EnergyRows,
	}[name]
	format := r.URL.Query().Get("format")
	// A list's barcodes are found by its number, which is unique per operator only: an operator's.
	limited := (strings.HasPrefix(name, "energy-") && !sc.energy) || (name == "sepi-barcodes" && sc.operator == "")
	if !ok || limited || (format != "csv" && format != "xlsx") {
		s.NotFound(w, r)
		return
	}
	q, err := submit.ParseQuery(r)
	if err != nil {
		s.Error(w, r, http.StatusBadRequest, "submit.http.bad_query", err.Error())
		return
	}
	q.Operator, q.Warehouses = sc.operator, sc.warehouses
	rep, err := build(r.Context(), s.Printer(r), q)
	if errors.Is(err, store.ErrNotFound) {
		s.NotFound(w, r)
		return
	}
	if err != nil {
		s.Fail(w, r, err)
		return
	}
	if err := submit.WriteReport(w, rep, format, r.PathValue("report")); err != nil {
		// Headers are out: the download is cut short; the cause goes to the log.
		s.cfg.Logger.Printf("%s %s: %v", r.Method, r.URL.Path, err)
	}
}

func (s *Server) renderUpload(w http.ResponseWriter, r *http.Request, res uploadResult) {
	status := http.StatusOK
	if res.Status == submit.Refused {
		status = http.StatusUnprocessableEntity
	}
	p := s.NewPage(r, "uploads_result", "submit.web.result_title", res)
	p.Nav = "uploads"
	s.RenderPage(w, r, status, p)
}

// The helpers below keep the templates free of conversions.

// Hex gives a digest in hex.
func (d uploadsData) Hex(h store.Hash) string { return hex.EncodeToString(h[:]) }

// Quantity gives a total in base units in the unit of the file's product.
func (d uploadsData) Quantity(product string, v int64) string {
	return energy.Quantity(v).Format(energy.Product(product), '.')
}

// Unit gives the unit of a product's totals.
func (d uploadsData) Unit(product string) string { return energy.Product(product).Unit() }
