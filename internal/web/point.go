package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
)

// pointData is a control point's page.
type pointData struct {
	Site   store.Site
	Point  store.Point
	State  pointState
	Period Period
	Export string
	Charts []chartLink
	Recent []readingLine
	More   bool
	Tx     []txLine
}

// chartLink is one chart of the point page: a tag and the URL of its SVG.
type chartLink struct {
	Point string
	Tag   string
	Role  core.Role
	Unit  string
	URL   string
}

type readingLine struct {
	Time   time.Time
	Test   bool
	Values []core.Value
}

// charted reports whether a tag of this role gets a chart: the totalizers and the flow (and the
// scale's weight and a counter's count, which are totals too).
func charted(r core.Role) bool {
	return r.Totalizer() || r == core.RoleFlow || r == core.RoleWeight
}

// pointRows bounds the readings table of the point page.
const pointRows = 50

// pointOf reads the site and the point that the request's path names, and the site's places: false when
// it has answered (no such site or point for this person, or the store failed).
func (s *Server) pointOf(w http.ResponseWriter, r *http.Request) (store.Site, placeOf, store.Point, bool) {
	site, ok := s.SiteOf(w, r, r.PathValue("warehouse"))
	if !ok {
		return store.Site{}, placeOf{}, store.Point{}, false
	}
	pl, err := s.places(r.Context(), site.Warehouse)
	if err != nil {
		s.fail(w, r, err)
		return store.Site{}, placeOf{}, store.Point{}, false
	}
	pt, ok := pl.point(r.PathValue("point"))
	if !ok {
		s.NotFound(w, r)
		return store.Site{}, placeOf{}, store.Point{}, false
	}
	return site, pl, pt, true
}

func (s *Server) pointPage(w http.ResponseWriter, r *http.Request) {
	site, pl, pt, ok := s.pointOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	d := pointData{Site: site, Point: pt, Period: periodOf(r.URL.Query(), s.cfg.Now(), 24*time.Hour),
		Export: "/sites/" + site.Warehouse + "/export/readings"}
	d.Period.Keep = map[string]string{"point": pt.ID}
	states, err := s.latest(ctx, placeOf{Devices: []deviceInfo{{Device: store.Device{ID: pt.Device()}, Points: []store.Point{pt}}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.State = states[0]
	if d.State.Reading != nil {
		for _, v := range d.State.Reading.Values {
			if !charted(v.Role) {
				continue
			}
			q := url.Values{"tag": {v.Tag}, "from": {d.Period.FromInput()}, "to": {d.Period.ToInput()}}
			d.Charts = append(d.Charts, chartLink{Tag: v.Tag, Role: v.Role, Unit: v.Unit,
				URL: "/sites/" + site.Warehouse + "/points/" + pt.ID + "/chart.svg?" + q.Encode()})
		}
	}
	// The newest readings of the period: the store streams oldest first, so keep a ring of the last ones.
	ring := make([]readingLine, 0, pointRows)
	n := 0
	err = s.store.PointRecords(ctx, store.RecordQuery{Device: pt.Device(), Point: pt.ID, Kind: core.KindReading,
		From: d.Period.From, To: d.Period.To}, func(row *store.Row) error {
		rec, err := decode(row)
		if err != nil || rec.Reading == nil {
			return err
		}
		l := readingLine{Time: row.Time, Test: row.Test, Values: rec.Reading.Values}
		if len(ring) < pointRows {
			ring = append(ring, l)
		} else {
			ring[n%pointRows] = l
		}
		n++
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range len(ring) {
		// newest first
		d.Recent = append(d.Recent, ring[(n-1-i)%len(ring)])
	}
	d.More = n > pointRows
	if d.Tx, err = s.transactions(ctx, pl, pt.ID, d.Period, siteRecent); err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderSites(w, r, "point", "web.point.title", d)
}

// pointChart draws one tag of a point over the period as SVG.
func (s *Server) pointChart(w http.ResponseWriter, r *http.Request) {
	_, _, pt, ok := s.pointOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	tag := q.Get("tag")
	per := periodOf(q, s.cfg.Now(), 24*time.Hour)
	ser := newSeries(per.From, per.To)
	unit := ""
	err := s.store.PointRecords(ctx, store.RecordQuery{Device: pt.Device(), Point: pt.ID, Kind: core.KindReading,
		From: per.From, To: per.To}, func(row *store.Row) error {
		rec, err := decode(row)
		if err != nil || rec.Reading == nil {
			return err
		}
		for _, v := range rec.Reading.Values {
			if v.Tag != tag {
				continue
			}
			f, err := strconv.ParseFloat(string(v.Value), 64)
			if err != nil {
				continue
			}
			at := row.Time
			if !v.Time.IsZero() {
				at = v.Time
			}
			ser.add(at, f)
			unit = v.Unit
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, max-age=60")
	if err := ser.writeSVG(w, pt.ID+" "+tag, unit, requestLang(r)); err != nil {
		s.cfg.Logger.Printf("chart %s %s: %v", pt.ID, tag, err)
	}
}

// readingTable is the export of a point's readings: one row a reading and tag.
func (s *Server) readingTable(ctx context.Context, pr *i18n.Printer, point string, per Period) *report.Table {
	l := pr.Lang()
	t := &report.Table{Columns: []report.Column{{Header: pr.T("web.col.time")}, {Header: pr.T("web.col.tag")},
		{Header: pr.T("web.col.role")}, {Header: pr.T("web.col.value")}, {Header: pr.T("web.col.unit")},
		{Header: pr.T("web.col.quality")}, {Header: pr.T("web.col.test")}}}
	device := point[:min(len(point), 16)]
	t.Source = func(yield func([]report.Cell, error) bool) {
		stop := errStop{}
		err := s.store.PointRecords(ctx, store.RecordQuery{Device: device, Point: point, Kind: core.KindReading,
			From: per.From, To: per.To}, func(row *store.Row) error {
			rec, err := decode(row)
			if err != nil || rec.Reading == nil {
				return err
			}
			for _, v := range rec.Reading.Values {
				at := row.Time
				if !v.Time.IsZero() {
					at = v.Time
				}
				q := ""
				for i, x := range v.Quality {
					if i > 0 {
						q += ", "
					}
					q += codeName(pr, "web.quality.", string(x))
				}
				if !yield([]report.Cell{exportTime(at, l), report.Text(v.Tag), report.Text(codeName(pr, "web.value_role.", string(v.Role))),
					decimalCell(v.Value), report.Text(v.Unit), report.Text(q), report.Text(yesNo(pr, row.Test))}, nil) {
					return stop
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(nil, err)
		}
	}
	return t
}

// errStop ends a walk of the store when the consumer of a row stream stopped.
type errStop struct{}

func (errStop) Error() string { return "stopped" }
