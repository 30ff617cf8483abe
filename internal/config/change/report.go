package change

import (
	"fmt"
	"io"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
)

// WriteText writes the report for a person in the printer's language: the counts, every tag and product
// finding, and the verdict.
func (r *Report) WriteText(w io.Writer, p *i18n.Printer) error {
	date := "—"
	if !r.Date.IsZero() {
		date = r.Date.Bulgarian()
	}
	pr := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	pr("%s\n", p.T("change.cli.header", r.Old, r.New, len(r.History), date))
	pr("%s\n", p.T("change.cli.counts", len(r.Kept), len(r.Added), len(r.Removed)))
	var tags, products []Finding
	for _, f := range r.Findings {
		if f.Product != nil {
			products = append(products, f)
		} else {
			tags = append(tags, f)
		}
	}
	if len(tags) == 0 && len(products) == 0 {
		pr("%s\n", p.T("change.cli.no_changes"))
	}
	if len(tags) > 0 {
		pr("\n%s\n", p.T("change.cli.tags"))
		for _, f := range tags {
			pr("  %s %s\n", mark(f), config.Text(p, f.Msg))
		}
	}
	if len(products) > 0 {
		pr("\n%s\n", p.T("change.cli.products"))
		for _, f := range products {
			pr("  %s %s\n", mark(f), config.Text(p, f.Msg))
		}
	}
	pr("\n")
	var err error
	if n := r.RefusedCount(); n > 0 {
		_, err = fmt.Fprintln(w, p.T("change.cli.refused", n))
	} else {
		pr("%s\n", p.T("change.cli.allowed"))
		if len(products) > 0 {
			pr("%s\n", p.T("change.cli.notices"))
		}
		_, err = fmt.Fprintln(w, p.T("change.cli.article_26_1"))
	}
	return err
}

func mark(f Finding) string {
	switch {
	case f.Refused:
		return "✗"
	case f.Late:
		return "!"
	case f.Kind == TagRemoved || f.Kind == ProductRemoved:
		return "-"
	case f.Kind == TagAdded || f.Kind == ProductAdded || f.Kind == TagRestored:
		return "+"
	}
	return "•"
}

// JSONReport is the report as `akciz config diff --format json` and the server's API give it. Dates are
// YYYY-MM-DD; an empty string is a date that was not computed.
type JSONReport struct {
	Old      string        `json:"old"`
	New      string        `json:"new"`
	History  []string      `json:"history"`
	Date     string        `json:"date,omitempty"`
	Refused  bool          `json:"refused"`
	Kept     []string      `json:"kept"`
	Added    []string      `json:"added"`
	Removed  []string      `json:"removed"`
	Findings []JSONFinding `json:"findings"`
}

// JSONFinding is one finding of a JSONReport.
type JSONFinding struct {
	Kind        Kind         `json:"kind"`
	Refused     bool         `json:"refused"`
	Late        bool         `json:"late,omitempty"`
	Tag         *JSONTag     `json:"tag,omitempty"`
	Earlier     *JSONTag     `json:"earlier,omitempty"`
	Product     *JSONProduct `json:"product,omitempty"`
	EarliestUse string       `json:"earliestUse,omitempty"`
	NoticeBy    string       `json:"noticeBy,omitempty"`
	Deadline    string       `json:"deadline,omitempty"`
	Message     string       `json:"message"`
}

// JSONTag is a tag with its address in both notations and its place in a file.
type JSONTag struct {
	Name       string `json:"name"`
	Point      string `json:"point,omitempty"`
	Controller string `json:"controller"`
	Unit       int    `json:"unit"`
	Table      string `json:"table"`
	Logical    string `json:"logical"`
	Physical   string `json:"physical"`
	Size       int    `json:"size"`
	Bit        *int   `json:"bit,omitempty"`
	File       string `json:"file"`
	Line       int    `json:"line"`
}

// JSONProduct is a product code of a control point and its place in a file.
type JSONProduct struct {
	Point string `json:"point"`
	Code  string `json:"code"`
	File  string `json:"file"`
	Line  int    `json:"line"`
}

// JSON gives the report as JSONReport, its messages in the printer's language.
func (r *Report) JSON(p *i18n.Printer) JSONReport {
	j := JSONReport{Old: r.Old, New: r.New, History: nonNil(r.History), Refused: r.Refused(),
		Kept: nonNil(r.Kept), Added: nonNil(r.Added), Removed: nonNil(r.Removed), Findings: []JSONFinding{}}
	if !r.Date.IsZero() {
		j.Date = r.Date.String()
	}
	for _, f := range r.Findings {
		jf := JSONFinding{Kind: f.Kind, Refused: f.Refused, Late: f.Late, Tag: jsonTag(f.Tag), Earlier: jsonTag(f.Earlier),
			Message: config.Text(p, f.Msg)}
		if f.Product != nil {
			jf.Product = &JSONProduct{Point: f.Product.Point, Code: f.Product.Code, File: f.Product.File, Line: f.Product.Line}
		}
		if !f.EarliestUse.IsZero() {
			jf.EarliestUse = f.EarliestUse.String()
		}
		if !f.NoticeBy.IsZero() {
			jf.NoticeBy = f.NoticeBy.String()
		}
		if !f.Deadline.IsZero() {
			jf.Deadline = f.Deadline.String()
		}
		j.Findings = append(j.Findings, jf)
	}
	return j
}

func jsonTag(t *Tag) *JSONTag {
	if t == nil {
		return nil
	}
	j := &JSONTag{Name: t.Name, Point: t.Point, Controller: t.Addr.Controller, Unit: t.Addr.Unit,
		Table: t.Addr.Table.String(), Logical: t.Addr.LogicalRange(), Physical: t.Addr.PhysicalRange(),
		Size: t.Addr.size(), File: t.File, Line: t.Line}
	if t.Addr.Bit >= 0 {
		b := t.Addr.Bit
		j.Bit = &b
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
