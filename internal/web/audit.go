package web

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
)

type auditData struct {
	Entries []store.AuditEntry
	Period  Period
	Export  string
}

// auditPage lists the audit log (administrators): every change a person made, newest first.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	per := periodOf(r.URL.Query(), s.cfg.Now(), 7*24*time.Hour)
	format := r.URL.Query().Get("format")
	f := store.AuditFilter{Since: per.From, Until: per.To, Limit: pageRows}
	if format != "" {
		f.Limit = 0 // the export has the whole period
	}
	entries, err := s.store.Audit(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if format != "" {
		pr := s.Printer(r)
		s.export(w, r, format, "audit", pr.T("web.audit.title"), auditTable(pr, entries, true))
		return
	}
	p := s.NewPage(r, "audit", "web.audit.title", auditData{Entries: entries, Period: per, Export: "/audit"})
	p.Nav = "audit"
	s.RenderPage(w, r, http.StatusOK, p)
}

// auditTable is the export of audit entries. The clients' addresses are in it only for administrators
// (remote): an operator exporting its site's entries does not learn the officers' addresses.
func auditTable(pr *i18n.Printer, entries []store.AuditEntry, remote bool) *report.Table {
	l := pr.Lang()
	t := &report.Table{Columns: []report.Column{{Header: pr.T("web.col.time")}, {Header: pr.T("web.col.person")},
		{Header: pr.T("web.col.action")}, {Header: pr.T("web.col.warehouse")}, {Header: pr.T("web.col.object")},
		{Header: pr.T("web.col.detail")}}}
	if remote {
		t.Columns = append(t.Columns, report.Column{Header: pr.T("web.col.remote")})
	}
	for _, e := range entries {
		row := []report.Cell{exportTime(e.Time, l), report.Text(e.Name + " (" + strconv.FormatInt(e.Person, 10) + ")"),
			report.Text(codeName(pr, "web.audit_action.", e.Action)), report.Text(e.Site), report.Text(e.Object), report.Text(e.Detail)}
		if remote {
			row = append(row, report.Text(e.Remote))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

type peopleData struct {
	People  []personLine
	Problem string // a refusal to show, already translated
	Done    string // a catalogue key of what was just done
	Form    store.Person
}

type personLine struct {
	Person store.Person
	Certs  []store.PersonCertificate
}

// peoplePage lists the people who may log in, their roles and certificates (administrators). People
// are added with `akciz console person add` (docs/console.md).
func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request) {
	d := peopleData{}
	switch r.URL.Query().Get("done") {
	case "added":
		d.Done = "web.people.done_added"
	case "changed":
		d.Done = "web.people.done_changed"
	}
	s.showPeople(w, r, http.StatusOK, d)
}

func (s *Server) showPeople(w http.ResponseWriter, r *http.Request, status int, d peopleData) {
	ctx := r.Context()
	people, err := s.store.People(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, p := range people {
		certs, err := s.store.PersonCertificates(ctx, p.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.People = append(d.People, personLine{Person: p, Certs: certs})
	}
	pg := s.NewPage(r, "people", "web.people.title", d)
	pg.Nav = "people"
	s.RenderPage(w, r, status, pg)
}

// maxCertUpload bounds an uploaded certificate: a certificate is a few KiB.
const maxCertUpload = 64 << 10

// parseCertificate reads one certificate, PEM or DER.
func parseCertificate(b []byte) (*x509.Certificate, error) {
	if len(b) > maxCertUpload {
		return nil, fmt.Errorf("larger than %d bytes", maxCertUpload)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", blk.Type)
		}
		b = blk.Bytes
	}
	return x509.ParseCertificate(b)
}

// addPerson registers a person with the certificate of its electronic signature (administrators), as
// `akciz console person add` does.
func (s *Server) addPerson(w http.ResponseWriter, r *http.Request) {
	pr := s.Printer(r)
	p := store.Person{Name: strings.TrimSpace(r.PostFormValue("name")), Email: strings.TrimSpace(r.PostFormValue("email")),
		Role: store.Role(r.PostFormValue("role")), Operator: strings.TrimSpace(r.PostFormValue("operator")),
		Office: strings.TrimSpace(r.PostFormValue("office"))}
	// The role's scope only: a form keeps the other field's value when the role is changed.
	switch p.Role {
	case store.RoleOperator:
		p.Office = ""
	case store.RoleOfficer:
		p.Operator = ""
	case store.RoleAdmin:
		p.Operator, p.Office = "", ""
	}
	refuse := func(key string, args ...any) {
		s.showPeople(w, r, http.StatusUnprocessableEntity, peopleData{Problem: pr.T(key, args...), Form: p})
	}
	switch {
	case p.Name == "":
		refuse("web.people.no_name")
		return
	case !p.Role.Valid():
		refuse("web.people.bad_role", string(p.Role))
		return
	case p.Role == store.RoleOperator && !core.ValidEIK(p.Operator):
		refuse("web.people.bad_eik", p.Operator)
		return
	case p.Role == store.RoleOfficer && p.Office == "":
		refuse("web.people.no_office")
		return
	}
	if err := p.Validate(); err != nil {
		refuse("web.people.invalid", err.Error())
		return
	}
	b, _, err := formFile(r, "cert", maxCertUpload)
	if err != nil || b == nil {
		refuse("web.people.need_cert")
		return
	}
	c, err := parseCertificate(b)
	if err != nil {
		refuse("web.people.bad_cert", err.Error())
		return
	}
	fp := store.Fingerprint(c.Raw)
	if _, _, err := s.store.PersonByCertificate(r.Context(), fp); err == nil {
		refuse("web.people.cert_taken", fp.String())
		return
	}
	id, err := s.store.PutPerson(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.PutPersonCertificate(r.Context(), store.PersonCertificate{Fingerprint: fp, Person: id, DER: c.Raw,
		Subject: c.Subject.String(), NotAfter: c.NotAfter}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Audit(r, "person.add", "", strconv.FormatInt(id, 10), fmt.Sprintf("%s %s %s%s %s", p.Name, p.Role, p.Operator, p.Office, fp))
	http.Redirect(w, r, "/people?done=added", http.StatusSeeOther)
}

// setDisabled disables or enables a person (administrators); a disabled person's sessions stop at its
// next request. An administrator cannot disable itself (the console would lose its last administrator
// by a slip).
func (s *Server) setDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("person"), 10, 64)
		if err != nil {
			s.NotFound(w, r)
			return
		}
		p, err := s.store.Person(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			s.NotFound(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if disabled && p.ID == UserOf(r).Person.ID {
			s.showPeople(w, r, http.StatusUnprocessableEntity, peopleData{Problem: s.Printer(r).T("web.people.not_yourself")})
			return
		}
		p.Disabled = disabled
		if _, err := s.store.PutPerson(r.Context(), p); err != nil {
			s.fail(w, r, err)
			return
		}
		action := "person.enable"
		if disabled {
			action = "person.disable"
		}
		s.Audit(r, action, "", strconv.FormatInt(id, 10), p.Name)
		http.Redirect(w, r, "/people?done=changed", http.StatusSeeOther)
	}
}
