package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Shared templates: the layout and the partials every page may use. Every other file in templates/ is a
// page, named after its file without .html.
var sharedTemplates = []string{"layout.html", "partials.html"}

// parseTemplates parses each page with the shared templates.
func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, prefixed(sharedTemplates)...)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".html") || isShared(name) {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name); err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages, nil
}

func prefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "templates/" + n
	}
	return out
}

func isShared(name string) bool {
	for _, s := range sharedTemplates {
		if s == name {
			return true
		}
	}
	return false
}

// funcs are the template functions that need no request (those that do are methods of Page).
var funcs = template.FuncMap{
	"query": func(pairs ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] != "" {
				v.Set(pairs[i], pairs[i+1])
			}
		}
		return template.URL(v.Encode())
	},
	"join": strings.Join,
	// dict hands a partial template the page and a value: {{template "txtable" (dict $ .Data.Transactions)}}.
	"dict": func(p *Page, v any) Sub { return Sub{P: p, V: v} },
	"add":  func(a, b int) int { return a + b },
	"list": func(v ...string) []string { return v },
}

// Sub is the dot of a partial template: the page (for T, Time, …) and the value it shows.
type Sub struct {
	P *Page
	V any
}

// Page is what every template gets as its dot: the request's person, language and CSRF token, the
// page's title key and the handler's data. Templates call its methods: {{.T "web.sites.title"}},
// {{.CSRF}} inside every form, {{.Time .Data.When}}.
type Page struct {
	Name  string // the page's template (without .html)
	Title string // a catalogue key
	User  *User  // nil when nobody is logged in
	Lang  i18n.Lang
	Path  string // the request's path, for the language switch and the "next" of a login
	Data  any
	// Nav is the menu entry to mark as current ("sites", "alarms", "notices", …).
	Nav string

	p    *i18n.Printer
	csrf string
	menu []MenuItem
}

// MenuItem is an entry of the menu that a part of the console adds (AddMenu).
type MenuItem struct {
	Name  string // what Page.Nav names to mark it current
	Href  string
	Title string // a catalogue key
	Roles []store.Role
}

// AddMenu adds an entry to the menu, after the console's own, shown to the people of roles (to all when
// none are given). Call it from a routes function (noticeRoutes, uploadRoutes).
func (s *Server) AddMenu(name, href, title string, roles ...store.Role) {
	s.menu = append(s.menu, MenuItem{Name: name, Href: href, Title: title, Roles: roles})
}

// Menu gives the added menu entries the page's person may see.
func (p *Page) Menu() []MenuItem {
	if p.User == nil {
		return nil
	}
	var out []MenuItem
	for _, m := range p.menu {
		if len(m.Roles) == 0 || p.User.Is(m.Roles...) {
			out = append(out, m)
		}
	}
	return out
}

// T translates a catalogue key with args in the page's language. A key missing from the catalogue comes
// out as the key itself (never an empty page); the tests forbid that anyway.
func (p *Page) T(key string, args ...any) string { return p.p.T(key, args...) }

// Tf is T with the arguments in a slice (for messages whose arguments a handler collected).
func (p *Page) Tf(key string, args []any) string { return p.p.T(key, args...) }

// CSRF is the hidden form field that every form posting to the console must hold.
func (p *Page) CSRF() template.HTML {
	return template.HTML(`<input type="hidden" name="` + csrfField + `" value="` + template.HTMLEscapeString(p.csrf) + `">`)
}

// CSRFToken is the session's CSRF token (for a form built otherwise, e.g. the X-CSRF-Token header).
func (p *Page) CSRFToken() string { return p.csrf }

// Time writes t in Sofia's time as the page's reader expects it ("" for the zero time).
func (p *Page) Time(t time.Time) string { return formatTime(t, p.Lang) }

// Num writes a decimal number (as records carry them) as the page's reader writes numbers: in
// Bulgarian a decimal comma and the digits of a number longer than four grouped by three with a
// no-break space (1 005 950,5); in English 1,005,950.5. What is not a plain decimal is left as it is.
func (p *Page) Num(s string) string { return formatNum(s, p.Lang) }

// formatNum writes the decimal s for a reader of language l (see Page.Num).
func formatNum(s string, l i18n.Lang) string { return i18n.Number(s, l) }

// Other is the language the switch offers.
func (p *Page) Other() i18n.Lang {
	if p.Lang == i18n.EN {
		return i18n.BG
	}
	return i18n.EN
}

// Is reports whether the person has one of the roles (by name: "operator", "officer", "admin").
func (p *Page) Is(roles ...string) bool {
	if p.User == nil {
		return false
	}
	for _, r := range roles {
		if string(p.User.Person.Role) == r {
			return true
		}
	}
	return false
}

// formatTime writes t in Sofia's time with the zone, as package watch writes it in its exports: the
// console and the files it serves must never disagree about when something happened.
func formatTime(t time.Time, l i18n.Lang) string { return watch.FormatTime(t, l) }

// Date writes a calendar date (YYYY-MM-DD, as package workday writes it) as the page's reader writes
// dates: 30.11.2026 in Bulgarian. What does not parse is left as it is.
func (p *Page) Date(s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || p.Lang == i18n.EN {
		return s
	}
	return d.Format("02.01.2006")
}

// Printer gives the printer of the request's language: the lang cookie (set by the language switch),
// else Accept-Language, else Bulgarian.
func (s *Server) Printer(r *http.Request) *i18n.Printer { return i18n.For(requestLang(r)) }

const langCookie = "akciz_lang"

func requestLang(r *http.Request) i18n.Lang {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "bg" || c.Value == "en") {
		return i18n.Lang(c.Value)
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// acceptLanguage picks bg or en from an Accept-Language header by its q-values; Bulgarian when neither
// is named or the header does not parse.
func acceptLanguage(h string) i18n.Lang {
	type choice struct {
		lang i18n.Lang
		q    float64
		i    int
	}
	var cs []choice
	for i, part := range strings.Split(h, ",") {
		if i >= 32 {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		var l i18n.Lang
		switch {
		case tag == "bg" || strings.HasPrefix(tag, "bg-"):
			l = i18n.BG
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = i18n.EN
		default:
			continue
		}
		if q > 0 {
			cs = append(cs, choice{l, q, i})
		}
	}
	if len(cs) == 0 {
		return i18n.BG
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].q > cs[b].q })
	return cs[0].lang
}

// NewPage gives the Page a handler fills and renders: the person, the language and the CSRF token of r.
func (s *Server) NewPage(r *http.Request, name, title string, data any) *Page {
	u := UserOf(r)
	p := &Page{Name: name, Title: title, User: u, Lang: requestLang(r), Path: r.URL.RequestURI(), Data: data}
	p.p = i18n.For(p.Lang)
	p.menu = s.menu
	if u != nil {
		p.csrf = u.Session.CSRF
	}
	return p
}

// Render renders the page template name (templates/<name>.html inside the layout) with data, titled by
// the catalogue key title, with status 200.
func (s *Server) Render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	s.RenderPage(w, r, http.StatusOK, s.NewPage(r, name, title, data))
}

// RenderPage renders p with status. The page is rendered into a buffer first, so that a template
// error is a clean 500, never half a page.
func (s *Server) RenderPage(w http.ResponseWriter, r *http.Request, status int, p *Page) {
	t, ok := s.pages[p.Name]
	if !ok {
		s.fail(w, r, fmt.Errorf("no page template %q", p.Name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.fail(w, r, fmt.Errorf("render %s: %w", p.Name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", string(p.Lang))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorData is the error page's data.
type errorData struct {
	Status  int
	Message string // a catalogue key
	Args    []any
}

// Error answers with the error page: status and the catalogue text key (with args).
func (s *Server) Error(w http.ResponseWriter, r *http.Request, status int, key string, args ...any) {
	p := s.NewPage(r, "error", "web.error.title", errorData{Status: status, Message: key, Args: args})
	s.RenderPage(w, r, status, p)
}

// NotFound answers 404. It is also the answer for a site, alarm or file the person may not see, so that
// nobody learns what exists beyond its own sites.
func (s *Server) NotFound(w http.ResponseWriter, r *http.Request) {
	s.Error(w, r, http.StatusNotFound, "web.error.not_found")
}

// fail answers 500 and logs the cause (never shown to the person).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Printf("%s %s: %v", r.Method, r.URL.Path, err)
	http.Error(w, i18n.For(requestLang(r)).T("web.error.internal"), http.StatusInternalServerError)
}

// Fail answers 500 for err, which goes to the server's log, not to the person.
func (s *Server) Fail(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, err) }

// localPath gives next if it is a path on this site (no scheme, no host, no //), else "/".
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return path.Clean(u.EscapedPath()) + func() string {
		if u.RawQuery != "" {
			return "?" + u.RawQuery
		}
		return ""
	}()
}

// setLang is the language switch: GET /lang/{lang}?next=… sets the cookie and goes back.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	l := r.PathValue("lang")
	if l != "bg" && l != "en" {
		s.NotFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// State names a site's state (or "alarm").
func (p *Page) State(st any) string { return stateName(p.p, fmt.Sprint(st)) }

// Event names an event kind.
func (p *Page) Event(k core.EventKind) string { return eventName(p.p, k) }

// Direction names a direction.
func (p *Page) Direction(d core.Direction) string { return directionName(p.p, d) }

// AlarmKind names a kind of alarm (the catalogue of package watch, "watch.kind.<kind>").
func (p *Page) AlarmKind(k store.AlarmKind) string { return alarmKindName(p.p, k) }

// AlarmState names an alarm's state.
func (p *Page) AlarmState(st store.AlarmState) string { return alarmStateName(p.p, st) }

// Role names a person's role.
func (p *Page) Role(r store.Role) string {
	key := "web.role." + string(r)
	return p.p.T(key)
}

// Yes writes "yes" for true and nothing for false.
func (p *Page) Yes(b bool) string { return yesNo(p.p, b) }

// Verdict names a configuration version's verdict.
func (p *Page) Verdict(v store.ConfigVerdict) string {
	key := "web.verdict." + string(v)
	return p.p.T(key)
}

// AlarmAction names what an entry of an alarm's history did.
func (p *Page) AlarmAction(a store.AlarmAction) string {
	key := "web.alarm_action." + string(a)
	if !i18n.Has(p.Lang, key) {
		return string(a)
	}
	return p.p.T(key)
}

// name translates the catalogue key prefix+code, or gives the code itself when the catalogue has no
// such key (a code added elsewhere later still shows, as what it is).
func (p *Page) name(prefix, code string) string { return codeName(p.p, prefix, code) }

func codeName(pr *i18n.Printer, prefix, code string) string {
	key := prefix + code
	if !i18n.Has(pr.Lang(), key) {
		return code
	}
	return pr.T(key)
}

// NoticeChange names the change a product-code notice is about ("added", "removed"; чл. 26(3)–(4)).
func (p *Page) NoticeChange(c string) string { return p.name("web.notice_change.", c) }

// ComparisonKind names a kind of comparison (чл. 20 three-way, чл. 27 test data).
func (p *Page) ComparisonKind(k store.ComparisonKind) string {
	return p.name("web.comparison.", string(k))
}

// IncidentKind names what went wrong with a delivery the intake refused or doubted.
func (p *Page) IncidentKind(k store.IncidentKind) string { return p.name("web.incident.", string(k)) }

// AuditAction names an action of the audit log ("alarm.acknowledged", "config.upload", …).
func (p *Page) AuditAction(a string) string { return p.name("web.audit_action.", a) }

// Actor names who made an entry of a history by its role: a person's role, or the system itself
// ("engine", the watch engine).
func (p *Page) Actor(role string) string { return p.name("web.role.", role) }

// ValueRole names what a tag measures (core.Role: "total-volume", "flow", …).
func (p *Page) ValueRole(r core.Role) string { return p.name("web.value_role.", string(r)) }

// Quality names a value's quality flag (core.Quality: "below-limit", "stale", …).
func (p *Page) Quality(q core.Quality) string { return p.name("web.quality.", string(q)) }
