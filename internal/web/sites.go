package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
)

// siteLine is one line of the sites list.
type siteLine struct {
	Site       store.Site
	Operator   string // the operator's name
	Status     string // the lifecycle state, or "alarm" when an alarm is open
	LastData   time.Time
	OpenAlarms int
}

type sitesData struct {
	Lines  []siteLine
	Q      string
	State  string
	States []string
	Total  int
}

// siteStates are the states the filter offers: the lifecycle's, "alarm" (an alarm is open) and "silent"
// (nothing arrives from the site).
var siteStates = []string{"alarm", "silent", string(store.SiteLive), string(store.SiteTesting), string(store.SiteApproved),
	string(store.SiteDraft), string(store.SiteSuspended), string(store.SiteClosed)}

// siteLines gives the lines of the sites u sees, filtered by state and the search q (in the warehouse
// number, the name, the operator's EIK and name, the customs office).
func (s *Server) siteLines(ctx context.Context, u *User, state, q string) ([]siteLine, int, error) {
	sites, err := s.VisibleSites(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	ops, err := s.store.Operators(ctx)
	if err != nil {
		return nil, 0, err
	}
	names := make(map[string]string, len(ops))
	for _, o := range ops {
		names[o.EIK] = o.Name
	}
	alarms, silent, err := s.openAlarmCounts(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	var out []siteLine
	for _, site := range sites {
		l := siteLine{Site: site, Operator: names[site.Operator], Status: string(site.State), OpenAlarms: alarms[site.Warehouse]}
		switch {
		case silent[site.Warehouse]:
			l.Status = "silent" // nothing arrives from the site (чл. 28)
		case l.OpenAlarms > 0:
			l.Status = "alarm"
		}
		if state != "" && l.Status != state && string(site.State) != state && !(state == "alarm" && l.OpenAlarms > 0) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(site.Warehouse+" "+site.Name+" "+site.Operator+" "+l.Operator+" "+site.CustomsOffice), q) {
			continue
		}
		out = append(out, l)
	}
	// One store query for the whole list (not one per device): at national scale the list has thousands
	// of sites.
	whs := make([]string, len(out))
	for i := range out {
		whs[i] = out[i].Site.Warehouse
	}
	last, err := s.store.LastData(ctx, whs)
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		out[i].LastData = last[out[i].Site.Warehouse]
	}
	return out, len(sites), nil
}

// openAlarmCounts counts the open (and acknowledged) alarms of the sites u sees, by site, and says
// which sites have gone silent (an open late-site alarm of the watch engine).
func (s *Server) openAlarmCounts(ctx context.Context, u *User) (map[string]int, map[string]bool, error) {
	f := store.AlarmFilter{States: []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged}}
	scope(u, &f)
	alarms, err := s.store.Alarms(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	n, silent := make(map[string]int), make(map[string]bool)
	for _, a := range alarms {
		n[a.Site]++
		if a.Kind == store.AlarmLateSite && a.Restored.IsZero() {
			silent[a.Site] = true
		}
	}
	return n, silent, nil
}

// scope narrows an alarm filter to the sites u sees.
func scope(u *User, f *store.AlarmFilter) {
	switch u.Person.Role {
	case store.RoleOperator:
		f.Operator = u.Person.Operator
	case store.RoleOfficer:
		f.CustomsOffice = u.Person.Office
	}
}

// lastData is when the site's latest batch was made (its signer's time), over its devices; the zero time
// when it has sent nothing.
func (s *Server) lastData(ctx context.Context, warehouse string) (time.Time, error) {
	last, err := s.store.LastData(ctx, []string{warehouse})
	return last[warehouse], err
}

func (s *Server) sitesPage(w http.ResponseWriter, r *http.Request) {
	q, state := r.URL.Query().Get("q"), r.URL.Query().Get("state")
	lines, total, err := s.siteLines(r.Context(), UserOf(r), state, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.NewPage(r, "sites", "web.sites.title", sitesData{Lines: lines, Q: q, State: state, States: siteStates, Total: total})
	p.Nav = "sites"
	s.RenderPage(w, r, http.StatusOK, p)
}

// sitesExport writes the sites list (as filtered) as CSV or XLSX.
func (s *Server) sitesExport(w http.ResponseWriter, r *http.Request) {
	q, state := r.URL.Query().Get("q"), r.URL.Query().Get("state")
	lines, _, err := s.siteLines(r.Context(), UserOf(r), state, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pr := s.Printer(r)
	t := &report.Table{Columns: []report.Column{
		{Header: pr.T("web.col.warehouse")}, {Header: pr.T("web.col.name")}, {Header: pr.T("web.col.operator")},
		{Header: pr.T("web.col.eik")}, {Header: pr.T("web.col.office")}, {Header: pr.T("web.col.state")},
		{Header: pr.T("web.col.last_data")}, {Header: pr.T("web.col.open_alarms")},
	}}
	for _, l := range lines {
		t.Rows = append(t.Rows, []report.Cell{report.Text(l.Site.Warehouse), report.Text(l.Site.Name), report.Text(l.Operator),
			report.Text(l.Site.Operator), report.Text(l.Site.CustomsOffice), report.Text(stateName(pr, l.Status)),
			report.Text(formatTime(l.LastData, pr.Lang())), report.Int(int64(l.OpenAlarms))})
	}
	s.export(w, r, r.PathValue("format"), "sites", pr.T("web.sites.title"), t)
}
