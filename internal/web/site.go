package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
)

// siteData is the site page's data.
type siteData struct {
	Site         store.Site
	Operator     store.Operator
	LastData     time.Time
	Places       placeOf
	Points       []pointState
	Transactions []txLine
	Events       []eventLine
	Incidents    []store.Incident
	Alarms       []store.Alarm
	Versions     []store.ConfigVersion
	Moves        []store.SiteMove
	Audit        []store.AuditEntry
	Charts       []chartLink // the last day of each point's totalizers and flows
}

// How much of each table the site page shows; the tables' own pages and the exports show all.
const (
	siteRecent    = 10
	siteRecentFor = 30 * 24 * time.Hour
)

func (s *Server) sitePage(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	ctx := r.Context()
	d := siteData{Site: site}
	var err error
	fail := func() { s.fail(w, r, err) }
	if d.Operator, err = s.store.Operator(ctx, site.Operator); err != nil {
		fail()
		return
	}
	if d.Places, err = s.places(ctx, site.Warehouse); err != nil {
		fail()
		return
	}
	if d.Points, err = s.latest(ctx, d.Places); err != nil {
		fail()
		return
	}
	if d.LastData, err = s.lastData(ctx, site.Warehouse); err != nil {
		fail()
		return
	}
	now := s.cfg.Now()
	recent := Period{From: now.Add(-siteRecentFor), To: now.Add(time.Minute)}
	if d.Transactions, err = s.transactions(ctx, d.Places, "", recent, siteRecent); err != nil {
		fail()
		return
	}
	if d.Events, err = s.events(ctx, d.Places, recent, siteRecent); err != nil {
		fail()
		return
	}
	for _, dev := range d.Places.Devices {
		in, err := s.store.Incidents(ctx, store.IncidentFilter{Device: dev.Device.ID, Since: recent.From})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Incidents = append(d.Incidents, in...)
	}
	if len(d.Incidents) > siteRecent {
		d.Incidents = d.Incidents[len(d.Incidents)-siteRecent:]
	}
	if d.Alarms, err = s.store.Alarms(ctx, store.AlarmFilter{Site: site.Warehouse,
		States: []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged}}); err != nil {
		fail()
		return
	}
	if d.Versions, err = s.store.ConfigVersions(ctx, site.Warehouse); err != nil {
		fail()
		return
	}
	if d.Moves, err = s.store.SiteMoves(ctx, site.Warehouse); err != nil {
		fail()
		return
	}
	if d.Audit, err = s.store.Audit(ctx, store.AuditFilter{Site: site.Warehouse, Limit: siteRecent}); err != nil {
		fail()
		return
	}
	for _, ps := range d.Points {
		if ps.Reading == nil {
			continue
		}
		for _, v := range ps.Reading.Values {
			if charted(v.Role) {
				q := url.Values{"tag": {v.Tag}, "span": {"24h"}}
				d.Charts = append(d.Charts, chartLink{Point: ps.Point.ID, Tag: v.Tag, Role: v.Role, Unit: v.Unit,
					URL: "/sites/" + site.Warehouse + "/points/" + ps.Point.ID + "/chart.svg?" + q.Encode()})
			}
		}
	}
	s.renderSites(w, r, "site", "web.site.title", d)
}

// renderSites renders a page under the menu's sites (a site and its points, records and tables), with
// status 200.
func (s *Server) renderSites(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	p := s.NewPage(r, name, title, data)
	p.Nav = "sites"
	s.RenderPage(w, r, http.StatusOK, p)
}

// tableData is the data of a page that lists one kind of record of a site over a period.
type tableData struct {
	Site         store.Site
	Period       Period
	Export       string // the base URL of the exports
	Point        string // the chosen point, "" for all
	Places       placeOf
	Transactions []txLine
	Events       []eventLine
	More         bool // the page shows only the newest pageRows
}

// pageRows bounds a table page; the export has everything.
const pageRows = 500

func (s *Server) transactionsPage(w http.ResponseWriter, r *http.Request) {
	s.tablePage(w, r, "transactions", func(d *tableData) (err error) {
		d.Transactions, err = s.transactions(r.Context(), d.Places, d.Point, d.Period, pageRows+1)
		d.Transactions, d.More = newestRows(d.Transactions)
		return err
	})
}

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) {
	s.tablePage(w, r, "events", func(d *tableData) (err error) {
		d.Events, err = s.events(r.Context(), d.Places, d.Period, pageRows+1)
		d.Events, d.More = newestRows(d.Events)
		return err
	})
}

// tablePage answers a site's table page (templates/<table>.html): fill puts the period's records in d,
// the newest pageRows at most, and sets d.More when there are more.
func (s *Server) tablePage(w http.ResponseWriter, r *http.Request, table string, fill func(d *tableData) error) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	d, ok := s.tableOf(w, r, site, table)
	if !ok {
		return
	}
	if err := fill(&d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderSites(w, r, table, tableTitle(table), d)
}

// newestRows cuts the newest-first rows of a table page to pageRows, and says whether it cut.
func newestRows[T any](rows []T) ([]T, bool) {
	if len(rows) > pageRows {
		return rows[:pageRows], true
	}
	return rows, false
}

// tableOf reads what the table pages and the exports share: the site's places, the period and the
// chosen point (which must be the site's).
func (s *Server) tableOf(w http.ResponseWriter, r *http.Request, site store.Site, table string) (tableData, bool) {
	pl, err := s.places(r.Context(), site.Warehouse)
	if err != nil {
		s.fail(w, r, err)
		return tableData{}, false
	}
	q := r.URL.Query()
	d := tableData{Site: site, Places: pl, Period: periodOf(q, s.cfg.Now(), 7*24*time.Hour),
		Export: "/sites/" + site.Warehouse + "/export/" + table}
	if pt := q.Get("point"); pt != "" {
		if _, ok := pl.point(pt); !ok {
			s.NotFound(w, r)
			return tableData{}, false
		}
		d.Point = pt
		d.Period.Keep = map[string]string{"point": pt}
	}
	return d, true
}

// siteExport writes one table of a site over a period as CSV or XLSX: transactions, events, incidents,
// readings (of ?point=, required), alarms, audit.
func (s *Server) siteExport(w http.ResponseWriter, r *http.Request) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return
	}
	table, format := r.PathValue("table"), r.PathValue("format")
	if format != "csv" && format != "xlsx" {
		s.NotFound(w, r)
		return
	}
	d, ok := s.tableOf(w, r, site, table)
	if !ok {
		return
	}
	ctx := r.Context()
	pr := s.Printer(r)
	l := pr.Lang()
	var t *report.Table
	switch table {
	case "transactions":
		txs, err := s.transactions(ctx, d.Places, d.Point, d.Period, 0)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t = transactionTable(pr)
		for _, x := range txs {
			t.Rows = append(t.Rows, transactionRow(x, l))
		}
	case "events":
		evs, err := s.events(ctx, d.Places, d.Period, 0)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t = &report.Table{Columns: []report.Column{{Header: pr.T("web.col.time")}, {Header: pr.T("web.col.device")},
			{Header: pr.T("web.col.point")}, {Header: pr.T("web.col.event")}, {Header: pr.T("web.col.tag")},
			{Header: pr.T("web.col.value")}, {Header: pr.T("web.col.previous")}, {Header: pr.T("web.col.test")}}}
		for _, e := range evs {
			t.Rows = append(t.Rows, []report.Cell{exportTime(e.Time, l), report.Text(e.Device), report.Text(e.Point),
				report.Text(eventName(pr, e.Event.Kind)), report.Text(e.Event.Tag), report.Text(e.Event.Value),
				report.Text(e.Event.Previous), report.Text(yesNo(pr, e.Test))})
		}
	case "incidents":
		t = &report.Table{Columns: []report.Column{{Header: pr.T("web.col.time")}, {Header: pr.T("web.col.device")},
			{Header: pr.T("web.col.kind")}, {Header: pr.T("web.col.first")}, {Header: pr.T("web.col.last")}, {Header: pr.T("web.col.detail")}}}
		for _, dev := range d.Places.Devices {
			in, err := s.store.Incidents(ctx, store.IncidentFilter{Device: dev.Device.ID, Since: d.Period.From, Until: d.Period.To})
			if err != nil {
				s.fail(w, r, err)
				return
			}
			for _, x := range in {
				t.Rows = append(t.Rows, []report.Cell{exportTime(x.Time, l), report.Text(x.Device), report.Text(codeName(pr, "web.incident.", string(x.Kind))),
					report.Int(x.First), report.Int(x.Last), report.Text(x.Detail)})
			}
		}
	case "readings":
		if d.Point == "" {
			s.NotFound(w, r)
			return
		}
		t = s.readingTable(ctx, pr, d.Point, d.Period)
	case "alarms":
		alarms, err := s.store.Alarms(ctx, store.AlarmFilter{Site: site.Warehouse, Since: d.Period.From, Until: d.Period.To})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t = alarmTable(pr, alarms)
	case "audit":
		entries, err := s.store.Audit(ctx, store.AuditFilter{Site: site.Warehouse, Since: d.Period.From, Until: d.Period.To})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t = auditTable(pr, entries, UserOf(r).Is(store.RoleAdmin))
	default:
		s.NotFound(w, r)
		return
	}
	s.export(w, r, format, site.Warehouse+"-"+table, pr.T("web.export.title", pr.T(tableTitle(table)), site.Warehouse), t)
}

// tableTitle is the catalogue key of an exported table's name.
func tableTitle(table string) string {
	switch table {
	case "transactions":
		return "web.transactions.title"
	case "events":
		return "web.events.title"
	case "incidents":
		return "web.incidents.title"
	case "readings":
		return "web.readings.title"
	case "alarms":
		return "web.alarms.title"
	case "audit":
		return "web.audit.title"
	}
	return "web.export"
}

func transactionTable(pr *i18n.Printer) *report.Table {
	return &report.Table{Columns: []report.Column{
		{Header: pr.T("web.col.point")}, {Header: pr.T("web.col.begin")}, {Header: pr.T("web.col.end")},
		{Header: pr.T("web.col.product")}, {Header: pr.T("web.col.product_name")}, {Header: pr.T("web.col.direction")},
		{Header: pr.T("web.col.volume")}, {Header: pr.T("web.col.std_volume")}, {Header: pr.T("web.col.mass")},
		{Header: pr.T("web.col.density15")}, {Header: pr.T("web.col.temperature")}, {Header: pr.T("web.col.test")},
	}}
}

func transactionRow(x txLine, l i18n.Lang) []report.Cell {
	pr := i18n.For(l)
	q := func(t *core.Totals) report.Cell {
		if t == nil {
			return report.Text("")
		}
		return decimalCell(t.Quantity)
	}
	m := func(v *core.Measure) report.Cell {
		if v == nil {
			return report.Text("")
		}
		return decimalCell(v.Value)
	}
	f := x.Tx.Forward
	return []report.Cell{report.Text(x.Point), exportTime(x.Tx.Begin, l), exportTime(x.Tx.End, l),
		report.Text(x.Tx.Product), report.Text(x.Tx.ProductName), report.Text(directionName(pr, x.Tx.Direction)),
		q(f.Volume), q(f.StdVolume), q(f.Mass), m(x.Tx.Density15), m(x.Tx.Temperature), report.Text(yesNo(pr, x.Test))}
}

// decimalCell makes a number cell of a record's decimal (a text cell if it does not parse).
func decimalCell(d core.Decimal) report.Cell {
	v, err := strconv.ParseFloat(string(d), 64)
	if err != nil {
		return report.Text(string(d))
	}
	prec := 0
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] == '.' {
			prec = len(d) - 1 - i
			break
		}
	}
	return report.Float(v, prec)
}

func yesNo(pr *i18n.Printer, b bool) string {
	if b {
		return pr.T("web.yes")
	}
	return ""
}

func directionName(pr *i18n.Printer, d core.Direction) string {
	return codeName(pr, "web.direction.", string(d))
}

func eventName(pr *i18n.Printer, k core.EventKind) string {
	return codeName(pr, "watch.event.", string(k))
}
