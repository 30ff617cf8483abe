package web

import (
	"io/fs"
	"net/http"

	"github.com/akciz/akciz/internal/store"
)

// route is one page or action of the console. The list is the one place that says which URL does what,
// and the access tests walk it: every route with a site, a device, a point or an alarm in its path is
// tried by a person who may not see it.
type route struct {
	pattern string // http.ServeMux pattern, with method
	handler http.Handler
}

// table lists the console's own routes. Page wraps what a logged-in person reads (GET), Action what
// changes something (POST, with the CSRF token), Only narrows to roles.
func (s *Server) table() []route {
	return []route{
		{"GET /{$}", s.Page(s.home)},
		{"GET /login", http.HandlerFunc(s.login)},
		{"POST /logout", s.Action(s.logout)},
		{"GET /lang/{lang}", http.HandlerFunc(s.setLang)},

		{"GET /sites", s.Page(s.sitesPage)},
		{"GET /export/sites/{format}", s.Page(s.sitesExport)},
		{"GET /sites/{warehouse}", s.Page(s.sitePage)},
		{"GET /sites/{warehouse}/points/{point}", s.Page(s.pointPage)},
		{"GET /sites/{warehouse}/points/{point}/chart.svg", s.Page(s.pointChart)},
		{"GET /sites/{warehouse}/transactions", s.Page(s.transactionsPage)},
		{"GET /sites/{warehouse}/events", s.Page(s.eventsPage)},
		{"GET /sites/{warehouse}/export/{table}/{format}", s.Page(s.siteExport)},

		{"GET /audit", s.Page(s.Only(s.auditPage, store.RoleAdmin))},
		{"GET /people", s.Page(s.Only(s.peoplePage, store.RoleAdmin))},
		{"POST /people", s.Action(s.Only(s.addPerson, store.RoleAdmin))},
		{"POST /people/{person}/disable", s.Action(s.Only(s.setDisabled(true), store.RoleAdmin))},
		{"POST /people/{person}/enable", s.Action(s.Only(s.setDisabled(false), store.RoleAdmin))},
	}
}

// routes registers every route of the console on mux, with the static files and the pages of the
// notices and the submissions (notices.go, uploads.go).
func (s *Server) routes(mux *http.ServeMux) {
	for _, rt := range s.table() {
		mux.Handle(rt.pattern, rt.handler)
	}
	for _, rt := range s.watchTable() {
		mux.Handle(rt.pattern, rt.handler)
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	s.noticeRoutes(mux)
	s.uploadRoutes(mux)
}

// home sends the person to the sites list.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/sites", http.StatusSeeOther)
}
