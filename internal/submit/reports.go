package submit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
)

// Query selects what a report covers; zero fields select all. Operator is the EIK whose submissions are
// reported: the API sets it to the client certificate's, so that an operator sees only its own.
type Query struct {
	Operator string
	// Warehouses, when not nil, keeps the barcode lists of these tax warehouses' control points only:
	// an officer's sites (none when empty).
	Warehouses []string
	// Barcode lists: the control point, its kind, and the period [From, To) on the end of a list's period.
	Point    string
	Kind     string
	From, To time.Time
	// Number is a list's number (the barcodes of one list).
	Number string
	// Energy: the product, the quarter (2026-Q3), a file, a meter, a consumer.
	Product     string
	Quarter     string
	File        int64
	MeterID     string
	ConsumerEIK string
	// Limit bounds the rows of the lists and files reports (0: no bound).
	Limit int
}

// Report is a document with one table, and the JSON names of the table's columns.
type Report struct {
	Doc  *report.Document
	Keys []string
}

func newReport(p *i18n.Printer, title string, q Query, cols []report.Column, keys []string, src iter.Seq2[[]report.Cell, error]) *Report {
	d := &report.Document{Title: title, Lang: p.Lang()}
	if q.Operator != "" {
		d.Meta = append(d.Meta, report.Field{Label: p.T("submit.report.operator"), Value: q.Operator})
	}
	for _, f := range []struct{ key, v string }{
		{"submit.report.point", q.Point}, {"submit.report.kind", q.Kind}, {"submit.report.number", q.Number},
		{"submit.report.product", q.Product}, {"submit.report.quarter", q.Quarter},
		{"submit.report.meter", q.MeterID}, {"submit.report.consumer", q.ConsumerEIK},
	} {
		if f.v != "" {
			d.Meta = append(d.Meta, report.Field{Label: p.T(f.key), Value: f.v})
		}
	}
	if !q.From.IsZero() {
		d.Meta = append(d.Meta, report.Field{Label: p.T("submit.report.from"), Value: q.From.Format(time.RFC3339)})
	}
	if !q.To.IsZero() {
		d.Meta = append(d.Meta, report.Field{Label: p.T("submit.report.to"), Value: q.To.Format(time.RFC3339)})
	}
	d.Sections = []*report.Section{{Heading: title, Blocks: []report.Block{&report.Table{Columns: cols, Source: src}}}}
	return &Report{Doc: d, Keys: keys}
}

func columns(p *i18n.Printer, keys ...string) ([]report.Column, []string) {
	cols := make([]report.Column, len(keys))
	for i, k := range keys {
		key := "submit.col." + k // every one is in the catalogue (TestColumnKeys)
		cols[i] = report.Column{Header: p.T(key)}
	}
	return cols, keys
}

// label is the text of a value of an enumeration (a kind of control point, a kind of goods, a product, a
// consumer type) in p's language; a value the catalogue does not know is shown as it is.
func label(p *i18n.Printer, group, v string) string {
	key := "submit." + group + "." + v
	if !i18n.Has(p.Lang(), key) {
		return v
	}
	return p.T(key)
}

func stamp(t time.Time) report.Cell {
	if t.IsZero() {
		return report.Text("")
	}
	return report.Text(t.Format(time.RFC3339))
}

func sepiFilter(q Query) store.SepiFilter {
	return store.SepiFilter{Operator: q.Operator, Warehouses: q.Warehouses, Point: q.Point, Kind: q.Kind, From: q.From,
		To: q.To, Limit: q.Limit}
}

// slice yields rows made in memory.
func slice(rows [][]report.Cell) iter.Seq2[[]report.Cell, error] {
	return func(yield func([]report.Cell, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// errStop ends a store walk when the reader of a report stops early.
var errStop = errors.New("stop")

// walk yields the rows a store walk gives to emit, streaming.
func walk(run func(emit func([]report.Cell) error) error) iter.Seq2[[]report.Cell, error] {
	return func(yield func([]report.Cell, error) bool) {
		err := run(func(r []report.Cell) error {
			if !yield(r, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(nil, err)
		}
	}
}

// SepiLists reports the barcode lists per period and control point (чл. 41).
func (s *Service) SepiLists(ctx context.Context, p *i18n.Printer, q Query) (*Report, error) {
	lists, err := s.cfg.Store.SepiLists(ctx, sepiFilter(q))
	if err != nil {
		return nil, err
	}
	cols, keys := columns(p, "number", "operator", "point", "kind", "goods", "start", "end", "document",
		"packages", "flagged", "received", "sha256")
	rows := make([][]report.Cell, len(lists))
	for i, l := range lists {
		rows[i] = []report.Cell{report.Text(l.Number), report.Text(l.Operator), report.Text(l.Point),
			report.Text(label(p, "kind", l.Kind)), report.Text(label(p, "goods", l.Goods)), stamp(l.Start),
			stamp(l.End), report.Text(l.ARC), report.Int(l.Packages), report.Int(l.Flagged), stamp(l.Received),
			report.Text(hex.EncodeToString(l.SHA256[:]))}
	}
	return newReport(p, p.T("submit.report.sepi_lists"), q, cols, keys, slice(rows)), nil
}

// SepiProducts reports the barcodes per document and brand of the lists q selects: per list, document,
// brand and assortment, the transport packages counted.
func (s *Service) SepiProducts(ctx context.Context, p *i18n.Printer, q Query) (*Report, error) {
	f := sepiFilter(q)
	f.Limit = 0
	lists, err := s.cfg.Store.SepiLists(ctx, f)
	if err != nil {
		return nil, err
	}
	cols, keys := columns(p, "number", "point", "kind", "end", "document", "cn", "brand", "assortment", "barcodes")
	var rows [][]report.Cell
	for _, l := range lists {
		if q.Number != "" && l.Number != q.Number {
			continue
		}
		products, err := s.cfg.Store.SepiProducts(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		for _, pr := range products {
			rows = append(rows, []report.Cell{report.Text(l.Number), report.Text(l.Point),
				report.Text(label(p, "kind", l.Kind)), stamp(l.End), report.Text(pr.Document), report.Text(pr.CN),
				report.Text(pr.Brand), report.Text(pr.Assortment), report.Int(pr.Count)})
		}
	}
	return newReport(p, p.T("submit.report.sepi_products"), q, cols, keys, slice(rows)), nil
}

// SepiBarcodes reports every barcode of one list (q.Number) with its document and brand, streaming.
func (s *Service) SepiBarcodes(ctx context.Context, p *i18n.Printer, q Query) (*Report, error) {
	l, err := s.cfg.Store.SepiList(ctx, q.Operator, q.Number)
	if err != nil {
		return nil, err
	}
	products, err := s.cfg.Store.SepiProducts(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	cols, keys := columns(p, "document", "brand", "assortment", "barcode")
	src := walk(func(emit func([]report.Cell) error) error {
		return s.cfg.Store.SepiBarcodes(ctx, l.ID, func(i int, b int64) error {
			pr := products[i]
			return emit([]report.Cell{report.Text(pr.Document), report.Text(pr.Brand), report.Text(pr.Assortment),
				report.Text(fmt.Sprintf("%018d", b))})
		})
	})
	return newReport(p, p.T("submit.report.sepi_barcodes", l.Number), q, cols, keys, src), nil
}

// SepiFlags reports the flagged barcodes: those that entered while their last movement entered too, or
// left while it left too (the prior kind tells which).
func (s *Service) SepiFlags(ctx context.Context, p *i18n.Printer, q Query) (*Report, error) {
	cols, keys := columns(p, "number", "barcode", "line", "prior_list", "prior_kind", "prior_end")
	src := walk(func(emit func([]report.Cell) error) error {
		return s.cfg.Store.SepiFlags(ctx, sepiFilter(q), func(f store.SepiFlag) error {
			if q.Operator != "" && f.Prior.Operator != q.Operator {
				f.Prior.List = p.T("submit.sepi.other_list") // as in the answer to the upload
			}
			return emit([]report.Cell{report.Text(f.ListNumber), report.Text(fmt.Sprintf("%018d", f.Barcode)),
				report.Int(int64(f.Line)), report.Text(f.Prior.List), report.Text(label(p, "kind", f.Prior.Kind)),
				stamp(f.Prior.When)})
		})
	})
	return newReport(p, p.T("submit.report.sepi_flags"), q, cols, keys, src), nil
}

// quantity is a cell of q in the declared unit of product (MWh or m³), exact.
func quantity(product string, q int64) report.Cell {
	s := energy.Quantity(q).Format(energy.Product(product), '.')
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return report.Float(v, -1)
	}
	return report.Text(s)
}

// EnergyFiles reports the energy tables per quarter and operator with their totals (чл. 22–23 т. 1–2).
func (s *Service) EnergyFiles(ctx context.Context, p *i18n.Printer, q Query) (*Report, error) {
	files, err := s.cfg.Store.EnergyFiles(ctx, store.EnergyFilter{Operator: q.Operator, Product: q.Product,
		Quarter: q.Quarter, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	cols, keys := columns(p, "file", "quarter", "operator", "declarant", "product", "unit", "total", "household",
		"business", "self_consumption", "rows", "replaced_by", "name", "received", "sha256")
	rows := make([][]report.Cell, len(files))
	for i, f := range files {
		var replaced report.Cell
		if f.ReplacedBy != 0 {
			replaced = report.Int(f.ReplacedBy)
		}
		rows[i] = []report.Cell{report.Int(f.ID), report.Text(f.Quarter), report.Text(f.Operator),
			report.Text(f.DeclarantName), report.Text(label(p, "product", f.Product)),
			report.Text(energy.Product(f.Product).Unit()), quantity(f.Product, f.Computed.All),
			quantity(f.Product, f.Computed.Household), quantity(f.Product, f.Computed.Business),
			quantity(f.Product, f.Computed.SelfConsumption), report.Int(f.Rows), replaced, report.Text(f.Name),
			stamp(f.Received), report.Text(hex.EncodeToString(f.SHA256[:]))}
	}
	return newReport(p, p.T("submit.report.energy_files"), q, cols, keys, slice(rows)), nil
}

// EnergyRows reports the rows of one meter, one consumer or one file (чл. 22 т. 3, чл. 23 т. 3),
// streaming, in the declared unit of each file's product.
func (s *Service) EnergyRows(ctx context.Context, p *i18n.Printer, q Query) (*Report, error) {
	files, err := s.cfg.Store.EnergyFiles(ctx, store.EnergyFilter{Operator: q.Operator, Quarter: q.Quarter})
	if err != nil {
		return nil, err
	}
	byID := map[int64]store.EnergyFile{}
	for _, f := range files {
		byID[f.ID] = f
	}
	cols, keys := columns(p, "file", "quarter", "line", "meter", "consumer_type", "consumer_eik", "quantity",
		"unit", "address", "tariff")
	src := walk(func(emit func([]report.Cell) error) error {
		return s.cfg.Store.EnergyRows(ctx, store.EnergyRowQuery{Operator: q.Operator, File: q.File, Quarter: q.Quarter,
			MeterID: q.MeterID, ConsumerEIK: q.ConsumerEIK, Limit: q.Limit}, func(r store.EnergyRow) error {
			f := byID[r.File]
			return emit([]report.Cell{report.Int(r.File), report.Text(f.Quarter), report.Int(int64(r.Line)),
				report.Text(r.MeterID), report.Text(label(p, "consumer", r.ConsumerType)),
				report.Text(r.ConsumerEIK), quantity(f.Product, r.Quantity), report.Text(energy.Product(f.Product).Unit()),
				report.Text(r.Address), report.Text(r.Tariff)})
		})
	})
	return newReport(p, p.T("submit.report.energy_rows"), q, cols, keys, src), nil
}

// WriteJSON writes the report's rows as a JSON array of objects keyed by Keys, streaming: numbers as
// numbers, everything else as strings.
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	t := r.Doc.Sections[0].Blocks[0].(*report.Table)
	bw.WriteString("[")
	n := 0
	for row, err := range t.All() {
		if err != nil {
			return err
		}
		if n > 0 {
			bw.WriteString(",")
		}
		n++
		bw.WriteString("\n{")
		for i, c := range row {
			if i > 0 {
				bw.WriteString(",")
			}
			k, _ := json.Marshal(r.Keys[i])
			bw.Write(k)
			bw.WriteString(":")
			if c.IsNumber() {
				bw.WriteString(c.String())
			} else {
				v, _ := json.Marshal(c.String())
				bw.Write(v)
			}
		}
		bw.WriteString("}")
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
}
