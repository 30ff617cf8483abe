// Package energy checks the quarterly tables of electricity and natural gas sellers (Ordinance N-7,
// чл. 22–24): a declared block (the declarant, the product, the quarter and the declared totals per type
// of consumer) followed by one row per commercial meter (the meter's id, the consumer's EIK, the quantity
// sold, the consumption address, as чл. 22 т. 3 and чл. 23 т. 3 ask on request). The layout is defined in
// docs/energy.md.
//
// Files up to 0.5 GB (чл. 24) are streamed, never held in memory. A file is either valid as a whole, and
// then Check returns its Result, or refused with every error found (up to a cap), each naming its line
// and column: nothing is ever half accepted. Quantities are exact scaled integers, never floats.
package energy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/akciz/akciz/internal/i18n"
)

// MaxFileSize is the largest file accepted: 0.5 GB (чл. 24), read in SI units as Bulgarian law uses them:
// 500 000 000 bytes.
const MaxFileSize = 500_000_000

// MaxLine is the longest physical line (or XLSX row, its cells joined) accepted, in bytes. A meter row is
// well under 1 KiB; a longer line is a broken file (a missing quote swallowing the rest), not data.
const MaxLine = 64 << 10

// DefaultMaxErrors is how many errors are listed before the rest are only counted.
const DefaultMaxErrors = 1000

// FormatID is the value of the first row of every file ("format;akciz-energy/1"): it names the layout and
// its version, so that a later layout can be told apart.
const FormatID = "akciz-energy/1"

// Product is what a table is about: electricity (чл. 22) or natural gas (чл. 23).
type Product string

// The products.
const (
	Electricity Product = "electricity"
	NaturalGas  Product = "natural-gas"
)

// Valid reports whether p is a known product.
func (p Product) Valid() bool { return p == Electricity || p == NaturalGas }

// Unit is the unit in which the declared totals of p are given: MWh for electricity (чл. 22 т. 1), m³ at
// 20 °C and 0.101325 MPa for gas (чл. 23).
func (p Product) Unit() string {
	if p == NaturalGas {
		return "m3"
	}
	return "MWh"
}

// Quantity is an amount of energy in the product's base unit, an exact integer: Wh for electricity (so
// MWh with 6 decimals, kWh with 3), dm³ for natural gas (m³ with 3 decimals), both at standard conditions.
type Quantity int64

// scale is how many base units make one unit of the declared totals: 10^6 Wh in a MWh, 10^3 dm³ in a m³.
func (p Product) scale() int64 {
	if p == NaturalGas {
		return 1000
	}
	return 1_000_000
}

// Format writes q in the declared unit of p (MWh or m³) with the decimal separator sep, without trailing
// zeros after the point: 1234500 Wh is "1.2345".
func (q Quantity) Format(p Product, sep byte) string {
	s := p.scale()
	neg := q < 0
	u := uint64(q)
	if neg {
		u = uint64(-q)
	}
	whole, frac := u/uint64(s), u%uint64(s)
	out := strconv.FormatUint(whole, 10)
	if frac != 0 {
		digits := len(strconv.FormatInt(s, 10)) - 1
		f := fmt.Sprintf("%0*d", digits, frac)
		out += string(sep) + strings.TrimRight(f, "0")
	}
	if neg {
		out = "-" + out
	}
	return out
}

// ConsumerType is the type of consumer of a row (чл. 22 т. 2, чл. 23 т. 2), plus the declarant's own
// consumption, which both articles also cover.
type ConsumerType string

// The consumer types.
const (
	Household       ConsumerType = "household"        // битов
	Business        ConsumerType = "business"         // стопански
	SelfConsumption ConsumerType = "self-consumption" // собствени нужди
)

// Totals are quantities per consumer type and overall.
type Totals struct {
	Household       Quantity `json:"household"`
	Business        Quantity `json:"business"`
	SelfConsumption Quantity `json:"self_consumption"`
	All             Quantity `json:"all"`
}

func (t *Totals) get(c ConsumerType) Quantity {
	switch c {
	case Household:
		return t.Household
	case Business:
		return t.Business
	case SelfConsumption:
		return t.SelfConsumption
	}
	return t.All
}

// Quarter is a calendar quarter, written 2026-Q3.
type Quarter struct {
	Year int `json:"year"`
	Q    int `json:"q"`
}

func (q Quarter) String() string { return fmt.Sprintf("%04d-Q%d", q.Year, q.Q) }

// ParseQuarter reads "2026-Q3" (also "2026-q3").
func ParseQuarter(s string) (Quarter, bool) {
	if len(s) != 7 || s[4] != '-' || (s[5] != 'Q' && s[5] != 'q') || s[6] < '1' || s[6] > '4' {
		return Quarter{}, false
	}
	y, err := strconv.Atoi(s[:4])
	if err != nil || y < 2000 || y > 2999 {
		return Quarter{}, false
	}
	return Quarter{Year: y, Q: int(s[6] - '0')}, true
}

// Declaration is the declared block of a file.
type Declaration struct {
	DeclarantName string  `json:"declarant_name"`
	DeclarantEIK  string  `json:"declarant_eik"`
	ExciseNumber  string  `json:"excise_number"`
	Product       Product `json:"product"`
	Quarter       Quarter `json:"quarter"`
	Declared      Totals  `json:"declared"`
}

// Row is one meter row: the data of one commercial meter for one consumer (and tariff) in the quarter.
type Row struct {
	Line         int          `json:"line"`     // line (CSV) or row (XLSX) number, from 1
	MeterID      string       `json:"meter_id"` // идентификатор на средството за търговско измерване
	ConsumerType ConsumerType `json:"consumer_type"`
	ConsumerEIK  string       `json:"consumer_eik,omitempty"` // empty for households: no personal data
	Quantity     Quantity     `json:"quantity"`               // in the product's base unit (Wh or dm³)
	Address      string       `json:"address"`                // адрес на потребление
	Tariff       string       `json:"tariff,omitempty"`
}

// Kind is the container of a file.
type Kind string

// The kinds of file.
const (
	CSV  Kind = "csv"
	TSV  Kind = "tsv"
	XLSX Kind = "xlsx"
)

// KindOf tells the kind of a file by its name's extension; anything not .tsv/.txt or .xlsx is CSV.
func KindOf(name string) Kind {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".xlsx"):
		return XLSX
	case strings.HasSuffix(n, ".tsv"), strings.HasSuffix(n, ".tab"), strings.HasSuffix(n, ".txt"):
		return TSV
	}
	return CSV
}

// Result is what a valid file holds, and what identifies it.
type Result struct {
	Declaration
	Computed Totals            `json:"computed"` // recomputed from the rows; equal to Declared
	Rows     int64             `json:"rows"`
	Kind     Kind              `json:"kind"`
	Size     int64             `json:"size"`
	SHA256   [sha256.Size]byte `json:"-"`
}

// Digest is the SHA-256 of the file's bytes, in hex.
func (r *Result) Digest() string { return hex.EncodeToString(r.SHA256[:]) }

// Key identifies a submission: the same file sent twice has the same key, and so has a different file for
// the same declarant, product and quarter except in its digest, which is how a server tells a repeated
// upload (same key) from a correction (same declarant, product and quarter, another digest).
func (r *Result) Key() string {
	return r.DeclarantEIK + "/" + string(r.Product) + "/" + r.Quarter.String() + "/" + r.Digest()
}

// Error is one fault of a file, at a place.
type Error struct {
	Line   int          // line (CSV/TSV) or row (XLSX), from 1; 0: the file as a whole
	Column int          // field (CSV/TSV) or column (XLSX), from 1; 0: the whole line
	Field  string       // the field's name, when known
	Msg    i18n.Message // what is wrong
}

// Text formats e in the language of p; xlsx names cells ("C5") instead of lines and columns.
func (e Error) Text(p *i18n.Printer, kind Kind) string {
	msg := p.Msg(e.Msg)
	switch {
	case e.Line == 0:
		return msg
	case kind == XLSX && e.Column > 0 && e.Field != "":
		return p.T("energy.at_cell_field", cellName(e.Column, e.Line), e.Field, msg)
	case kind == XLSX && e.Column > 0:
		return p.T("energy.at_cell", cellName(e.Column, e.Line), msg)
	case kind == XLSX:
		return p.T("energy.at_row", e.Line, msg)
	case e.Column > 0 && e.Field != "":
		return p.T("energy.at_field", e.Line, e.Column, e.Field, msg)
	case e.Column > 0:
		return p.T("energy.at_column", e.Line, e.Column, msg)
	}
	return p.T("energy.at_line", e.Line, msg)
}

func (e Error) String() string { return e.Text(i18n.For(i18n.EN), CSV) }

// cellName is the A1 name of a cell.
func cellName(col, row int) string {
	var b []byte
	for c := col; c > 0; c = (c - 1) / 26 {
		b = append([]byte{byte('A' + (c-1)%26)}, b...)
	}
	return string(b) + strconv.Itoa(row)
}

// Errors is a refused file: the errors found, the first Max of them listed, the rest counted.
type Errors struct {
	Kind    Kind
	List    []Error
	Omitted int // errors found beyond the list
}

func (e *Errors) Error() string {
	if len(e.List) == 0 {
		return "energy: file refused"
	}
	s := "energy: " + e.List[0].Text(i18n.For(i18n.EN), e.Kind)
	if n := len(e.List) - 1 + e.Omitted; n > 0 {
		s += fmt.Sprintf(" (and %d more errors)", n)
	}
	return s
}
