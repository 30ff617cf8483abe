package web

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/workday"
)

// series is one tag's values over a period, thinned to at most buckets × 2 points as they stream in:
// each time bucket keeps its lowest and highest value (in the order they came), so that a spike or a
// drop of a totalizer stays visible however many readings the period holds, and memory stays bounded.
type series struct {
	from, to time.Time
	buckets  []bucket
	n        int // values seen
}

type bucket struct {
	set        bool
	lo, hi     float64
	loAt, hiAt time.Time
}

// chartBuckets is how many time buckets a chart has: about one per two pixels of its plot.
const chartBuckets = 360

func newSeries(from, to time.Time) *series {
	return &series{from: from, to: to, buckets: make([]bucket, chartBuckets)}
}

func (s *series) add(t time.Time, v float64) {
	if t.Before(s.from) || !t.Before(s.to) || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	i := int(float64(chartBuckets) * float64(t.Sub(s.from)) / float64(s.to.Sub(s.from)))
	i = min(max(i, 0), chartBuckets-1)
	b := &s.buckets[i]
	s.n++
	if !b.set {
		*b = bucket{set: true, lo: v, hi: v, loAt: t, hiAt: t}
		return
	}
	if v < b.lo {
		b.lo, b.loAt = v, t
	}
	if v > b.hi {
		b.hi, b.hiAt = v, t
	}
}

type point2 struct {
	t time.Time
	v float64
}

func (s *series) points() []point2 {
	var out []point2
	for _, b := range s.buckets {
		if !b.set {
			continue
		}
		switch {
		case b.lo == b.hi:
			out = append(out, point2{b.loAt, b.lo})
		case b.loAt.Before(b.hiAt):
			out = append(out, point2{b.loAt, b.lo}, point2{b.hiAt, b.hi})
		default:
			out = append(out, point2{b.hiAt, b.hi}, point2{b.loAt, b.lo})
		}
	}
	return out
}

// The chart's geometry, in SVG user units.
const (
	chartW, chartH           = 800.0, 280.0
	padLeft, padRight        = 90.0, 16.0
	padTop, padBottom        = 16.0, 36.0
	plotW, plotH             = chartW - padLeft - padRight, chartH - padTop - padBottom
	chartTicksY, chartTicksX = 5, 6
)

// writeSVG draws s as a line chart titled title with values in unit, labels in l.
func (s *series) writeSVG(w io.Writer, title, unit string, l i18n.Lang) error {
	pts := s.points()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" font-family="sans-serif" font-size="12">`,
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="#fff" stroke="#bbb"/>`, padLeft, padTop, plotW, plotH)
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" fill="#666">%s</text>`, padLeft+plotW/2, padTop+plotH/2,
			html.EscapeString(i18n.For(l).T("web.chart.empty")))
		b.WriteString(`</svg>`)
		_, err := io.WriteString(w, b.String())
		return err
	}
	lo, hi := pts[0].v, pts[0].v
	for _, p := range pts {
		lo, hi = min(lo, p.v), max(hi, p.v)
	}
	if lo == hi {
		d := math.Max(math.Abs(lo)*0.01, 1)
		lo, hi = lo-d, hi+d
	}
	step := niceStep((hi - lo) / chartTicksY)
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	y := func(v float64) float64 { return padTop + plotH - (v-lo)/(hi-lo)*plotH }
	span := s.to.Sub(s.from)
	x := func(t time.Time) float64 { return padLeft + float64(t.Sub(s.from))/float64(span)*plotW }
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step)))
	}
	for v := lo; v <= hi+step/2; v += step {
		yy := y(v)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/>`, padLeft, yy, padLeft+plotW, yy)
		label := formatNum(strconv.FormatFloat(v, 'f', dec, 64), l)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, padLeft-6, yy, label)
	}
	layout := "15:04"
	if span > 48*time.Hour {
		layout = "02.01"
		if l == i18n.EN {
			layout = "01-02"
		}
	}
	for i := 0; i <= chartTicksX; i++ {
		t := s.from.Add(time.Duration(float64(span) * float64(i) / chartTicksX))
		xx := x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/>`, xx, padTop, xx, padTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, xx, padTop+plotH+18, t.In(workday.Sofia).Format(layout))
	}
	// The times are Sofia's: the zone (EET or EEST) is written under the last tick.
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end" fill="#666">%s</text>`, padLeft+plotW, padTop+plotH+32, s.to.In(workday.Sofia).Format("MST"))
	if unit != "" {
		fmt.Fprintf(&b, `<text x="12" y="%g" transform="rotate(-90 12 %g)" text-anchor="middle">%s</text>`,
			padTop+plotH/2, padTop+plotH/2, html.EscapeString(unit))
	}
	b.WriteString(`<polyline fill="none" stroke="#1d5fa8" stroke-width="1.5" points="`)
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x(p.t), y(p.v))
	}
	b.WriteString(`"/>`)
	if len(pts) == 1 {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#1d5fa8"/>`, x(pts[0].t), y(pts[0].v))
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}
