package watch

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/workday"
)

// errStop ends a walk when the renderer wants no more rows.
var errStop = errors.New("watch: stop")

// The documents below stream their rows from the store while a renderer writes them (report.Table.Source),
// so that a year of readings goes to CSV or XLSX without being held. The query is checked before the
// document is made: a refusal comes from the builder, never half-way through a rendering.

// ReadingsDocument is the readings of q as a document (CSV/XLSX/HTML/PDF through package report).
func (x *Queries) ReadingsDocument(ctx context.Context, a Actor, q Query, lang i18n.Lang) (*report.Document, error) {
	p := i18n.For(lang)
	d, err := x.document(ctx, a, q, p, "watch.report.readings")
	if err != nil {
		return nil, err
	}
	t := &report.Table{Columns: columns(p, "point", "time", "tag", "role", "value", "unit", "quality", "test")}
	t.Source = func(yield func([]report.Cell, error) bool) {
		err := x.Readings(ctx, a, q, func(r ReadingRow) error {
			if !yield([]report.Cell{report.Text(r.Point), timeCell(r.Time), report.Text(r.Tag), report.Text(string(r.Role)),
				decimalCell(r.Value), report.Text(r.Unit), report.Text(r.Quality), testCell(p, r.Test)}, nil) {
				return errStop
			}
			return nil
		})
		endWalk(yield, err)
	}
	d.Sections = []*report.Section{{Heading: p.T("watch.report.readings"), Blocks: []report.Block{t}}}
	return d, nil
}

// TransactionsDocument is the transactions of q: one row per transaction and quantity.
func (x *Queries) TransactionsDocument(ctx context.Context, a Actor, q Query, lang i18n.Lang) (*report.Document, error) {
	p := i18n.For(lang)
	d, err := x.document(ctx, a, q, p, "watch.report.transactions")
	if err != nil {
		return nil, err
	}
	t := &report.Table{Columns: columns(p, "point", "begin", "end", "product", "product_name", "direction", "quantity",
		"amount", "unit", "test")}
	t.Source = func(yield func([]report.Cell, error) bool) {
		err := x.Transactions(ctx, a, q, func(r TransactionRow) error {
			for _, qu := range r.Quantities {
				if !yield([]report.Cell{report.Text(r.Point), timeCell(r.Begin), timeCell(r.End), report.Text(r.Product),
					report.Text(r.ProductName), report.Text(name(p, "watch.direction.", string(r.Direction))),
					report.Text(name(p, "watch.quantity.", qu.Name)), decimalCell(qu.Value), report.Text(qu.Unit), testCell(p, r.Test)}, nil) {
					return errStop
				}
			}
			return nil
		})
		endWalk(yield, err)
	}
	d.Sections = []*report.Section{{Heading: p.T("watch.report.transactions"), Blocks: []report.Block{t}}}
	return d, nil
}

// EventsDocument is the events of q.
func (x *Queries) EventsDocument(ctx context.Context, a Actor, q Query, lang i18n.Lang) (*report.Document, error) {
	p := i18n.For(lang)
	d, err := x.document(ctx, a, q, p, "watch.report.events")
	if err != nil {
		return nil, err
	}
	t := &report.Table{Columns: columns(p, "device", "point", "time", "event", "tag", "previous", "value", "unit", "bits", "test")}
	t.Source = func(yield func([]report.Cell, error) bool) {
		err := x.Events(ctx, a, q, func(r EventRow) error {
			bits := make([]string, len(r.Bits))
			for i, b := range r.Bits {
				bits[i] = strconv.Itoa(b)
			}
			if !yield([]report.Cell{report.Text(r.Device), report.Text(r.Point), timeCell(r.Time),
				report.Text(name(p, "watch.event.", string(r.Kind))), report.Text(r.Tag), report.Text(r.Previous),
				report.Text(r.Value), report.Text(r.Unit), report.Text(strings.Join(bits, ",")), testCell(p, r.Test)}, nil) {
				return errStop
			}
			return nil
		})
		endWalk(yield, err)
	}
	d.Sections = []*report.Section{{Heading: p.T("watch.report.events"), Blocks: []report.Block{t}}}
	return d, nil
}

// TotalsDocument is the totals per product code of q, per day or month.
func (x *Queries) TotalsDocument(ctx context.Context, a Actor, q Query, per Period, lang i18n.Lang) (*report.Document, error) {
	p := i18n.For(lang)
	rows, err := x.Totals(ctx, a, q, per)
	if err != nil {
		return nil, err
	}
	d, err := x.document(ctx, a, q, p, "watch.report.totals_"+string(per))
	if err != nil {
		return nil, err
	}
	t := &report.Table{Columns: columns(p, "period", "product", "direction", "quantity", "total", "unit", "transactions")}
	for _, r := range rows {
		t.Rows = append(t.Rows, []report.Cell{report.Text(r.Period), report.Text(r.Product),
			report.Text(name(p, "watch.direction.", string(r.Direction))), report.Text(name(p, "watch.quantity.", r.Quantity)),
			decimalCell(r.Total), report.Text(r.Unit), report.Int(int64(r.Transactions))})
	}
	d.Sections = []*report.Section{{Heading: name(p, "watch.report.totals_", string(per)), Blocks: []report.Block{t}}}
	return d, nil
}

// AlarmsDocument is a list of alarms (from Alarms.List) as a document.
func AlarmsDocument(alarms []store.Alarm, lang i18n.Lang, now time.Time) *report.Document {
	p := i18n.For(lang)
	d := &report.Document{Title: p.T("watch.report.alarms"), Lang: lang, Created: now,
		Meta: []report.Field{{Label: p.T("watch.meta.generated"), Value: now.In(workday.Sofia).Format("02.01.2006 15:04:05")}}}
	t := &report.Table{Columns: columns(p, "id", "kind", "site", "device", "point", "state", "opened", "restored", "closed", "detail")}
	for _, a := range alarms {
		t.Rows = append(t.Rows, []report.Cell{report.Int(a.ID), report.Text(name(p, "watch.kind.", string(a.Kind))),
			report.Text(a.Site), report.Text(a.Device), report.Text(a.Point), report.Text(name(p, "watch.state.", string(a.State))),
			timeCell(a.Opened), timeCell(a.Restored), timeCell(a.Closed), report.Text(detailText(p, a))})
	}
	d.Sections = []*report.Section{{Heading: p.T("watch.report.alarms"), Blocks: []report.Block{t}}}
	return d
}

// DetailLine is one fact of an alarm's detail as a person reads it: a label and a value, both in the
// catalogue's words.
type DetailLine struct {
	Key   string // what the fact is ("tag", "limit", "seq_first", …): its place in the list, a CSS class
	Label string
	Value string
}

// detailOrder is the order the facts of an alarm's detail are written in (by key): what happened,
// where, when, then the limits; keys not named here follow in alphabetical order.
var detailOrder = []string{"event", "incident", "tag", "value", "previous", "unit", "bits", "time", "seq", "seq_first",
	"seq_last", "last", "limit", "class", "detail"}

// DetailLines writes the detail the engine keeps with alarm a (docs/watching.md) in the catalogue's
// words, for the console's alarm page and the alarms' exports alike: an event's kind, times in Sofia's
// time with the zone, a limit in hours, minutes and seconds, a control point's class of чл. 30(13), an
// intake incident's kind, numbers as the reader writes them (i18n.Number). A key the catalogue does not
// know is written as it is, so that nothing the engine recorded is hidden; empty values are left out.
func DetailLines(p *i18n.Printer, a store.Alarm) []DetailLine {
	var out []DetailLine
	for k, v := range a.Detail {
		if v == "" {
			continue
		}
		key := k
		if a.Kind == store.AlarmIncident && (k == "first" || k == "last") {
			key = "seq_" + k // the incident's first and last sequence numbers, not times
		}
		line := DetailLine{Key: key, Label: known(p, "watch.detail.", key), Value: v}
		switch key {
		case "event":
			line.Value = known(p, "watch.event.", v)
		case "time", "last":
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				line.Value = FormatTime(t, p.Lang())
			}
		case "limit":
			if d, err := time.ParseDuration(v); err == nil {
				line.Value = i18n.Duration(d.Round(time.Second)).Localize(p.Lang())
			}
		case "class":
			line.Value = known(p, "watch.class.", v)
		case "incident":
			line.Value = known(p, "watch.incident.", v)
		case "value", "previous", "seq", "seq_first", "seq_last":
			line.Value = i18n.Number(v, p.Lang())
		case "bits":
			line.Value = strings.ReplaceAll(v, ",", ", ")
		}
		out = append(out, line)
	}
	rank := func(key string) int {
		if i := slices.Index(detailOrder, key); i >= 0 {
			return i
		}
		return len(detailOrder)
	}
	slices.SortFunc(out, func(a, b DetailLine) int {
		if d := rank(a.Key) - rank(b.Key); d != 0 {
			return d
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// detailText is a's detail on one line, "Label: value" facts joined by "; ", for a cell of an export.
func detailText(p *i18n.Printer, a store.Alarm) string {
	lines := DetailLines(p, a)
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = l.Label + ": " + l.Value
	}
	return strings.Join(parts, "; ")
}

// known gives the catalogue text of prefix+code, or code itself when the catalogue has no such key.
func known(p *i18n.Printer, prefix, code string) string {
	if !i18n.Has(p.Lang(), prefix+code) {
		return code
	}
	return p.T(prefix + code)
}

// FormatTime writes t in Sofia's time with the zone (EET in winter, EEST in summer), so that nobody
// reading a page or an export takes it for UTC or for the reader's own zone: "23.11.2026 10:00:00 EET"
// in Bulgarian, "2026-11-23 10:00:00 EET" in English; "" for the zero time (what has not happened).
func FormatTime(t time.Time, l i18n.Lang) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(workday.Sofia)
	if l == i18n.EN {
		return t.Format("2006-01-02 15:04:05 MST")
	}
	return t.Format("02.01.2006 15:04:05 MST")
}

// document checks q and gives the document's frame: title, site, period.
func (x *Queries) document(ctx context.Context, a Actor, q Query, p *i18n.Printer, title string) (*report.Document, error) {
	if _, err := x.check(ctx, a, q); err != nil {
		return nil, err
	}
	s, err := x.st.Site(ctx, q.Site)
	if err != nil {
		return nil, err
	}
	place := q.Site
	if q.Device != "" {
		place = q.Device
	}
	if q.Point != "" {
		place = q.Point
	}
	return &report.Document{Title: p.T(title), Subtitle: s.Name, Lang: p.Lang(), Meta: []report.Field{
		{Label: p.T("watch.meta.site"), Value: s.Warehouse + " — " + s.Name},
		{Label: p.T("watch.meta.operator"), Value: s.Operator},
		{Label: p.T("watch.meta.place"), Value: place},
		{Label: p.T("watch.meta.period"), Value: localTime(q.From) + " — " + localTime(q.To)},
	}}, nil
}

func columns(p *i18n.Printer, names ...string) []report.Column {
	cs := make([]report.Column, len(names))
	for i, n := range names {
		cs[i] = report.Column{Header: name(p, "watch.col.", n)}
	}
	return cs
}

// localTime writes t in Bulgarian time, as people there read it.
func localTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(workday.Sofia).Format("02.01.2006 15:04:05")
}

func timeCell(t time.Time) report.Cell { return report.Text(localTime(t)) }

func testCell(p *i18n.Printer, test bool) report.Cell {
	if test {
		return report.Text(p.T("watch.test_data"))
	}
	return report.Text("")
}

// decimalCell is a number for XLSX with the record's own digits, or the text when it is not a number or
// has more digits than a float64 holds: a total must come out exactly as summed, in every format.
func decimalCell(d core.Decimal) report.Cell {
	f, err := strconv.ParseFloat(string(d), 64)
	if err != nil || !d.Valid() {
		return report.Text(string(d))
	}
	c := report.Float(f, decimals(string(d)))
	if c.String() != string(d) {
		return report.Text(string(d))
	}
	return c
}

// endWalk passes a walk's error to the renderer (a stop it asked for is none).
func endWalk(yield func([]report.Cell, error) bool, err error) {
	if err != nil && !errors.Is(err, errStop) {
		yield(nil, err)
	}
}
