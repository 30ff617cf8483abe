package energy

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
)

// The keys of the declared block, canonical name first, with the Bulgarian names accepted for them.
var declKeys = map[string]string{
	"format": "format", "формат": "format",
	"declarant_name": "declarant_name", "наименование": "declarant_name",
	"declarant_eik": "declarant_eik", "еик": "declarant_eik",
	"excise_number": "excise_number", "акцизен_номер": "excise_number",
	"product": "product", "продукт": "product",
	"quarter": "quarter", "тримесечие": "quarter",
	"total": "total", "общо": "total",
	"total_household": "total_household", "общо_битови": "total_household",
	"total_business": "total_business", "общо_стопански": "total_business",
	"total_self_consumption": "total_self_consumption", "общо_собствени_нужди": "total_self_consumption",
}

// requiredKeys are the keys every declared block has, in the order they are reported missing.
var requiredKeys = []string{"declarant_name", "declarant_eik", "excise_number", "product", "quarter",
	"total", "total_household", "total_business", "total_self_consumption"}

// columns are the meter rows' columns, in their order, with their Bulgarian names.
var columns = []struct{ name, bg string }{
	{"meter_id", "средство_за_измерване"},
	{"consumer_type", "вид_потребител"},
	{"consumer_eik", "еик_потребител"},
	{"quantity", "количество"},
	{"unit", "мярка"},
	{"address", "адрес"},
	{"tariff", "тарифа"},
}

const width = 7 // len(columns)

var products = map[string]Product{
	"electricity": Electricity, "електрическа_енергия": Electricity, "електроенергия": Electricity,
	"natural-gas": NaturalGas, "природен_газ": NaturalGas, "природен-газ": NaturalGas,
}

var consumerTypes = map[string]ConsumerType{
	"household": Household, "битов": Household, "битови": Household,
	"business": Business, "стопански": Business,
	"self-consumption": SelfConsumption, "собствени_нужди": SelfConsumption, "собствени нужди": SelfConsumption,
}

// Field limits, in characters.
const (
	maxName    = 200
	maxMeterID = 64
	maxAddress = 300
	maxTariff  = 32
)

type state int

const (
	wantFormat state = iota // before the "format" row
	inDeclared              // in the declared block, before the columns' header
	inRows                  // after the columns' header
)

// checker validates the records of a file one by one, whatever their container (CSV, TSV, XLSX), and
// adds up the rows.
type checker struct {
	kind    Kind
	max     int
	errs    []Error
	omitted int
	fatal   bool // an error after which nothing more is read

	state    state
	seen     map[string]int    // declared key -> its line
	raw      map[string]string // declared key -> its value, parsed when the columns' header comes
	decl     Declaration
	declOK   bool // the declared block is valid: rows can be checked against it
	computed Totals
	rows     int64
	onRow    func(Row) error
	rowErr   error
}

func newChecker(kind Kind, max int, onRow func(Row) error) *checker {
	if max <= 0 {
		max = DefaultMaxErrors
	}
	return &checker{kind: kind, max: max, seen: map[string]int{}, raw: map[string]string{}, onRow: onRow}
}

func (c *checker) add(line, col int, field string, m i18n.Message) {
	if len(c.errs) >= c.max {
		c.omitted++
		return
	}
	c.errs = append(c.errs, Error{Line: line, Column: col, Field: field, Msg: m})
}

// stop records an error after which the file cannot be read on (an encoding, a broken quote, a size).
func (c *checker) stop(line, col int, field string, m i18n.Message) {
	c.add(line, col, field, m)
	c.fatal = true
}

// record checks one record (the fields of one line, or the cells of one row). short allows fewer cells
// than columns, as XLSX rows drop their trailing empty cells.
func (c *checker) record(line int, rec []string, short bool) {
	if c.fatal {
		return
	}
	n := 0
	for i, f := range rec {
		if !utf8.ValidString(f) {
			c.stop(line, i+1, "", notUTF8(f))
			return
		}
		if strings.TrimSpace(f) != "" {
			n = i + 1
		}
	}
	if n == 0 {
		return // a blank line, or one of empty cells as spreadsheets write them
	}
	switch c.state {
	case wantFormat:
		if len(rec) < 2 || !strings.EqualFold(strings.TrimSpace(rec[0]), "format") && strings.TrimSpace(rec[0]) != "формат" {
			c.stop(line, 1, "format", i18n.M("energy.no_format", FormatID))
			return
		}
		if v := strings.TrimSpace(rec[1]); v != FormatID {
			c.stop(line, 2, "format", i18n.M("energy.bad_format", v, FormatID))
			return
		}
		c.seen["format"] = line
		c.state = inDeclared
	case inDeclared:
		key := strings.ToLower(strings.TrimSpace(rec[0]))
		if key == columns[0].name || key == columns[0].bg {
			c.header(line, rec)
			return
		}
		if n > 2 {
			c.add(line, n, "", i18n.M("energy.decl_extra"))
			return
		}
		k, ok := declKeys[key]
		if !ok {
			c.add(line, 1, "", i18n.M("energy.decl_unknown", strings.TrimSpace(rec[0])))
			return
		}
		if prev, dup := c.seen[k]; dup {
			c.add(line, 1, k, i18n.M("energy.decl_dup", prev))
			return
		}
		c.seen[k] = line
		v := ""
		if len(rec) > 1 {
			v = strings.TrimSpace(rec[1])
		}
		c.raw[k] = v
	case inRows:
		c.row(line, rec, n, short)
	}
}

// header checks the columns' header row and, now that the declared block is complete, the block.
func (c *checker) header(line int, rec []string) {
	c.state = inRows
	for i, col := range columns {
		got := ""
		if i < len(rec) {
			got = strings.ToLower(strings.TrimSpace(rec[i]))
		}
		if got != col.name && got != col.bg {
			c.add(line, i+1, col.name, i18n.M("energy.bad_column", got, col.name, col.bg))
		}
	}
	for i := width; i < len(rec); i++ {
		if strings.TrimSpace(rec[i]) != "" {
			c.add(line, i+1, "", i18n.M("energy.extra_column", strings.TrimSpace(rec[i])))
		}
	}
	c.declared(line)
}

func (c *checker) declared(headerLine int) {
	before := len(c.errs) + c.omitted
	for _, k := range requiredKeys {
		if _, ok := c.seen[k]; !ok {
			c.add(headerLine, 0, k, i18n.M("energy.decl_missing", k))
		}
	}
	d := &c.decl
	if v, ok := c.raw["declarant_name"]; ok {
		switch n := utf8.RuneCountInString(v); {
		case n == 0:
			c.add(c.seen["declarant_name"], 2, "declarant_name", i18n.M("energy.empty"))
		case n > maxName:
			c.add(c.seen["declarant_name"], 2, "declarant_name", i18n.M("energy.too_long", n, maxName))
		case hasControl(v):
			c.add(c.seen["declarant_name"], 2, "declarant_name", i18n.M("energy.control"))
		}
		d.DeclarantName = v
	}
	if v, ok := c.raw["declarant_eik"]; ok {
		if !core.ValidEIK(v) {
			c.add(c.seen["declarant_eik"], 2, "declarant_eik", i18n.M("energy.bad_eik", v))
		}
		d.DeclarantEIK = v
	}
	if v, ok := c.raw["excise_number"]; ok {
		if !validExciseNumber(v) {
			c.add(c.seen["excise_number"], 2, "excise_number", i18n.M("energy.bad_excise_number", v))
		}
		d.ExciseNumber = v
	}
	if v, ok := c.raw["product"]; ok {
		p, ok := products[strings.ToLower(v)]
		if !ok {
			c.add(c.seen["product"], 2, "product", i18n.M("energy.bad_product", v))
		}
		d.Product = p
	}
	if v, ok := c.raw["quarter"]; ok {
		q, ok := ParseQuarter(v)
		if !ok {
			c.add(c.seen["quarter"], 2, "quarter", i18n.M("energy.bad_quarter", v))
		}
		d.Quarter = q
	}
	if d.Product.Valid() {
		for _, t := range []struct {
			key string
			dst *Quantity
		}{{"total", &d.Declared.All}, {"total_household", &d.Declared.Household},
			{"total_business", &d.Declared.Business}, {"total_self_consumption", &d.Declared.SelfConsumption}} {
			v, ok := c.raw[t.key]
			if !ok {
				continue
			}
			q, m := parseQuantity(v, d.Product.scale(), c.kind == XLSX)
			if m != nil {
				c.add(c.seen[t.key], 2, t.key, *m)
				continue
			}
			*t.dst = q
		}
	}
	c.declOK = len(c.errs)+c.omitted == before
	if !c.declOK {
		// Rows cannot be checked against a broken block (the unit depends on the product); say so once.
		c.add(headerLine, 0, "", i18n.M("energy.rows_unchecked"))
	}
}

func (c *checker) row(line int, rec []string, n int, short bool) {
	if !c.declOK {
		return
	}
	if n > width {
		c.add(line, n, "", i18n.M("energy.extra_column", strings.TrimSpace(rec[n-1])))
		return
	}
	if len(rec) < width && !short {
		c.add(line, 0, "", i18n.M("energy.field_count", len(rec), width))
		return
	}
	cell := func(i int) string {
		if i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	before := len(c.errs) + c.omitted
	r := Row{Line: line, MeterID: cell(0), ConsumerEIK: cell(2), Address: cell(5), Tariff: cell(6)}
	switch l := utf8.RuneCountInString(r.MeterID); {
	case l == 0:
		c.add(line, 1, "meter_id", i18n.M("energy.empty"))
	case l > maxMeterID:
		c.add(line, 1, "meter_id", i18n.M("energy.too_long", l, maxMeterID))
	case hasControl(r.MeterID):
		c.add(line, 1, "meter_id", i18n.M("energy.control"))
	}
	ct, ok := consumerTypes[cell(1)]
	if !ok {
		ct, ok = consumerTypes[strings.ToLower(cell(1))]
	}
	if !ok {
		c.add(line, 2, "consumer_type", i18n.M("energy.bad_consumer_type", cell(1)))
	}
	r.ConsumerType = ct
	switch ct {
	case Business:
		if r.ConsumerEIK == "" {
			c.add(line, 3, "consumer_eik", i18n.M("energy.eik_required"))
		} else if !core.ValidEIK(r.ConsumerEIK) {
			c.add(line, 3, "consumer_eik", i18n.M("energy.bad_eik", r.ConsumerEIK))
		}
	case Household:
		if r.ConsumerEIK != "" {
			if looksLikeEGN(r.ConsumerEIK) {
				// Never echo what may be a personal number back into logs and reports.
				c.add(line, 3, "consumer_eik", i18n.M("energy.egn"))
			} else {
				c.add(line, 3, "consumer_eik", i18n.M("energy.household_eik"))
			}
		}
	case SelfConsumption:
		if r.ConsumerEIK != "" && r.ConsumerEIK != c.decl.DeclarantEIK {
			c.add(line, 3, "consumer_eik", i18n.M("energy.self_eik", r.ConsumerEIK, c.decl.DeclarantEIK))
		}
	}
	scale, okUnit := unitScale(c.decl.Product, cell(4))
	if !okUnit {
		c.add(line, 5, "unit", i18n.M("energy.bad_unit", cell(4), string(c.decl.Product), unitsOf(c.decl.Product)))
	} else {
		q, m := parseQuantity(cell(3), scale, c.kind == XLSX)
		if m != nil {
			c.add(line, 4, "quantity", *m)
		}
		r.Quantity = q
	}
	switch l := utf8.RuneCountInString(r.Address); {
	case l == 0:
		c.add(line, 6, "address", i18n.M("energy.empty"))
	case l > maxAddress:
		c.add(line, 6, "address", i18n.M("energy.too_long", l, maxAddress))
	case hasControl(r.Address):
		c.add(line, 6, "address", i18n.M("energy.control"))
	}
	if l := utf8.RuneCountInString(r.Tariff); l > maxTariff {
		c.add(line, 7, "tariff", i18n.M("energy.too_long", l, maxTariff))
	} else if hasControl(r.Tariff) {
		c.add(line, 7, "tariff", i18n.M("energy.control"))
	}
	if len(c.errs)+c.omitted != before {
		return
	}
	c.rows++
	sum := func(dst *Quantity) bool {
		s := *dst + r.Quantity
		if s < *dst {
			c.stop(line, 4, "quantity", i18n.M("energy.overflow"))
			return false
		}
		*dst = s
		return true
	}
	switch ct {
	case Household:
		sum(&c.computed.Household)
	case Business:
		sum(&c.computed.Business)
	case SelfConsumption:
		sum(&c.computed.SelfConsumption)
	}
	if !sum(&c.computed.All) {
		return
	}
	if c.onRow != nil && len(c.errs) == 0 && c.rowErr == nil {
		c.rowErr = c.onRow(r)
	}
}

// finish checks what only the end of the file can tell: that the rows came, and that they add up to the
// declared totals.
func (c *checker) finish(lastLine int) {
	if c.fatal {
		return
	}
	switch c.state {
	case wantFormat:
		c.add(0, 0, "", i18n.M("energy.empty_file", FormatID))
		return
	case inDeclared:
		c.add(lastLine, 0, "", i18n.M("energy.no_header", strings.Join(columnNames(), ";")))
		return
	}
	if !c.declOK || len(c.errs) > 0 {
		return
	}
	p := c.decl.Product
	for _, t := range []struct {
		key string
		ct  ConsumerType
	}{{"total_household", Household}, {"total_business", Business},
		{"total_self_consumption", SelfConsumption}, {"total", ""}} {
		d, got := c.decl.Declared.get(t.ct), c.computed.get(t.ct)
		if d != got {
			c.add(c.seen[t.key], 2, t.key, i18n.M("energy.total_mismatch",
				d.Format(p, '.'), p.Unit(), got.Format(p, '.'), p.Unit(), (d-got).Format(p, '.'), p.Unit()))
		}
	}
}

func columnNames() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// unitScale is the number of base units (Wh, dm³) in one unit of a row's quantity.
func unitScale(p Product, unit string) (int64, bool) {
	u := strings.ToLower(unit)
	switch p {
	case Electricity:
		switch u {
		case "mwh", "мвтч":
			return 1_000_000, true
		case "kwh", "квтч":
			return 1000, true
		}
	case NaturalGas:
		switch u {
		case "m3", "m³", "м3", "м³":
			return 1000, true
		}
	}
	return 0, false
}

func unitsOf(p Product) string {
	if p == NaturalGas {
		return "m3"
	}
	return "MWh, kWh"
}

// parseQuantity reads a non-negative decimal number of units into base units (scale of them per unit):
// digits with at most one separator, "." or "," (Bulgarian spreadsheets write a decimal comma), and no
// more decimals than the base unit resolves. Thousands separators are refused: "1.234" is one and a
// bit, never a thousand. exp allows an exponent ("1.5E-3"), which spreadsheets store for some numbers.
func parseQuantity(s string, scale int64, exp bool) (Quantity, *i18n.Message) {
	bad := func(key string, args ...any) (Quantity, *i18n.Message) {
		m := i18n.M(key, args...)
		return 0, &m
	}
	if s == "" {
		return bad("energy.empty")
	}
	if s[0] == '-' {
		return bad("energy.negative", s)
	}
	if s[0] == '+' {
		s = s[1:]
	}
	mant, e := s, 0
	if exp {
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			v, err := strconv.Atoi(s[i+1:])
			if err != nil || v < -30 || v > 30 {
				return bad("energy.bad_number", s)
			}
			mant, e = s[:i], v
		}
	}
	intPart, frac := mant, ""
	if i := strings.IndexAny(mant, ".,"); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
		if strings.ContainsAny(frac, ".,") {
			return bad("energy.ambiguous_number", s)
		}
	}
	if intPart == "" && frac == "" || !digits(intPart) || !digits(frac) {
		return bad("energy.bad_number", s)
	}
	if e != 0 {
		// Shift the point by the exponent.
		all := intPart + frac
		point := len(intPart) + e
		for point < 0 {
			all = "0" + all
			point++
		}
		for point > len(all) {
			all += "0"
		}
		intPart, frac = all[:point], all[point:]
	}
	frac = strings.TrimRight(frac, "0")
	places := 0
	for x := scale; x > 1; x /= 10 {
		places++
	}
	if len(frac) > places {
		return bad("energy.too_precise", s, places)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart)+places > 18 {
		return bad("energy.too_large", s)
	}
	var v int64
	for i := 0; i < len(intPart); i++ {
		v = v*10 + int64(intPart[i]-'0')
	}
	for i := 0; i < places; i++ {
		d := int64(0)
		if i < len(frac) {
			d = int64(frac[i] - '0')
		}
		v = v*10 + d
	}
	return Quantity(v), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hasControl looks at bytes: no byte of a multi-byte UTF-8 sequence is below 0x80.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if r := s[i]; r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// looksLikeEGN reports whether s is ten digits, the shape of a personal number (ЕГН) or a foreigner's
// number (ЛНЧ): never wanted here.
func looksLikeEGN(s string) bool { return len(s) == 10 && digits(s) }

// validExciseNumber checks the shape of an excise number (акцизен номер) as the registration under
// чл. 57а ЗАДС gives it: 13 characters, "BG" and 11 capital Latin letters or digits. Its inner structure
// is not published, so no more is checked.
func validExciseNumber(s string) bool {
	if len(s) != 13 || s[:2] != "BG" {
		return false
	}
	for i := 2; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'A' && s[i] <= 'Z') {
			return false
		}
	}
	return true
}

// notUTF8 says why a field is not text, guessing Windows-1251, which Bulgarian spreadsheets write when
// saved as plain "CSV": Cyrillic letters are single bytes from 0xC0 to 0xFF there.
func notUTF8(s string) i18n.Message {
	high, cyr := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			high++
			if s[i] >= 0xC0 {
				cyr++
			}
		}
	}
	if high > 0 && cyr*2 >= high {
		return i18n.M("energy.windows1251")
	}
	return i18n.M("energy.not_utf8")
}

// result is the checked file's result, or its errors.
func (c *checker) result() (*Result, *Errors) {
	if len(c.errs) > 0 {
		return nil, &Errors{Kind: c.kind, List: c.errs, Omitted: c.omitted}
	}
	return &Result{Declaration: c.decl, Computed: c.computed, Rows: c.rows, Kind: c.kind}, nil
}
