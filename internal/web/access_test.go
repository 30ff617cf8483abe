package web

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// routeRule says who may reach a route of the console; the access walk checks it.
type routeRule int

const (
	ruleOpen     routeRule = iota + 1 // no session needed: the login, the language switch, the static files
	ruleAny                           // every person logged in; what it lists is narrowed to what the person sees
	ruleSite                          // names a site or a site's object: 404 for a person who may not see the site
	ruleAlarm                         // names an alarm: 404 for a person who may not see the alarm's site
	ruleAdmin                         // administrators only: 404 for everyone else
	ruleOperator                      // operators only (their own files): 404 for everyone else
	ruleOwn                           // a person's own object (a subscription, a webhook, a report of its upload): 404 for anyone else's (notices_test.go, uploads_test.go)
)

// accessRules is the access rule of every route of the console, wherever in the package it is
// registered (routes.go, alarms.go, lifecycle.go, notices.go, uploads.go). TestAccessRulesCoverEveryRoute
// fails for a route that is not here: whoever adds a route says here who may reach it, and the walk
// then tries it.
var accessRules = map[string]routeRule{
	"GET /{$}":                   ruleAny,
	"GET /login":                 ruleOpen,
	"POST /logout":               ruleAny,
	"GET /lang/{lang}":           ruleOpen,
	"GET /static/":               ruleOpen,
	"GET /sites":                 ruleAny,
	"GET /export/sites/{format}": ruleAny,

	"GET /sites/{warehouse}":                                      ruleSite,
	"GET /sites/{warehouse}/points/{point}":                       ruleSite,
	"GET /sites/{warehouse}/points/{point}/chart.svg":             ruleSite,
	"GET /sites/{warehouse}/transactions":                         ruleSite,
	"GET /sites/{warehouse}/events":                               ruleSite,
	"GET /sites/{warehouse}/export/{table}/{format}":              ruleSite,
	"GET /sites/{warehouse}/lifecycle":                            ruleSite,
	"POST /sites/{warehouse}/move":                                ruleSite,
	"POST /sites/{warehouse}/config":                              ruleSite,
	"GET /sites/{warehouse}/config/{version}":                     ruleSite,
	"GET /sites/{warehouse}/config/{version}/file":                ruleSite,
	"GET /sites/{warehouse}/config/{version}/modbus-map/{format}": ruleSite,
	"POST /sites/{warehouse}/product-notices/{notice}/given":      ruleSite,
	"POST /sites/{warehouse}/threeway":                            ruleSite,
	"GET /sites/{warehouse}/comparisons/{comparison}/{format}":    ruleSite,
	"POST /sites/{warehouse}/commissioning":                       ruleSite,
	"GET /sites/{warehouse}/commissionings/{commissioning}/pdf":   ruleSite,

	"GET /alarms":                 ruleAny,
	"GET /alarms/export/{format}": ruleAny,
	"GET /alarms/{id}":            ruleAlarm,
	"POST /alarms/{id}/ack":       ruleAlarm,
	"POST /alarms/{id}/close":     ruleAlarm,
	"POST /alarms/{id}/note":      ruleAlarm,

	"GET /audit":                    ruleAdmin,
	"GET /people":                   ruleAdmin,
	"POST /people":                  ruleAdmin,
	"POST /people/{person}/disable": ruleAdmin,
	"POST /people/{person}/enable":  ruleAdmin,

	"GET /notices":                           ruleAny,
	"POST /notices/subscribe":                ruleAny,
	"POST /notices/{id}/activate":            ruleOwn,
	"POST /notices/{id}/deactivate":          ruleOwn,
	"POST /notices/webhooks":                 ruleAny,
	"POST /notices/webhooks/{id}/activate":   ruleOwn,
	"POST /notices/webhooks/{id}/deactivate": ruleOwn,
	"GET /notices/admin":                     ruleAdmin,
	"POST /notices/admin/publish":            ruleAdmin,
	"GET /notices/admin/{id}":                ruleAdmin,
	"POST /notices/admin/{id}/revise":        ruleAdmin,
	"POST /notices/admin/outbox/{id}/resend": ruleAdmin,

	"GET /uploads":                  ruleAny,
	"GET /uploads/reports/{report}": ruleOwn,
	"POST /uploads/sepi":            ruleOperator,
	"POST /uploads/energy":          ruleOperator,
}

// routePatternRE recognises a http.ServeMux pattern with a method among a file's string literals.
var routePatternRE = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /`)

// sourceRoutes finds every route pattern the package's code names (every string literal that is a
// pattern with a method), in whichever file and by whichever function it is registered.
func sourceRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	must(t, err)
	fset := token.NewFileSet()
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		must(t, err)
		af, err := parser.ParseFile(fset, f, src, 0)
		must(t, err)
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if v, err := strconv.Unquote(lit.Value); err == nil && routePatternRE.MatchString(v) {
				seen[v] = true
			}
			return true
		})
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// TestAccessRulesCoverEveryRoute: every route the package registers has an access rule, and every rule
// is of a route that exists. A new route without a rule fails here.
func TestAccessRulesCoverEveryRoute(t *testing.T) {
	routes := sourceRoutes(t)
	x := newTestServer(t)
	// The scan sees at least the routes of the console's own tables (it would find nothing if broken).
	for _, rt := range append(x.web.table(), x.web.watchTable()...) {
		if !slices.Contains(routes, rt.pattern) {
			t.Fatalf("the source scan missed %q", rt.pattern)
		}
	}
	for _, p := range routes {
		if _, ok := accessRules[p]; !ok {
			t.Errorf("route %q has no access rule: add it to accessRules (access_test.go), and the walk will try it", p)
		}
	}
	for p := range accessRules {
		if !slices.Contains(routes, p) {
			t.Errorf("access rule for %q, which no code registers", p)
		}
	}
}

// fills gives the request paths of a route pattern with its wildcards set to site B's objects (which
// operator A and the officer of office A may not see): every format of a download and every table of
// an export.
func (x *testServer) fills(pattern string) (method string, paths []string) {
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	r := strings.NewReplacer("{warehouse}", siteB, "{point}", pointB, "{device}", deviceB,
		"{version}", "1", "{lang}", "en", "{comparison}", strconv.FormatInt(x.comparisonB, 10),
		"{commissioning}", strconv.FormatInt(x.commissioningB, 10), "{notice}", strconv.FormatInt(x.noticeB, 10),
		"{person}", strconv.FormatInt(x.people["operatorB"].ID, 10), "{report}", "1")
	path = r.Replace(path)
	if strings.HasPrefix(path, "/alarms/") {
		path = strings.Replace(path, "{id}", strconv.FormatInt(x.alarmB, 10), 1)
	} else {
		path = strings.Replace(path, "{id}", "1", 1) // a notice, a subscription: of nobody the walk is
	}
	paths = []string{path}
	for _, wild := range []struct {
		name   string
		values []string
	}{
		{"{table}", []string{"transactions", "events", "incidents", "readings", "alarms", "audit"}},
		{"{format}", []string{"csv", "xlsx", "pdf"}},
	} {
		var next []string
		for _, p := range paths {
			if !strings.Contains(p, wild.name) {
				next = append(next, p)
				continue
			}
			for _, v := range wild.values {
				next = append(next, strings.Replace(p, wild.name, v, 1))
			}
		}
		paths = next
	}
	for i, p := range paths {
		if strings.Contains(p, "/export/readings/") {
			paths[i] = p + "?point=" + pointB
		}
	}
	if strings.HasSuffix(pattern, "/chart.svg") {
		paths[0] += "?tag=GOV_TOTAL"
	}
	return method, paths
}

// siteObjects are the wildcards of a site's objects in the routes under /sites/{warehouse}/.
var siteObjects = []string{"{point}", "{version}", "{notice}", "{comparison}", "{commissioning}"}

// secretsOfB are what no page or file shown to operator A or officer A may contain: site B's warehouse
// number, operator, name and point.
var secretsOfB = []string{siteB, "Петрол Б", "Склад Русе", "Естакада Русе", eikB}

// TestAccessEveryRoute walks every route of the console (accessRules) as operator A and as the officer
// of office A, with site B's objects in the path: the routes that name them answer 404 (never 403, which
// would tell that they exist), the administrators' and the operators' pages 404 to others, and no page,
// export, chart or protocol mentions site B. Then the routes naming a site are walked as an
// administrator with site A in the path and site B's objects after it: 404 too (an object is found only
// under its own site).
func TestAccessEveryRoute(t *testing.T) {
	x := newFullServer(t)
	routes := sourceRoutes(t)
	for _, who := range []string{"operator", "officer"} {
		c := x.client(who).login()
		token := c.csrf()
		for _, pattern := range routes {
			if pattern == "POST /logout" {
				continue // it ends the session the walk uses; TestLogout covers it
			}
			rule := accessRules[pattern]
			method, paths := x.fills(pattern)
			for _, path := range paths {
				t.Run(who+" "+method+" "+path, func(t *testing.T) {
					if strings.Contains(path, "{") {
						t.Fatalf("pattern %s has a wildcard the test does not fill", pattern)
					}
					var code int
					var body string
					if method == http.MethodPost {
						code, body = c.post(path, url.Values{"csrf": {token}, "comment": {"опит"}, "to": {"live"}, "reason": {"x"},
							"values": {pointB + ";2026-11-22T11:00:00Z;GOV_TOTAL;1"}, "protocol": {"1"}, "name": {"X"}, "role": {"admin"}})
					} else {
						code, body = c.get(path)
					}
					want404 := false
					switch rule {
					case ruleSite, ruleAlarm, ruleAdmin, ruleOwn:
						want404 = true
					case ruleOperator:
						want404 = who != "operator"
					}
					if want404 && code != http.StatusNotFound {
						t.Errorf("%s %s as %s: %d, want 404", method, path, who, code)
					}
					// The page may echo its own address (the language switch's next=); that tells nothing.
					body = strings.ReplaceAll(body, url.QueryEscape(path), "")
					for _, secret := range secretsOfB {
						if strings.Contains(body, secret) {
							t.Errorf("%s %s as %s shows %q", method, path, who, secret)
						}
					}
				})
			}
		}
	}
	if p, _ := x.st.Person(context.Background(), x.people["operatorB"].ID); p.Disabled {
		t.Error("the walk disabled a person")
	}
	if a, _ := x.st.Alarm(context.Background(), x.alarmB); a.State != store.AlarmStateOpen {
		t.Errorf("the walk changed site B's alarm: %s", a.State)
	}
	if s, _ := x.st.Site(context.Background(), siteB); s.State != store.SiteTesting {
		t.Errorf("the walk moved site B: %s", s.State)
	}

	// An administrator sees both sites, but an object of site B is not found under site A's address.
	adm := x.client("admin").login()
	for _, pattern := range routes {
		if accessRules[pattern] != ruleSite || !slices.ContainsFunc(siteObjects, func(o string) bool { return strings.Contains(pattern, o) }) &&
			!strings.Contains(pattern, "/export/{table}/") {
			continue // nothing of the site's named after it
		}
		method, paths := x.fills(pattern)
		for _, path := range paths {
			if strings.Contains(pattern, "/export/{table}/") && !strings.Contains(path, "?point=") {
				continue // only the readings' export names a point
			}
			path = strings.Replace(path, "/sites/"+siteB+"/", "/sites/"+siteA+"/", 1)
			var code int
			if method == http.MethodPost {
				code, _ = adm.post(path, url.Values{"comment": {"опит"}})
			} else {
				code, _ = adm.get(path)
			}
			if code != http.StatusNotFound {
				t.Errorf("admin %s %s (site B's object under site A): %d, want 404", method, path, code)
			}
		}
	}

	// The same paths with site A's objects work for them, so the 404s above are about access, not
	// about broken routes.
	for _, who := range []string{"operator", "officer", "admin"} {
		c := x.client(who).login()
		for _, path := range []string{"/sites/" + siteA, "/sites/" + siteA + "/points/" + pointA, "/sites/" + siteA + "/transactions",
			"/sites/" + siteA + "/events", "/alarms/" + strconv.FormatInt(x.alarmA, 10), "/sites/" + siteA + "/export/transactions/csv",
			"/sites/" + siteA + "/export/readings/xlsx?point=" + pointA, "/sites/" + siteA + "/lifecycle",
			"/sites/" + siteA + "/points/" + pointA + "/chart.svg?tag=GOV_TOTAL"} {
			if code, body := c.get(path); code != http.StatusOK {
				t.Errorf("%s GET %s: %d\n%.400s", who, path, code, body)
			}
		}
	}
}

// TestAccessByQueryAndForm: site B named in a query parameter or a form field, under an address of
// site A or a list, reaches nothing of site B.
func TestAccessByQueryAndForm(t *testing.T) {
	x := newTestServer(t)
	for _, who := range []string{"operator", "officer"} {
		c := x.client(who).login()
		for _, tc := range []struct {
			path string
			code int // 0: any answer, as long as site B is not in it
		}{
			{"/alarms?site=" + siteB + "&state=all", http.StatusOK},
			{"/alarms/export/csv?site=" + siteB + "&state=all", http.StatusOK},
			{"/alarms/export/xlsx?site=" + siteB, http.StatusOK},
			{"/sites?q=" + siteB, http.StatusOK},
			{"/sites?q=" + url.QueryEscape("Русе"), http.StatusOK},
			{"/export/sites/csv?q=" + siteB, http.StatusOK},
			{"/sites/" + siteA + "/transactions?point=" + pointB, http.StatusNotFound},
			{"/sites/" + siteA + "/export/transactions/csv?point=" + pointB, http.StatusNotFound},
			{"/sites/" + siteA + "/export/readings/csv?point=" + pointB, http.StatusNotFound},
			{"/sites/" + siteA + "/points/" + pointB + "/chart.svg?tag=GOV_TOTAL", http.StatusNotFound},
			{"/sites/" + siteA + "/points/" + pointA + "/chart.svg?tag=GOV_TOTAL&point=" + pointB, http.StatusOK},
			{"/login?next=/sites/" + siteB, 0},
		} {
			code, body := c.get(tc.path)
			if tc.code != 0 && code != tc.code {
				t.Errorf("%s GET %s: %d, want %d", who, tc.path, code, tc.code)
			}
			body = strings.ReplaceAll(body, url.QueryEscape(tc.path), "")
			for _, secret := range secretsOfB {
				if strings.Contains(body, secret) && !strings.Contains(tc.path, secret) {
					t.Errorf("%s GET %s shows %q", who, tc.path, secret)
				}
			}
		}
	}
	// The officer's three-way comparison of site A with site B's point among the values is refused and
	// makes no comparison: the server's values of site B are never read into it.
	c := x.client("officer").login()
	code, body := c.post("/sites/"+siteA+"/threeway", url.Values{"values": {pointB + ";2026-11-22T11:00:00Z;GOV_TOTAL;1"}})
	if code != http.StatusUnprocessableEntity {
		t.Errorf("three-way with site B's point: %d, want 422\n%.300s", code, body)
	}
	if cs, _ := x.st.Comparisons(context.Background(), siteA); len(cs) != 0 {
		t.Errorf("a refused comparison was stored: %+v", cs)
	}
}

// TestCSRFEveryAction walks every route that changes something (every method but GET) as an
// administrator, who may reach all of them: without the session's CSRF token each answers 403 and
// changes nothing (no audit entry); without a session at all, 403 too.
func TestCSRFEveryAction(t *testing.T) {
	x := newFullServer(t)
	c := x.client("admin").login()
	anon := x.client("")
	other := x.client("operator").login()
	n := 0
	for _, pattern := range sourceRoutes(t) {
		method, paths := x.fills(pattern)
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		n++
		before, err := x.st.Audit(context.Background(), store.AuditFilter{})
		must(t, err)
		for _, path := range paths {
			for name, form := range map[string]url.Values{
				"no token":        {"comment": {"x"}, "to": {"live"}, "reason": {"x"}},
				"wrong token":     {"comment": {"x"}, "csrf": {"abc"}},
				"another's token": {"comment": {"x"}, "csrf": {other.csrf()}},
			} {
				if code, _ := c.do(method, path, form); code != http.StatusForbidden {
					t.Errorf("%s %s with %s: %d, want 403", method, path, name, code)
				}
			}
			if code, _ := anon.do(method, path, url.Values{"comment": {"x"}}); code != http.StatusForbidden {
				t.Errorf("%s %s without a session: %d, want 403", method, path, code)
			}
		}
		after, err := x.st.Audit(context.Background(), store.AuditFilter{})
		must(t, err)
		if len(after) != len(before) {
			t.Errorf("%s: refused requests were audited as changes: %+v", pattern, after[0])
		}
	}
	if n < 20 {
		t.Fatalf("only %d actions walked", n)
	}
}

// TestAccessAdminOnly: the audit log and the people are for administrators; others get 404.
func TestAccessAdminOnly(t *testing.T) {
	x := newTestServer(t)
	for _, who := range []string{"operator", "officer"} {
		c := x.client(who).login()
		for _, p := range []string{"/audit", "/people"} {
			if code, _ := c.get(p); code != http.StatusNotFound {
				t.Errorf("%s GET %s: %d, want 404", who, p, code)
			}
		}
	}
	c := x.client("admin").login()
	for _, p := range []string{"/audit", "/people"} {
		if code, body := c.get(p); code != http.StatusOK {
			t.Errorf("admin GET %s: %d\n%.300s", p, code, body)
		}
	}
	if _, body := c.get("/people"); !strings.Contains(body, "Мария Операторова") {
		t.Error("the people page lacks a person")
	}
}

// TestSitesListByRole: each role sees exactly its sites in the list and in its export.
func TestSitesListByRole(t *testing.T) {
	x := newTestServer(t)
	for _, c := range []struct {
		who         string
		see, notSee []string
	}{
		{"operator", []string{siteA}, []string{siteB}},
		{"operatorB", []string{siteB}, []string{siteA}},
		{"officer", []string{siteA}, []string{siteB}},
		{"officerB", []string{siteB}, []string{siteA}},
		{"admin", []string{siteA, siteB}, nil},
	} {
		cl := x.client(c.who).login()
		for _, path := range []string{"/sites", "/export/sites/csv", "/alarms", "/alarms/export/csv?state=all"} {
			_, body := cl.get(path)
			for _, s := range c.see {
				if !strings.Contains(body, s) {
					t.Errorf("%s %s lacks %s", c.who, path, s)
				}
			}
			for _, s := range c.notSee {
				if strings.Contains(body, s) {
					t.Errorf("%s %s shows %s", c.who, path, s)
				}
			}
		}
	}
}
