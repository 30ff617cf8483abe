package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/notify"
	"github.com/akciz/akciz/internal/store"
)

// The pages of the e-Portal's service „Обратна връзка с ИО“ (docs/notices.md): the subscription form
// with „Заяви“ and the person's subscriptions (activate, deactivate, edit), and the administrator's
// publishing with each notice's per-recipient delivery status. The rules are package notify's; these
// handlers turn forms into its calls and its refusals into messages next to the fields.

// noticePages holds the notices service the pages call.
type noticePages struct {
	s   *Server
	svc *notify.Service
}

// noticeRoutes adds the pages of the e-Portal's notices and subscriptions.
func (s *Server) noticeRoutes(mux *http.ServeMux) {
	svc := s.notices // akciz server's, with its reminders and its worker
	if svc == nil {
		// Without the server's service (a console on its own, the tests): one over the same store that
		// saves and publishes with the default reminders; whatever sends mail sends what it queues.
		var err error
		svc, err = notify.New(s.store, notify.Config{From: mail.Address{Address: "notices@akciz.invalid"}, Clock: clock{s.cfg.Now}})
		if err != nil {
			panic("web: " + err.Error()) // the configuration above is constant
		}
	}
	n := &noticePages{s: s, svc: svc}
	mux.Handle("GET /notices", s.Page(n.subscriptions))
	mux.Handle("POST /notices/subscribe", s.Action(n.subscribe))
	mux.Handle("POST /notices/{id}/activate", s.Action(n.activate(true)))
	mux.Handle("POST /notices/{id}/deactivate", s.Action(n.activate(false)))
	mux.Handle("POST /notices/webhooks", s.Action(n.addWebhook))
	mux.Handle("POST /notices/webhooks/{id}/activate", s.Action(n.webhookActive(true)))
	mux.Handle("POST /notices/webhooks/{id}/deactivate", s.Action(n.webhookActive(false)))
	mux.Handle("GET /notices/admin", s.Page(s.Only(n.adminList, store.RoleAdmin)))
	mux.Handle("POST /notices/admin/publish", s.Action(s.Only(n.publish, store.RoleAdmin)))
	mux.Handle("GET /notices/admin/{id}", s.Page(s.Only(n.adminNotice, store.RoleAdmin)))
	mux.Handle("POST /notices/admin/{id}/revise", s.Action(s.Only(n.revise, store.RoleAdmin)))
	mux.Handle("POST /notices/admin/outbox/{id}/resend", s.Action(s.Only(n.resend, store.RoleAdmin)))
	s.AddMenu("notices", "/notices", "notices.web.nav")
}

// noticeUser is the logged-in person as package notify knows a user: "person:<id>", the operator's EIK
// and the certificate of the session (the grants may name either), and the e-mail address the FAQ
// pre-fills: the one written in the certificate the person logged in with, else the person's address
// in the console (which an administrator registered). The name is the console's, else the certificate's.
func (n *noticePages) noticeUser(r *http.Request) notify.User {
	u := UserOf(r)
	nu := notify.CertificateUser(n.s.clientCertificate(r))
	nu.ID, nu.EIK, nu.Certificate = fmt.Sprintf("person:%d", u.Person.ID), u.Person.Operator, u.Session.Certificate
	nu.Lang, nu.Admin = requestLang(r), u.Is(store.RoleAdmin)
	if nu.Email == "" {
		nu.Email = u.Person.Email
	}
	if f := strings.Fields(u.Person.Name); len(f) > 0 {
		nu.FirstName, nu.LastName = f[0], strings.Join(f[1:], " ")
	}
	return nu
}

// subscriptionsData is the subscription page: the form (new or being edited), its refusals by field,
// the systems the person may follow, and the person's subscriptions.
type subscriptionsData struct {
	Form    notify.Form
	Editing int64
	Errors  map[string]string
	Saved   string // the message after „Заяви“
	Systems []store.InfoSystem
	Subs    []store.Subscription
	Names   map[string]string // system code → name in the page's language
	Hooks   []store.Webhook
	// Secret is a new webhook's secret, shown this once; HookErrors the refusal of the webhook form.
	Secret     string
	HookErrors map[string]string
}

// Has reports whether the form's events include e (for the checkboxes).
func (d *subscriptionsData) Has(e string) bool {
	for _, x := range d.Form.Events {
		if string(x) == e {
			return true
		}
	}
	return false
}

func (n *noticePages) subscriptions(w http.ResponseWriter, r *http.Request) {
	u := n.noticeUser(r)
	d := &subscriptionsData{Form: notify.Prefill(u)}
	if id, err := strconv.ParseInt(r.URL.Query().Get("edit"), 10, 64); err == nil {
		sub, err := n.own(r, u, id)
		if err != nil {
			n.s.NotFound(w, r)
			return
		}
		d.Editing = id
		d.Form = notify.Form{FirstName: sub.FirstName, LastName: sub.LastName, Email: sub.Email, System: sub.System,
			Events: sub.Events, Delivery: sub.Delivery, Lang: sub.Lang}
	}
	if id, err := strconv.ParseInt(r.URL.Query().Get("saved"), 10, 64); err == nil {
		if sub, err := n.own(r, u, id); err == nil {
			d.Saved = n.s.Printer(r).T("notify.saved")
			if !sub.Confirmed {
				d.Saved = n.s.Printer(r).T("notify.saved_confirm", sub.Email)
			}
		}
	}
	n.render(w, r, u, d, http.StatusOK)
}

func (n *noticePages) own(r *http.Request, u notify.User, id int64) (store.Subscription, error) {
	subs, err := n.svc.Subscriptions(r.Context(), u)
	if err != nil {
		return store.Subscription{}, err
	}
	for _, s := range subs {
		if s.ID == id {
			return s, nil
		}
	}
	return store.Subscription{}, notify.ErrNotFound
}

func (n *noticePages) render(w http.ResponseWriter, r *http.Request, u notify.User, d *subscriptionsData, status int) {
	ctx := r.Context()
	var err error
	if d.Systems, err = n.svc.Systems(ctx, u); err != nil {
		n.s.Fail(w, r, err)
		return
	}
	if d.Subs, err = n.svc.Subscriptions(ctx, u); err != nil {
		n.s.Fail(w, r, err)
		return
	}
	if d.Hooks, err = n.svc.Webhooks(ctx, u); err != nil {
		n.s.Fail(w, r, err)
		return
	}
	all, err := n.s.store.Systems(ctx)
	if err != nil {
		n.s.Fail(w, r, err)
		return
	}
	d.Names = map[string]string{}
	for _, sys := range all {
		d.Names[sys.Code] = sys.Name
		if requestLang(r) == i18n.EN && sys.NameEN != "" {
			d.Names[sys.Code] = sys.NameEN
		}
	}
	n.page(w, r, status, "notices", "notices.web.title", d)
}

// page renders a page of the notices (templates/<name>.html), under the menu's notices.
func (n *noticePages) page(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := n.s.NewPage(r, name, title, data)
	p.Nav = "notices"
	n.s.RenderPage(w, r, status, p)
}

// fieldErrors puts a refusal's messages by field, in the page's language.
func fieldErrors(p *i18n.Printer, err error) map[string]string {
	var fe notify.Errors
	out := map[string]string{}
	switch {
	case errors.As(err, &fe):
		for _, f := range fe {
			if _, dup := out[f.Field]; !dup {
				out[f.Field] = p.Msg(f.Msg)
			}
		}
	case errors.Is(err, store.ErrDuplicate):
		out["system"] = p.T("notify.api.duplicate")
	}
	return out
}

// subscribe is „Заяви“: a new subscription, or the edit of one (field "id").
func (n *noticePages) subscribe(w http.ResponseWriter, r *http.Request) {
	u := n.noticeUser(r)
	f := notify.Form{FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"),
		Email: r.PostFormValue("email"), System: r.PostFormValue("system"), Delivery: store.Delivery(r.PostFormValue("delivery")),
		Lang: r.PostFormValue("lang")}
	for _, e := range r.PostForm["events"] {
		f.Events = append(f.Events, store.EventKind(e))
	}
	id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	var sub store.Subscription
	var err error
	if id > 0 {
		sub, err = n.svc.Edit(r.Context(), u, id, f)
	} else {
		sub, err = n.svc.Subscribe(r.Context(), u, f)
	}
	if errors.Is(err, notify.ErrNotFound) {
		n.s.NotFound(w, r)
		return
	}
	if errs := fieldErrors(n.s.Printer(r), err); len(errs) > 0 {
		n.render(w, r, u, &subscriptionsData{Form: f, Editing: id, Errors: errs}, http.StatusUnprocessableEntity)
		return
	}
	if err != nil {
		n.s.Fail(w, r, err)
		return
	}
	action := "notices.subscribe"
	if id > 0 {
		action = "notices.edit"
	}
	n.s.Audit(r, action, "", "subscription "+strconv.FormatInt(sub.ID, 10), sub.System+" "+sub.Email)
	http.Redirect(w, r, "/notices?saved="+strconv.FormatInt(sub.ID, 10), http.StatusSeeOther)
}

func (n *noticePages) activate(active bool) http.HandlerFunc {
	return n.toggle(func(r *http.Request, id int64) (auditNote, error) {
		sub, err := n.svc.SetActive(r.Context(), n.noticeUser(r), id, active)
		note := auditNote{action: "notices.deactivate", object: "subscription " + strconv.FormatInt(sub.ID, 10), detail: sub.System}
		if active {
			note.action = "notices.activate"
		}
		return note, err
	})
}

// auditNote is what the audit log writes of an action (Server.Audit's action, object and detail).
type auditNote struct{ action, object, detail string }

// toggle is the action of a button that activates or deactivates a subscription or a webhook: set
// changes the one with the path's id and says what the audit log writes of it; then back to the list.
func (n *noticePages) toggle(set func(r *http.Request, id int64) (auditNote, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		note, err := set(r, id)
		if errors.Is(err, notify.ErrNotFound) {
			n.s.NotFound(w, r)
			return
		}
		if err != nil {
			n.s.Fail(w, r, err)
			return
		}
		n.s.Audit(r, note.action, "", note.object, note.detail)
		http.Redirect(w, r, "/notices", http.StatusSeeOther)
	}
}

// addWebhook registers a webhook and shows its secret once.
func (n *noticePages) addWebhook(w http.ResponseWriter, r *http.Request) {
	u := n.noticeUser(r)
	f := notify.WebhookForm{System: r.PostFormValue("system"), URL: strings.TrimSpace(r.PostFormValue("url"))}
	for _, e := range r.PostForm["events"] {
		f.Events = append(f.Events, store.EventKind(e))
	}
	d := &subscriptionsData{Form: notify.Prefill(u)}
	h, err := n.svc.AddWebhook(r.Context(), u, f)
	if errs := fieldErrors(n.s.Printer(r), err); len(errs) > 0 {
		d.HookErrors = errs
		n.render(w, r, u, d, http.StatusUnprocessableEntity)
		return
	}
	if err != nil {
		n.s.Fail(w, r, err)
		return
	}
	n.s.Audit(r, "notices.webhook", "", "webhook "+strconv.FormatInt(h.ID, 10), h.System+" "+h.URL)
	d.Secret = h.Secret
	n.render(w, r, u, d, http.StatusCreated)
}

func (n *noticePages) webhookActive(active bool) http.HandlerFunc {
	return n.toggle(func(r *http.Request, id int64) (auditNote, error) {
		h, err := n.svc.SetWebhookActive(r.Context(), n.noticeUser(r), id, active)
		return auditNote{action: "notices.webhook_active", object: "webhook " + strconv.FormatInt(h.ID, 10), detail: strconv.FormatBool(active)}, err
	})
}

// adminData is the administrator's notices page: the latest notices, the catalogue, and the publishing
// form with its refusals.
type adminData struct {
	Notices []store.Notice
	Systems []store.InfoSystem
	Form    url.Values
	Errors  map[string]string
}

// V gives a field of the form being refilled.
func (d *adminData) V(name string) string { return d.Form.Get(name) }

func (n *noticePages) adminList(w http.ResponseWriter, r *http.Request) {
	n.renderAdmin(w, r, &adminData{Form: url.Values{}}, http.StatusOK)
}

func (n *noticePages) renderAdmin(w http.ResponseWriter, r *http.Request, d *adminData, status int) {
	ctx := r.Context()
	var err error
	if d.Notices, err = n.s.store.Notices(ctx, store.NoticeFilter{Limit: 100}); err != nil {
		n.s.Fail(w, r, err)
		return
	}
	if d.Systems, err = n.s.store.Systems(ctx); err != nil {
		n.s.Fail(w, r, err)
		return
	}
	n.page(w, r, status, "notices_admin", "notices.web.admin_title", d)
}

// formTime reads a datetime-local field as Sofia's time.
func formTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation("2006-01-02T15:04", v, notify.Sofia)
}

// publication reads the publishing form (multipart, with the file).
func publication(r *http.Request) (notify.Publication, map[string]string) {
	v := r.PostForm
	p := notify.Publication{System: v.Get("system"), Kind: store.NoticeKind(v.Get("kind")), Action: store.Action(v.Get("action")),
		Title: v.Get("title"), Text: v.Get("text"), TitleEN: v.Get("title_en"), TextEN: v.Get("text_en"), Link: v.Get("link"),
		Planned: v.Get("planned") != "", CodeList: v.Get("code_list"), Version: v.Get("version"), EUCommon: v.Get("eu_common") != ""}
	bad := map[string]string{}
	var err error
	if p.Start, err = formTime(v.Get("start")); err != nil {
		bad["start"] = "notices.web.bad_time"
	}
	if p.End, err = formTime(v.Get("end")); err != nil {
		bad["end"] = "notices.web.bad_time"
	}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			f, err := fhs[0].Open()
			if err == nil {
				p.File, err = io.ReadAll(io.LimitReader(f, notify.MaxFile+1))
				f.Close()
			}
			if err != nil {
				bad["file"] = "notices.web.bad_file"
			}
			p.FileName, p.FileType = fhs[0].Filename, fhs[0].Header.Get("Content-Type")
		}
	}
	return p, bad
}

func (n *noticePages) publish(w http.ResponseWriter, r *http.Request) {
	p, bad := publication(r)
	n.publishForm(w, r, p, bad, func(notice store.Notice) {
		n.s.Audit(r, "notices.publish", "", "notice "+strconv.FormatInt(notice.ID, 10), string(notice.Kind)+" "+notice.System)
		http.Redirect(w, r, "/notices/admin/"+strconv.FormatInt(notice.ID, 10), http.StatusSeeOther)
	}, func(bad map[string]string) {
		n.renderAdmin(w, r, &adminData{Form: r.PostForm, Errors: bad}, http.StatusUnprocessableEntity)
	})
}

// publishForm publishes p, a new notice or a revision of p.Notice read from a form, unless reading the
// form found faults (bad: catalogue keys by field). Then done answers with the notice published, or
// again shows the form once more with the refusals by field in the page's language; a revision of a
// notice that is not there is not found, and a failure of the store is the server's.
func (n *noticePages) publishForm(w http.ResponseWriter, r *http.Request, p notify.Publication, bad map[string]string,
	done func(store.Notice), again func(bad map[string]string)) {
	pr := n.s.Printer(r)
	if len(bad) > 0 {
		for k, key := range bad {
			bad[k] = pr.T(key)
		}
		again(bad)
		return
	}
	notice, err := n.svc.Publish(r.Context(), UserOf(r).Person.Name, p)
	if p.Notice != 0 && errors.Is(err, store.ErrNotFound) {
		n.s.NotFound(w, r)
		return
	}
	if err == nil {
		done(notice)
		return
	}
	if bad = fieldErrors(pr, err); len(bad) == 0 {
		n.s.Fail(w, r, err)
		return
	}
	again(bad)
}

// noticeData is one notice for the administrator: its revisions, each message's delivery, and the
// form of a new revision.
type noticeData struct {
	Notice     store.Notice
	Deliveries []notify.Delivery
	Actions    []store.Action
	Errors     map[string]string
	Closed     bool
}

func (n *noticePages) adminNotice(w http.ResponseWriter, r *http.Request) {
	n.renderNotice(w, r, nil, http.StatusOK)
}

func (n *noticePages) renderNotice(w http.ResponseWriter, r *http.Request, errs map[string]string, status int) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	notice, err := n.s.store.Notice(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		n.s.NotFound(w, r)
		return
	}
	if err != nil {
		n.s.Fail(w, r, err)
		return
	}
	d := &noticeData{Notice: notice, Errors: errs}
	if d.Deliveries, err = n.svc.Deliveries(r.Context(), id); err != nil {
		n.s.Fail(w, r, err)
		return
	}
	last := notice.Latest()
	d.Closed = last.Action == store.ActionCancel || last.Action == store.ActionEnd
	d.Actions = []store.Action{store.ActionUpdate}
	if notice.Kind == store.NoticeOperability {
		d.Actions = []store.Action{store.ActionChange, store.ActionEnd}
		if last.Planned {
			d.Actions = []store.Action{store.ActionChange, store.ActionCancel, store.ActionEnd}
		}
	}
	n.page(w, r, status, "notices_notice", "notices.web.notice_title", d)
}

func (n *noticePages) revise(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	p, bad := publication(r)
	p.Notice, p.System, p.Kind = id, "", ""
	n.publishForm(w, r, p, bad, func(notice store.Notice) {
		n.s.Audit(r, "notices.revise", "", "notice "+strconv.FormatInt(id, 10), string(notice.Latest().Action))
		http.Redirect(w, r, "/notices/admin/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	}, func(bad map[string]string) {
		n.renderNotice(w, r, bad, http.StatusUnprocessableEntity)
	})
}

func (n *noticePages) resend(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := n.svc.Resend(r.Context(), id); err != nil {
		n.s.NotFound(w, r)
		return
	}
	n.s.Audit(r, "notices.resend", "", "outbox "+strconv.FormatInt(id, 10), "")
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}
