package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSVOptions is a CSV dialect. The zero value is ExcelBG.
type CSVOptions struct {
	// Comma separates fields; zero means ';'.
	Comma rune
	// Decimal is the decimal separator of number cells; zero means ',' when Comma is ';' and '.' otherwise.
	Decimal rune
	// NoBOM leaves out the UTF-8 byte order mark. Without the mark Excel reads the file in the system's
	// legacy code page and shows Cyrillic as mojibake.
	NoBOM bool
	// Raw writes text cells exactly. Without it a text cell that Excel would take for a formula (one that
	// starts with = + - @, a tab or a carriage return and is not a number) is written with a leading
	// apostrophe, so that opening a file cannot run what a configuration file smuggled in.
	Raw bool
}

// The two dialects akciz documents (docs/exports.md).
var (
	// ExcelBG is what Excel with Bulgarian regional settings opens by double-click: ';' between fields,
	// decimal comma, a byte order mark. The default.
	ExcelBG = CSVOptions{Comma: ';', Decimal: ','}
	// RFC4180 is for programs: ',' between fields, decimal point, no byte order mark, text as is.
	RFC4180 = CSVOptions{Comma: ',', Decimal: '.', NoBOM: true, Raw: true}
)

func (o CSVOptions) norm() CSVOptions {
	if o.Comma == 0 {
		o.Comma = ';'
	}
	if o.Decimal == 0 {
		o.Decimal = '.'
		if o.Comma == ';' {
			o.Decimal = ','
		}
	}
	return o
}

const bom = "\uFEFF"

// CSV writes the whole document as one CSV file that reads like the document when opened in a
// spreadsheet: the title, the subtitle and the metadata ("label", "value") first, then per section a
// row with the heading, a row per paragraph, and per table its caption (if any), its header row and its
// rows, each section and table followed by an empty row. For a file a program reads, write one table
// with CSVTable.
func CSV(w io.Writer, d *Document, o CSVOptions) error {
	o = o.norm()
	cw, err := newCSV(w, o)
	if err != nil {
		return err
	}
	one := func(s string) error { return cw.Write([]string{o.text(s)}) }
	if d.Title != "" {
		if err := one(d.Title); err != nil {
			return err
		}
	}
	if d.Subtitle != "" {
		if err := one(d.Subtitle); err != nil {
			return err
		}
	}
	for _, m := range d.Meta {
		if err := cw.Write([]string{o.text(m.Label), o.text(m.Value)}); err != nil {
			return err
		}
	}
	for _, s := range d.Sections {
		if err := cw.Write(nil); err != nil {
			return err
		}
		if err := one(s.Heading); err != nil {
			return err
		}
		for i, b := range s.Blocks {
			switch b := b.(type) {
			case Paragraph:
				if err := one(string(b)); err != nil {
					return err
				}
			case *Table:
				if i > 0 {
					if err := cw.Write(nil); err != nil {
						return err
					}
				}
				if b.Caption != "" {
					if err := one(b.Caption); err != nil {
						return err
					}
				}
				if err := writeCSVTable(cw, b, o); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVTable writes one table — its header row and its rows, nothing else — as a CSV file.
func CSVTable(w io.Writer, t *Table, o CSVOptions) error {
	o = o.norm()
	cw, err := newCSV(w, o)
	if err != nil {
		return err
	}
	if err := writeCSVTable(cw, t, o); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func newCSV(w io.Writer, o CSVOptions) (*csv.Writer, error) {
	if !o.NoBOM {
		if _, err := io.WriteString(w, bom); err != nil {
			return nil, err
		}
	}
	cw := csv.NewWriter(w)
	cw.Comma = o.Comma
	cw.UseCRLF = true // RFC 4180, and what Excel writes
	return cw, nil
}

func writeCSVTable(cw *csv.Writer, t *Table, o CSVOptions) error {
	rec := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		rec[i] = o.text(c.Header)
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	c := open(t, 0)
	defer c.Close()
	for r, ok := c.Next(); ok; r, ok = c.Next() {
		for i, v := range r {
			if v.IsNumber() {
				rec[i] = v.format(o.Decimal)
			} else {
				rec[i] = o.text(v.text)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	return c.Err()
}

// text guards a text cell against formula injection (see CSVOptions.Raw).
func (o CSVOptions) text(s string) string {
	if o.Raw || s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseFloat(s, 64); err == nil && s[0] != '=' && s[0] != '@' {
			return s
		}
		return "'" + s
	}
	return s
}
