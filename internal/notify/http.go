package notify

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Request bodies are bounded: a publication carries its file in base64 (a third larger), the rest is
// small.
const (
	maxFormBody    = 64 << 10
	maxPublishBody = MaxFile*4/3 + 64<<10
)

// Identify names the person behind a request (akciz server: the TLS client certificate); an error
// refuses the request with 401.
type Identify func(r *http.Request) (User, error)

// Routes adds the notices API (docs/openapi-notices.yaml) to mux under /api/v1/notices/: the feeds, the
// notices and their files, the confirmation and unsubscribe links (public); the subscriptions of the
// person identify names; and the administration, for persons identify marks Admin.
func (s *Service) Routes(mux *http.ServeMux, identify Identify) {
	const p = "/api/v1/notices"
	mux.HandleFunc("GET "+p+"/systems/{code}/feed.atom", s.handleAtom)
	mux.HandleFunc("GET "+p+"/systems/{code}/calendar.ics", s.handleCalendar)
	mux.HandleFunc("GET "+p+"/notices/{id}", s.handleNotice)
	mux.HandleFunc("GET "+p+"/notices/{id}/revisions/{rev}/file", s.handleFile)
	mux.HandleFunc("GET "+p+"/unsubscribe/{token}", s.handleTokenPage("unsubscribe"))
	mux.HandleFunc("POST "+p+"/unsubscribe/{token}", s.handleUnsubscribe)
	mux.HandleFunc("GET "+p+"/confirm/{token}", s.handleTokenPage("confirm"))
	mux.HandleFunc("POST "+p+"/confirm/{token}", s.handleConfirm)

	user := func(admin bool, h func(w http.ResponseWriter, r *http.Request, u User)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			u, err := identify(r)
			if err != nil {
				writeError(w, langOf(r, ""), http.StatusUnauthorized, i18n.M("notify.api.unauthorized"), nil)
				return
			}
			if admin && !u.Admin {
				writeError(w, langOf(r, u.Lang), http.StatusForbidden, i18n.M("notify.api.forbidden"), nil)
				return
			}
			h(w, r, u)
		}
	}
	mux.HandleFunc("GET "+p+"/me", user(false, s.handleMe))
	mux.HandleFunc("POST "+p+"/subscriptions", user(false, s.handleSubscribe))
	mux.HandleFunc("PUT "+p+"/subscriptions/{id}", user(false, s.handleEdit))
	mux.HandleFunc("POST "+p+"/subscriptions/{id}/activate", user(false, s.handleActive(true)))
	mux.HandleFunc("POST "+p+"/subscriptions/{id}/deactivate", user(false, s.handleActive(false)))

	mux.HandleFunc("GET "+p+"/webhooks", user(false, s.handleWebhooks))
	mux.HandleFunc("POST "+p+"/webhooks", user(false, s.handleAddWebhook))
	mux.HandleFunc("POST "+p+"/webhooks/{id}/activate", user(false, s.handleWebhookActive(true)))
	mux.HandleFunc("POST "+p+"/webhooks/{id}/deactivate", user(false, s.handleWebhookActive(false)))

	mux.HandleFunc("GET "+p+"/admin/systems", user(true, s.handleSystems))
	mux.HandleFunc("PUT "+p+"/admin/systems/{code}", user(true, s.handlePutSystem))
	mux.HandleFunc("POST "+p+"/admin/grants", user(true, s.handleGrant(true)))
	mux.HandleFunc("DELETE "+p+"/admin/grants", user(true, s.handleGrant(false)))
	mux.HandleFunc("POST "+p+"/admin/notices", user(true, s.handlePublish))
	mux.HandleFunc("GET "+p+"/admin/notices/{id}/deliveries", user(true, s.handleDeliveries))
	mux.HandleFunc("POST "+p+"/admin/outbox/{id}/resend", user(true, s.handleResend))
}

// langOf gives the language of a response: ?lang=, then the user's, then Accept-Language.
func langOf(r *http.Request, l i18n.Lang) *i18n.Printer {
	if q := r.URL.Query().Get("lang"); q != "" {
		return i18n.For(i18n.Parse(q))
	}
	if l != "" {
		return i18n.For(l)
	}
	return i18n.For(i18n.Parse(r.Header.Get("Accept-Language")))
}

// apiError is the body of a refusal: the message, and the refused fields' messages by field name.
type apiError struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.Encode(v)
}

func writeError(w http.ResponseWriter, p *i18n.Printer, status int, m i18n.Message, fields Errors) {
	body := apiError{Error: p.Msg(m)}
	if len(fields) > 0 {
		body.Fields = map[string]string{}
		for _, f := range fields {
			if _, dup := body.Fields[f.Field]; !dup {
				body.Fields[f.Field] = p.Msg(f.Msg)
			}
		}
	}
	writeJSON(w, status, body)
}

// fail answers err: a form's refusal field by field (422), a duplicate (409), a missing thing (404), or
// the server's failure (500, without details).
func fail(w http.ResponseWriter, p *i18n.Printer, err error) {
	var fe Errors
	switch {
	case errors.As(err, &fe):
		writeError(w, p, http.StatusUnprocessableEntity, i18n.M("notify.api.invalid"), fe)
	case errors.Is(err, store.ErrDuplicate):
		writeError(w, p, http.StatusConflict, i18n.M("notify.api.duplicate"), Errors{{Field: "system", Msg: i18n.M("notify.api.duplicate")}})
	case errors.Is(err, ErrNotFound):
		writeError(w, p, http.StatusNotFound, i18n.M("notify.api.not_found"), nil)
	case errors.Is(err, ErrForbidden):
		writeError(w, p, http.StatusForbidden, i18n.M("notify.api.forbidden"), nil)
	case errors.Is(err, store.ErrStale):
		writeError(w, p, http.StatusConflict, i18n.M("notify.api.stale"), nil)
	default:
		writeError(w, p, http.StatusInternalServerError, i18n.M("notify.api.failed"), nil)
	}
}

// DecodeJSON reads one JSON value of at most limit bytes into v, refusing unknown fields and trailing
// data; the error names the place (byte offset) or the field.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("body larger than %d bytes", limit)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return fmt.Errorf("field %s (byte %d): %s where %s belongs", te.Field, te.Offset, te.Value, te.Type)
		}
		return err
	}
	if d.More() {
		return fmt.Errorf("byte %d: data after the JSON value", d.InputOffset())
	}
	return nil
}

func (s *Service) decode(w http.ResponseWriter, r *http.Request, p *i18n.Printer, limit int64, v any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, p, http.StatusUnsupportedMediaType, i18n.M("notify.api.json"), nil)
		return false
	}
	if err := DecodeJSON(r.Body, limit, v); err != nil {
		writeError(w, p, http.StatusBadRequest, i18n.M("notify.api.bad_json", err.Error()), nil)
		return false
	}
	return true
}

func pathID(r *http.Request, name string) int64 {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id < 1 {
		return 0
	}
	return id
}

func (s *Service) handleAtom(w http.ResponseWriter, r *http.Request) {
	p := langOf(r, "")
	var b bytes.Buffer
	if err := s.WriteAtom(r.Context(), &b, p, r.PathValue("code")); err != nil {
		fail(w, p, err)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Write(b.Bytes())
}

func (s *Service) handleCalendar(w http.ResponseWriter, r *http.Request) {
	p := langOf(r, "")
	var b bytes.Buffer
	if err := s.WriteCalendar(r.Context(), &b, p, r.PathValue("code")); err != nil {
		fail(w, p, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8; method=PUBLISH")
	w.Write(b.Bytes())
}

// noticeJSON is a notice as the API shows it: its revisions without their files' bytes.
type noticeJSON struct {
	ID        int64          `json:"id"`
	System    string         `json:"system"`
	Kind      string         `json:"kind"`
	Revisions []revisionJSON `json:"revisions"`
}

type revisionJSON struct {
	Rev       int       `json:"rev"`
	Action    string    `json:"action"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	TitleEN   string    `json:"title_en,omitempty"`
	TextEN    string    `json:"text_en,omitempty"`
	Link      string    `json:"link,omitempty"`
	Planned   bool      `json:"planned,omitempty"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Window    string    `json:"window,omitempty"` // as people read it, in Europe/Sofia
	CodeList  string    `json:"code_list,omitempty"`
	Version   string    `json:"version,omitempty"`
	EUCommon  bool      `json:"eu_common,omitempty"`
	FileName  string    `json:"file_name,omitempty"`
	FileURL   string    `json:"file_url,omitempty"`
	Author    string    `json:"author"`
	Published time.Time `json:"published"`
}

func (s *Service) noticeJSON(p *i18n.Printer, n *store.Notice) noticeJSON {
	out := noticeJSON{ID: n.ID, System: n.System, Kind: string(n.Kind)}
	for _, r := range n.Revisions {
		j := revisionJSON{Rev: r.Rev, Action: string(r.Action), Title: r.Title, Text: r.Text, TitleEN: r.TitleEN,
			TextEN: r.TextEN, Link: r.Link, Planned: r.Planned, Start: r.Start, End: r.End, CodeList: r.CodeList,
			Version: r.Version, EUCommon: r.EUCommon, FileName: r.FileName, Author: r.Author, Published: r.Published}
		if !r.Start.IsZero() {
			j.Window = timeRange(p, r.Start, r.End)
		}
		if r.File != nil {
			j.FileURL = s.fileURL(n.ID, r.Rev)
		}
		out.Revisions = append(out.Revisions, j)
	}
	return out
}

// handleNotice gives a notice: as a page to a browser (the link in every message), as JSON otherwise.
func (s *Service) handleNotice(w http.ResponseWriter, r *http.Request) {
	p := langOf(r, "")
	n, err := s.s.Notice(r.Context(), pathID(r, "id"))
	if err != nil {
		fail(w, p, err)
		return
	}
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, s.noticeJSON(p, &n))
		return
	}
	sys, err := s.s.System(r.Context(), n.System)
	if err != nil {
		fail(w, p, err)
		return
	}
	var v noticePageView
	v.Lang = string(p.Lang())
	s.noticeView(&v.view, p, sys, &n, n.Latest(), false)
	v.Feed = s.cfg.Portal + "/api/v1/notices/systems/" + sys.Code + "/feed.atom"
	v.FeedLabel = p.T("notify.feed.title", nameIn(sys, p.Lang()))
	if r := n.Latest(); r.File != nil {
		v.File = [2]string{p.T("notify.file_link", r.FileName), s.fileURL(n.ID, r.Rev)}
	}
	for i := len(n.Revisions) - 1; i >= 0; i-- {
		rv := &n.Revisions[i]
		title, _ := localized(rv, p.Lang())
		v.History = append(v.History, [2]string{FormatTime(p, rv.Published), tk(p, "notify.history.", string(rv.Action)) + ": " + title})
	}
	v.HistoryLabel = p.T("notify.history")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	noticePage.Execute(w, &v)
}

// wantsHTML reports whether the client prefers a page (a browser) to JSON.
func wantsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "text/html") && !strings.HasPrefix(a, "application/json")
}

type noticePageView struct {
	view
	File         [2]string
	Feed         string
	FeedLabel    string
	History      [][2]string
	HistoryLabel string
}

var noticePage = template.Must(template.New("").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title><link rel="alternate" type="application/atom+xml" title="{{.FeedLabel}}" href="{{.Feed}}"></head>
<body style="font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.4">
<h1 style="font-size:1.4em">{{.Title}}</h1>
{{if .Status}}<p><strong>{{.Status}}</strong></p>{{end}}
<table>{{range .Lines}}<tr><th style="text-align:left;padding-right:1em">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<div style="white-space:pre-wrap;margin:1em 0">{{.Text}}</div>
{{with .File}}{{if index . 1}}<p><a href="{{index . 1}}">{{index . 0}}</a></p>{{end}}{{end}}
<h2 style="font-size:1.1em">{{.HistoryLabel}}</h2>
<ul>{{range .History}}<li>{{index . 0}} — {{index . 1}}</li>{{end}}</ul>
<p><a href="{{.Feed}}">{{.FeedLabel}}</a> (Atom)</p>
</body></html>
`))

func (s *Service) handleFile(w http.ResponseWriter, r *http.Request) {
	p := langOf(r, "")
	n, err := s.s.Notice(r.Context(), pathID(r, "id"))
	if err != nil {
		fail(w, p, err)
		return
	}
	rev, _ := strconv.Atoi(r.PathValue("rev"))
	if rev < 1 || rev > len(n.Revisions) || n.Revisions[rev-1].File == nil {
		fail(w, p, ErrNotFound)
		return
	}
	v := &n.Revisions[rev-1]
	w.Header().Set("Content-Type", v.FileType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.FileName}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(v.File)
}

var tokenPage = template.Must(template.New("").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title></head><body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Button}}<form method="post"><button type="submit">{{.Button}}</button></form>{{end}}
</body></html>
`))

type tokenView struct {
	Lang, Title, Text, Button string
}

func page(w http.ResponseWriter, status int, v tokenView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
	w.WriteHeader(status)
	tokenPage.Execute(w, v)
}

// handleTokenPage shows the page of a link (confirmation, unsubscribing) without changing anything: mail
// scanners open links, and only the button's POST acts (RFC 8058 §1).
func (s *Service) handleTokenPage(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := s.s.SubscriptionByToken(r.Context(), r.PathValue("token"))
		p := langOf(r, "")
		if err == nil {
			p = langOf(r, i18n.Parse(sub.Lang))
		}
		v := tokenView{Lang: string(p.Lang())}
		if err != nil || (what == "confirm" && sub.Token != r.PathValue("token")) ||
			(what == "unsubscribe" && sub.Unsubscribe != r.PathValue("token")) {
			v.Title, v.Text = p.T("notify.page.bad_link"), p.T("notify.page.bad_link_text")
			page(w, http.StatusNotFound, v)
			return
		}
		v.Title = tk(p, "notify.page.", what+".title")
		v.Text = tk(p, "notify.page.", what+".text", sub.Email, sub.System)
		v.Button = tk(p, "notify.page.", what+".button")
		page(w, http.StatusOK, v)
	}
}

// handleUnsubscribe is the one-click POST of RFC 8058 (and the page's button): it ends that one
// subscription only.
func (s *Service) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	sub, err := s.Unsubscribe(r.Context(), r.PathValue("token"))
	p := langOf(r, i18n.Parse(sub.Lang))
	if err != nil {
		page(w, http.StatusNotFound, tokenView{Lang: string(p.Lang()), Title: p.T("notify.page.bad_link"), Text: p.T("notify.page.bad_link_text")})
		return
	}
	page(w, http.StatusOK, tokenView{Lang: string(p.Lang()), Title: p.T("notify.page.unsubscribed"),
		Text: p.T("notify.page.unsubscribed_text", sub.Email, sub.System)})
}

func (s *Service) handleConfirm(w http.ResponseWriter, r *http.Request) {
	sub, err := s.Confirm(r.Context(), r.PathValue("token"))
	p := langOf(r, i18n.Parse(sub.Lang))
	if err != nil {
		page(w, http.StatusNotFound, tokenView{Lang: string(p.Lang()), Title: p.T("notify.page.bad_link"), Text: p.T("notify.page.bad_link_text")})
		return
	}
	page(w, http.StatusOK, tokenView{Lang: string(p.Lang()), Title: p.T("notify.page.confirmed"),
		Text: p.T("notify.page.confirmed_text", sub.Email, sub.System)})
}

// subscriptionJSON is a subscription as its owner sees it (no tokens).
type subscriptionJSON struct {
	ID          int64             `json:"id"`
	System      string            `json:"system"`
	FirstName   string            `json:"first_name"`
	LastName    string            `json:"last_name"`
	Email       string            `json:"email"`
	Lang        string            `json:"lang"`
	Events      []store.EventKind `json:"events"`
	Delivery    store.Delivery    `json:"delivery"`
	Active      bool              `json:"active"`
	Confirmed   bool              `json:"confirmed"`
	Quarantined time.Time         `json:"quarantined,omitzero"`
	Bounce      string            `json:"bounce,omitempty"`
	Message     string            `json:"message,omitempty"` // what the portal says after saving
}

func subJSON(sub store.Subscription) subscriptionJSON {
	return subscriptionJSON{ID: sub.ID, System: sub.System, FirstName: sub.FirstName, LastName: sub.LastName,
		Email: sub.Email, Lang: sub.Lang, Events: sub.Events, Delivery: sub.Delivery, Active: sub.Active,
		Confirmed: sub.Confirmed, Quarantined: sub.Quarantined, Bounce: sub.Bounce}
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	systems, err := s.Systems(r.Context(), u)
	if err != nil {
		fail(w, p, err)
		return
	}
	subs, err := s.Subscriptions(r.Context(), u)
	if err != nil {
		fail(w, p, err)
		return
	}
	out := struct {
		Form          Form               `json:"form"`
		Systems       []store.InfoSystem `json:"systems"`
		Subscriptions []subscriptionJSON `json:"subscriptions"`
	}{Form: Prefill(u), Systems: systems, Subscriptions: []subscriptionJSON{}}
	for _, sub := range subs {
		out.Subscriptions = append(out.Subscriptions, subJSON(sub))
	}
	writeJSON(w, http.StatusOK, out)
}

// saved is the FAQ's "message of successful saving", with a word on the confirmation when one is due.
func saved(p *i18n.Printer, sub store.Subscription) subscriptionJSON {
	j := subJSON(sub)
	j.Message = p.T("notify.saved")
	if !sub.Confirmed {
		j.Message = p.T("notify.saved_confirm", sub.Email)
	}
	return j
}

func (s *Service) handleSubscribe(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	var f Form
	if !s.decode(w, r, p, maxFormBody, &f) {
		return
	}
	sub, err := s.Subscribe(r.Context(), u, f)
	if err != nil {
		fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusCreated, saved(p, sub))
}

func (s *Service) handleEdit(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	var f Form
	if !s.decode(w, r, p, maxFormBody, &f) {
		return
	}
	sub, err := s.Edit(r.Context(), u, pathID(r, "id"), f)
	if err != nil {
		fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, saved(p, sub))
}

func (s *Service) handleActive(active bool) func(http.ResponseWriter, *http.Request, User) {
	return func(w http.ResponseWriter, r *http.Request, u User) {
		p := langOf(r, u.Lang)
		sub, err := s.SetActive(r.Context(), u, pathID(r, "id"), active)
		if err != nil {
			fail(w, p, err)
			return
		}
		writeJSON(w, http.StatusOK, saved(p, sub))
	}
}

func (s *Service) handleSystems(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	systems, err := s.s.Systems(r.Context())
	if err != nil {
		fail(w, p, err)
		return
	}
	grants, err := s.s.Grants(r.Context(), "")
	if err != nil {
		fail(w, p, err)
		return
	}
	type grantJSON struct {
		System      string `json:"system"`
		EIK         string `json:"eik,omitempty"`
		Certificate string `json:"certificate,omitempty"`
	}
	out := struct {
		Systems []store.InfoSystem `json:"systems"`
		Grants  []grantJSON        `json:"grants"`
	}{Systems: systems, Grants: []grantJSON{}}
	for _, g := range grants {
		j := grantJSON{System: g.System, EIK: g.EIK}
		if !g.Certificate.IsZero() {
			j.Certificate = g.Certificate.String()
		}
		out.Grants = append(out.Grants, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) handlePutSystem(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	var sys store.InfoSystem
	body := struct {
		Name   string `json:"name"`
		NameEN string `json:"name_en"`
	}{}
	if !s.decode(w, r, p, maxFormBody, &body) {
		return
	}
	sys = store.InfoSystem{Code: r.PathValue("code"), Name: strings.TrimSpace(body.Name), NameEN: strings.TrimSpace(body.NameEN)}
	if err := s.PutSystem(r.Context(), sys); err != nil {
		fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, sys)
}

// PutSystem adds or renames a system of the catalogue.
func (s *Service) PutSystem(ctx context.Context, sys store.InfoSystem) error {
	var errs Errors
	if !store.ValidSystemCode(sys.Code) {
		errs = append(errs, FieldError{"code", i18n.M("notify.field.system_code")})
	}
	if strings.TrimSpace(sys.Name) == "" {
		errs = append(errs, FieldError{"name", i18n.M("notify.field.required")})
	}
	if len(errs) > 0 {
		return errs
	}
	if err := s.s.PutSystem(ctx, sys); err != nil {
		return fmt.Errorf("notify: put system: %w", err)
	}
	return nil
}

// ParseGrant reads a grant's grantee: an EIK, or a certificate's SHA-256 fingerprint in hex.
func ParseGrant(system, eik, cert string) (store.SystemGrant, error) {
	g := store.SystemGrant{System: system, EIK: eik}
	if cert != "" {
		b, err := hex.DecodeString(strings.ReplaceAll(strings.ToLower(cert), ":", ""))
		if err != nil || len(b) != len(g.Certificate) {
			return g, Errors{{"certificate", i18n.M("notify.field.fingerprint")}}
		}
		copy(g.Certificate[:], b)
	}
	if (g.EIK == "") == g.Certificate.IsZero() {
		return g, Errors{{"eik", i18n.M("notify.field.grantee")}}
	}
	return g, nil
}

func (s *Service) handleGrant(grant bool) func(http.ResponseWriter, *http.Request, User) {
	return func(w http.ResponseWriter, r *http.Request, u User) {
		p := langOf(r, u.Lang)
		body := struct {
			System      string `json:"system"`
			EIK         string `json:"eik"`
			Certificate string `json:"certificate"`
		}{}
		if !s.decode(w, r, p, maxFormBody, &body) {
			return
		}
		g, err := ParseGrant(body.System, body.EIK, body.Certificate)
		if err == nil {
			if grant {
				err = s.s.GrantSystem(r.Context(), g)
			} else {
				err = s.s.RevokeSystem(r.Context(), g)
			}
		}
		if err != nil {
			fail(w, p, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Service) handlePublish(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	var pub Publication
	if !s.decode(w, r, p, maxPublishBody, &pub) {
		return
	}
	n, err := s.Publish(r.Context(), u.ID, pub)
	if err != nil {
		fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.noticeJSON(p, &n))
}

// Delivery is one row of a notice's per-recipient delivery status.
type Delivery struct {
	Outbox   int64             `json:"outbox"`
	Rev      int               `json:"rev"`
	Kind     store.OutboxKind  `json:"kind"`
	Email    string            `json:"email"` // the address, or a webhook's URL
	State    store.OutboxState `json:"state"`
	Attempts int               `json:"attempts"`
	Next     time.Time         `json:"next_attempt,omitzero"`
	SentAt   time.Time         `json:"sent_at,omitzero"`
	Error    string            `json:"error,omitempty"`
}

// Deliveries gives the per-recipient delivery status of a notice, every revision and reminder.
func (s *Service) Deliveries(ctx context.Context, notice int64) ([]Delivery, error) {
	rows, err := s.s.Outbox(ctx, store.OutboxFilter{Notice: notice})
	if err != nil {
		return nil, fmt.Errorf("notify: deliveries: %w", err)
	}
	emails, urls := map[int64]string{}, map[int64]string{}
	out := []Delivery{}
	for _, o := range rows {
		to := ""
		if o.Webhook != 0 {
			if _, ok := urls[o.Webhook]; !ok {
				w, err := s.s.Webhook(ctx, o.Webhook)
				if err != nil {
					return nil, fmt.Errorf("notify: deliveries: %w", err)
				}
				urls[o.Webhook] = w.URL
			}
			to = urls[o.Webhook]
		} else {
			if _, ok := emails[o.Subscription]; !ok {
				sub, err := s.s.Subscription(ctx, o.Subscription)
				if err != nil {
					return nil, fmt.Errorf("notify: deliveries: %w", err)
				}
				emails[o.Subscription] = sub.Email
			}
			to = emails[o.Subscription]
		}
		d := Delivery{Outbox: o.ID, Rev: o.Rev, Kind: o.Kind, Email: to, State: o.State,
			Attempts: o.Attempts, SentAt: o.SentAt, Error: o.Error}
		if o.State == store.OutboxPending {
			d.Next = o.NextAttempt
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Service) handleDeliveries(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	if _, err := s.s.Notice(r.Context(), pathID(r, "id")); err != nil {
		fail(w, p, err)
		return
	}
	d, err := s.Deliveries(r.Context(), pathID(r, "id"))
	if err != nil {
		fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Service) handleResend(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	if err := s.Resend(r.Context(), pathID(r, "id")); err != nil {
		fail(w, p, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webhookJSON is a webhook as its owner sees it; the secret only once, when it is made.
type webhookJSON struct {
	ID     int64             `json:"id"`
	System string            `json:"system"`
	URL    string            `json:"url"`
	Events []store.EventKind `json:"events"`
	Active bool              `json:"active"`
	Secret string            `json:"secret,omitempty"`
}

func hookJSON(w store.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, System: w.System, URL: w.URL, Events: w.Events, Active: w.Active}
}

func (s *Service) handleWebhooks(w http.ResponseWriter, r *http.Request, u User) {
	hooks, err := s.Webhooks(r.Context(), u)
	if err != nil {
		fail(w, langOf(r, u.Lang), err)
		return
	}
	out := []webhookJSON{}
	for _, h := range hooks {
		out = append(out, hookJSON(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) handleAddWebhook(w http.ResponseWriter, r *http.Request, u User) {
	p := langOf(r, u.Lang)
	var f WebhookForm
	if !s.decode(w, r, p, maxFormBody, &f) {
		return
	}
	h, err := s.AddWebhook(r.Context(), u, f)
	if err != nil {
		fail(w, p, err)
		return
	}
	j := hookJSON(h)
	j.Secret = h.Secret
	writeJSON(w, http.StatusCreated, j)
}

func (s *Service) handleWebhookActive(active bool) func(http.ResponseWriter, *http.Request, User) {
	return func(w http.ResponseWriter, r *http.Request, u User) {
		h, err := s.SetWebhookActive(r.Context(), u, pathID(r, "id"), active)
		if err != nil {
			fail(w, langOf(r, u.Lang), err)
			return
		}
		writeJSON(w, http.StatusOK, hookJSON(h))
	}
}
