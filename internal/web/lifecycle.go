package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbusmap"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
	"github.com/akciz/akciz/internal/workday"
)

// lifecycleTable lists the routes of the lifecycle and protocols pages: moves between the states of
// чл. 6, 17–21, configuration versions checked by the change rules of чл. 26 (with their diffs and Modbus
// maps, чл. 35), the officer's three-way comparison of чл. 20, commissioning (чл. 21) and the protocols
// as PDF.
func (s *Server) lifecycleTable() []route {
	return []route{
		{"GET /sites/{warehouse}/lifecycle", s.Page(s.lifecyclePage)},
		{"POST /sites/{warehouse}/move", s.Action(s.moveSite)},
		{"POST /sites/{warehouse}/config", s.Action(s.uploadConfig)},
		{"GET /sites/{warehouse}/config/{version}", s.Page(s.configPage)},
		{"GET /sites/{warehouse}/config/{version}/file", s.Page(s.configFile)},
		{"GET /sites/{warehouse}/config/{version}/modbus-map/{format}", s.Page(s.modbusMap)},
		{"POST /sites/{warehouse}/product-notices/{notice}/given", s.Action(s.giveNotice)},
		{"POST /sites/{warehouse}/threeway", s.Action(s.threeWay)},
		{"GET /sites/{warehouse}/comparisons/{comparison}/{format}", s.Page(s.comparisonFile)},
		{"POST /sites/{warehouse}/commissioning", s.Action(s.commission)},
		{"GET /sites/{warehouse}/commissionings/{commissioning}/pdf", s.Page(s.commissioningFile)},
	}
}

// storedRecord reads a stored record's bytes for package watch's comparisons (see decode).
func storedRecord(b []byte) (core.Record, error) {
	var rec core.Record
	err := json.Unmarshal(b, &rec)
	return rec, err
}

type lifecycleData struct {
	Site           store.Site
	Moves          []store.SiteState // the states the person may move the site to now
	History        []store.SiteMove
	Versions       []store.ConfigVersion
	Notices        []store.ProductNotice
	Comparisons    []store.Comparison
	Commissionings []store.Commissioning
	Problem        string // a refusal to show, already translated
	Done           string // a catalogue key of what was just done
	Version        *store.ConfigVersion
	AgentExport    bool // the three-way form takes the agent's export
}

// lifecyclePage shows where the site is in its lifecycle and what the person may do next.
func (s *Server) lifecyclePage(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	s.showLifecycle(w, r, site, http.StatusOK, "", nil)
}

func (s *Server) showLifecycle(w http.ResponseWriter, r *http.Request, site store.Site, status int, problem string, v *store.ConfigVersion) {
	ctx := r.Context()
	u := UserOf(r)
	a := actor(u)
	d := lifecycleData{Site: site, Moves: watch.Moves(a, site.State), Problem: problem, Version: v, AgentExport: s.cfg.DecodeExport != nil}
	switch done := r.URL.Query().Get("done"); done {
	case "move", "config", "notice", "commissioning", "comparison":
		d.Done = "web.lifecycle.done_" + done
	}
	var err error
	if d.History, err = s.lifecycle.History(ctx, a, site.Warehouse); err != nil {
		s.watchError(w, r, err)
		return
	}
	if d.Versions, err = s.configs.Versions(ctx, a, site.Warehouse); err != nil {
		s.watchError(w, r, err)
		return
	}
	slices.Reverse(d.Versions)
	if d.Notices, err = s.store.ProductNotices(ctx, store.ProductNoticeFilter{Site: site.Warehouse}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Comparisons, err = s.comparisons.List(ctx, a, site.Warehouse); err != nil {
		s.watchError(w, r, err)
		return
	}
	if d.Commissionings, err = s.store.Commissionings(ctx, site.Warehouse); err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.NewPage(r, "lifecycle", "web.lifecycle.title", d)
	p.Nav = "sites"
	s.RenderPage(w, r, status, p)
}

// refused shows a refusal of package watch on the lifecycle page (404 for what the person may not see).
func (s *Server) refused(w http.ResponseWriter, r *http.Request, site store.Site, err error) {
	m, ok := watch.Message(err)
	if !ok || errors.Is(err, watch.ErrNotFound) {
		s.watchError(w, r, err)
		return
	}
	status := http.StatusUnprocessableEntity
	if errors.Is(err, watch.ErrForbidden) {
		status = http.StatusForbidden
	}
	s.showLifecycle(w, r, site, status, s.Printer(r).Msg(m), nil)
}

func (s *Server) lifecycleDone(w http.ResponseWriter, r *http.Request, site store.Site, done string) {
	http.Redirect(w, r, "/sites/"+site.Warehouse+"/lifecycle?done="+done, http.StatusSeeOther)
}

// moveSite moves the site to the state the form names, with the reason given.
func (s *Server) moveSite(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	to, reason := store.SiteState(r.PostFormValue("to")), r.PostFormValue("reason")
	m, err := s.lifecycle.Move(r.Context(), actor(UserOf(r)), site.Warehouse, to, reason)
	if err != nil {
		s.refused(w, r, site, err)
		return
	}
	s.Audit(r, "site.move", site.Warehouse, string(m.From)+" → "+string(m.To), reason)
	s.lifecycleDone(w, r, site, "move")
}

// formFile reads an uploaded file of the multipart form (nil, "" when the field is empty), bounded by
// limit.
func formFile(r *http.Request, field string, limit int64) ([]byte, string, error) {
	if r.MultipartForm == nil {
		return nil, "", nil
	}
	fhs := r.MultipartForm.File[field]
	if len(fhs) == 0 || fhs[0].Size == 0 {
		return nil, "", nil
	}
	f, err := fhs[0].Open()
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(b)) > limit {
		return nil, fhs[0].Filename, errTooLarge
	}
	return b, fhs[0].Filename, nil
}

var errTooLarge = errors.New("too large")

// parseDate reads a calendar date as a date field sends it (YYYY-MM-DD) or as a Bulgarian writes it by
// hand (DD.MM.YYYY).
func parseDate(s string) (workday.Date, error) {
	if d, err := workday.Parse(s); err == nil {
		return d, nil
	}
	t, err := time.Parse("02.01.2006", s)
	if err != nil {
		return workday.Date{}, fmt.Errorf("date %q is neither YYYY-MM-DD nor DD.MM.YYYY", s)
	}
	return workday.New(t.Year(), t.Month(), t.Day()), nil
}

// uploadConfig checks an uploaded automation_config.xml against the change rules and stores it as the
// site's next version, accepted or refused; the page then shows the verdict.
func (s *Server) uploadConfig(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	data, name, err := formFile(r, "file", config.MaxFileSize)
	if errors.Is(err, errTooLarge) {
		s.showLifecycle(w, r, site, http.StatusRequestEntityTooLarge, s.Printer(r).T("web.error.too_large", int64(config.MaxFileSize)), nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The day the added product codes are first used (чл. 26(3)): the notice is then due one working day
	// before it, not today. Empty: package watch dates the notice from the upload.
	var opt watch.UploadOptions
	if fu := strings.TrimSpace(r.PostFormValue("first_use")); fu != "" {
		if opt.FirstUse, err = parseDate(fu); err != nil {
			s.showLifecycle(w, r, site, http.StatusUnprocessableEntity, s.Printer(r).T("web.lifecycle.bad_first_use", fu), nil)
			return
		}
	}
	v, err := s.configs.Upload(r.Context(), actor(UserOf(r)), site.Warehouse, name, data, opt)
	if err != nil {
		s.refused(w, r, site, err)
		return
	}
	detail := string(v.Verdict) + " " + v.SHA256.String()
	if !opt.FirstUse.IsZero() {
		detail += " first-use " + opt.FirstUse.String()
	}
	s.Audit(r, "config.upload", site.Warehouse, strconv.Itoa(v.Version), detail)
	http.Redirect(w, r, "/sites/"+site.Warehouse+"/config/"+strconv.Itoa(v.Version)+"?done=upload", http.StatusSeeOther)
}

type configData struct {
	Site     store.Site
	Version  store.ConfigVersion
	Previous int // the accepted version before it (0: none)
	Diff     []diffLine
	DiffNote string // a catalogue key when no diff is shown
	Lang     string
	Done     bool
}

// version reads version {version} of the site, with its file.
func (s *Server) version(w http.ResponseWriter, r *http.Request) (store.Site, store.ConfigVersion, bool) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return site, store.ConfigVersion{}, false
	}
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		s.NotFound(w, r)
		return site, store.ConfigVersion{}, false
	}
	v, err := s.store.ConfigVersion(r.Context(), site.Warehouse, n)
	if errors.Is(err, store.ErrNotFound) {
		s.NotFound(w, r)
		return site, v, false
	}
	if err != nil {
		s.fail(w, r, err)
		return site, v, false
	}
	return site, v, true
}

// configPage shows a version: the verdict, the change rules' findings, and the line diff against the
// accepted version before it.
func (s *Server) configPage(w http.ResponseWriter, r *http.Request) {
	site, v, ok := s.version(w, r)
	if !ok {
		return
	}
	d := configData{Site: site, Version: v, Lang: string(requestLang(r)), Done: r.URL.Query().Get("done") == "upload"}
	all, err := s.store.ConfigVersions(r.Context(), site.Warehouse)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, x := range all {
		if x.Version < v.Version && x.Verdict == store.ConfigAccepted {
			d.Previous = x.Version
		}
	}
	if d.Previous == 0 {
		d.DiffNote = "web.config.first"
	} else {
		prev, err := s.store.ConfigVersion(r.Context(), site.Warehouse, d.Previous)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var ok bool
		if d.Diff, ok = lineDiff(string(prev.File), string(v.File)); !ok {
			d.Diff, d.DiffNote = nil, "web.config.diff_too_large"
		} else if len(d.Diff) == 0 {
			d.DiffNote = "web.config.same"
		}
	}
	p := s.NewPage(r, "config", "web.config.title", d)
	p.Nav = "sites"
	s.RenderPage(w, r, http.StatusOK, p)
}

// configFile downloads a version's file as uploaded.
func (s *Server) configFile(w http.ResponseWriter, r *http.Request) {
	site, v, ok := s.version(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+site.Warehouse+"-v"+strconv.Itoa(v.Version)+`-automation_config.xml"`)
	w.Write(v.File)
}

// modbusMap renders the Modbus map of a version (чл. 35(4)–(5)) as PDF, XLSX or CSV.
func (s *Server) modbusMap(w http.ResponseWriter, r *http.Request) {
	site, v, ok := s.version(w, r)
	if !ok {
		return
	}
	cfg, diags := config.Parse("automation_config.xml", v.File)
	for _, d := range diags {
		if d.Severity == config.SeverityError {
			cfg = nil
		}
	}
	if cfg == nil {
		s.Error(w, r, http.StatusUnprocessableEntity, "web.config.no_map", v.Version)
		return
	}
	doc := modbusmap.Build(cfg, modbusmap.Options{Lang: requestLang(r), FileName: "automation_config.xml", File: v.File, Generated: s.cfg.Now()})
	s.document(w, r, doc, site.Warehouse+"-v"+strconv.Itoa(v.Version)+"-modbus-map", r.PathValue("format"))
}

// document writes a whole report as PDF, XLSX or CSV.
func (s *Server) document(w http.ResponseWriter, r *http.Request, d *report.Document, name, format string) {
	var buf bytes.Buffer
	var err error
	var ct string
	switch format {
	case "pdf":
		ct, err = "application/pdf", report.PDF(&buf, d)
	case "xlsx":
		ct, err = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", report.XLSX(&buf, d)
	case "csv":
		ct, err = "text/csv; charset=utf-8", report.CSV(&buf, d, report.ExcelBG)
	default:
		s.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(buf.Bytes())
}

// giveNotice records that a product-code notice of the site was given (officers).
func (s *Server) giveNotice(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("notice"), 10, 64)
	if err != nil {
		s.NotFound(w, r)
		return
	}
	ns, err := s.store.ProductNotices(r.Context(), store.ProductNoticeFilter{Site: site.Warehouse})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(ns, func(n store.ProductNotice) bool { return n.ID == id }) {
		s.NotFound(w, r)
		return
	}
	n, err := s.configs.GiveNotice(r.Context(), actor(UserOf(r)), id)
	if err != nil {
		s.refused(w, r, site, err)
		return
	}
	s.Audit(r, "notice.given", site.Warehouse, strconv.FormatInt(id, 10), n.Point+" "+n.Product+" "+n.Change)
	s.lifecycleDone(w, r, site, "notice")
}

// threeWay makes the officer's comparison of чл. 20: the values read off the meters (typed in or a
// file, "point;time;tag;value"), the agent's export, and the server's data.
func (s *Server) threeWay(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	pr := s.Printer(r)
	values := r.PostFormValue("values")
	if b, _, err := formFile(r, "values_file", watch.MaxTestData); err != nil {
		s.showLifecycle(w, r, site, http.StatusRequestEntityTooLarge, pr.T("web.error.too_large", int64(watch.MaxTestData)), nil)
		return
	} else if b != nil {
		values = string(b)
	}
	officer, err := watch.ParseTestValues(strings.NewReader(decimalPoints(values)))
	if err != nil {
		s.refused(w, r, site, err)
		return
	}
	tolerance := strings.Replace(strings.TrimSpace(r.PostFormValue("tolerance")), ",", ".", 1)
	in := watch.ThreeWay{Officer: officer, Tolerance: core.Decimal(tolerance)}
	if s.cfg.DecodeExport != nil {
		b, _, err := formFile(r, "export", s.cfg.MaxForm)
		if err != nil {
			s.showLifecycle(w, r, site, http.StatusRequestEntityTooLarge, pr.T("web.error.too_large", s.cfg.MaxForm), nil)
			return
		}
		if b != nil {
			recs, err := s.cfg.DecodeExport(r.Context(), bytes.NewReader(b))
			if err != nil {
				s.showLifecycle(w, r, site, http.StatusUnprocessableEntity, pr.T("web.lifecycle.bad_export", err.Error()), nil)
				return
			}
			for _, rec := range recs {
				if !strings.HasPrefix(rec.Device, site.Warehouse) {
					s.showLifecycle(w, r, site, http.StatusUnprocessableEntity, pr.T("web.lifecycle.export_other_site", rec.Device), nil)
					return
				}
			}
			in.Agent = recs
		}
	}
	c, err := s.comparisons.ThreeWay(r.Context(), actor(UserOf(r)), site.Warehouse, in)
	if err != nil {
		s.refused(w, r, site, err)
		return
	}
	s.Audit(r, "comparison.three-way", site.Warehouse, strconv.FormatInt(c.ID, 10),
		strconv.Itoa(c.Matches)+"/"+strconv.Itoa(c.Matches+c.Misses))
	http.Redirect(w, r, "/sites/"+site.Warehouse+"/lifecycle?done=comparison#comparisons", http.StatusSeeOther)
}

// decimalPoints lets an officer write the values of the three-way comparison with a decimal comma, as
// Bulgarians write numbers: in the lines separated by ';' (the form's own format, and Excel's with
// Bulgarian settings), the comma of the last field, the value, becomes a point. Lines separated by ','
// cannot have one and are left as they are.
func decimalPoints(values string) string {
	lines := strings.Split(values, "\n")
	for i, l := range lines {
		f := strings.Split(l, ";")
		if len(f) == 4 {
			f[3] = strings.Replace(f[3], ",", ".", 1)
			lines[i] = strings.Join(f, ";")
		}
	}
	return strings.Join(lines, "\n")
}

// comparisonFile downloads a comparison: the protocol as PDF (two copies, чл. 20(5)), or its lines as
// XLSX or CSV.
func (s *Server) comparisonFile(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("comparison"), 10, 64)
	if err != nil {
		s.NotFound(w, r)
		return
	}
	c, err := s.comparisons.Get(r.Context(), actor(UserOf(r)), id)
	if err != nil {
		s.watchError(w, r, err)
		return
	}
	if c.Site != site.Warehouse {
		s.NotFound(w, r)
		return
	}
	format := r.PathValue("format")
	doc := watch.ComparisonDocument(c, site, requestLang(r), format == "pdf")
	s.document(w, r, doc, site.Warehouse+"-comparison-"+strconv.FormatInt(id, 10), format)
}

// commissionFiles are the file fields of the commissioning form and their roles (чл. 21(3)–(4)).
var commissionFiles = []string{"image", "config", "modbus-map", "modem-config", "other"}

// commission records the commissioning of a site in testing (officers): the files handed over are
// hashed as they stream in (an image may be large; only the hashes are kept), with the serial numbers
// and the seals.
func (s *Server) commission(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	c := store.Commissioning{Site: site.Warehouse, Representative: r.PostFormValue("representative"),
		Protocol: r.PostFormValue("protocol"), Controller: r.PostFormValue("controller"), Computer: r.PostFormValue("computer"),
		UPS: r.PostFormValue("ups"), Notes: r.PostFormValue("notes")}
	for _, seal := range strings.FieldsFunc(r.PostFormValue("seals"), func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		if seal = strings.TrimSpace(seal); seal != "" {
			c.Seals = append(c.Seals, seal)
		}
	}
	if r.MultipartForm != nil {
		for _, role := range commissionFiles {
			for _, fh := range r.MultipartForm.File[role] {
				f, err := hashUpload(role, fh)
				if err != nil {
					s.fail(w, r, err)
					return
				}
				c.Files = append(c.Files, f)
			}
		}
	}
	got, err := s.commissionings.Record(r.Context(), actor(UserOf(r)), c)
	if err != nil {
		s.refused(w, r, site, err)
		return
	}
	s.Audit(r, "site.commissioning", site.Warehouse, strconv.FormatInt(got.ID, 10), got.Protocol)
	s.lifecycleDone(w, r, site, "commissioning")
}

func hashUpload(role string, fh *multipart.FileHeader) (store.CommissionFile, error) {
	f, err := fh.Open()
	if err != nil {
		return store.CommissionFile{}, err
	}
	defer f.Close()
	return watch.HashFile(role, fh.Filename, f)
}

// commissioningFile downloads the commissioning protocol as PDF (чл. 21(5)–(6)).
func (s *Server) commissioningFile(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("commissioning"), 10, 64)
	if err != nil {
		s.NotFound(w, r)
		return
	}
	c, cs, err := s.commissionings.Get(r.Context(), actor(UserOf(r)), id)
	if err != nil {
		s.watchError(w, r, err)
		return
	}
	if cs.Warehouse != site.Warehouse {
		s.NotFound(w, r)
		return
	}
	s.document(w, r, watch.CommissioningDocument(c, cs, requestLang(r)), site.Warehouse+"-commissioning-"+strconv.FormatInt(id, 10), "pdf")
}
