package wire

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/core"
)

// fastDecode is the hot path of record decoding: a parser of exactly the bytes EncodeRecord writes,
// member by member in their fixed order, which decodes and checks the one encoding in one pass. It is
// deliberately stricter than needed: it gives up (ok false) on anything unusual, such as a string with an
// escape, and the caller then takes the slow path (encoding/json and the re-encoding check), which decides.
// So it can only be too strict, never too lenient: whenever it accepts, the slow path accepts the same
// bytes with the same result (FuzzDecodeRecord checks this).
func fastDecode(b []byte, l *line, in interner) (ok bool) {
	p := parser{b: b, in: in}
	r := l.Record
	if !p.lit(`{"seq":`) || !p.uint(&l.Seq) || !p.lit(`,"prev":"`) || !p.hash(&l.Prev) || !p.lit(`","kind":`) {
		return false
	}
	var kind string
	if !p.str(&kind) || !p.lit(`,"time":`) || !p.time(&r.Time) || !p.lit(`,"device":`) || !p.str(&r.Device) {
		return false
	}
	r.Kind = core.RecordKind(kind)
	if p.lit(`,"point":`) && !p.nonEmpty(&r.Point) {
		return false
	}
	if p.lit(`,"config":`) && !p.nonEmpty(&r.Config) {
		return false
	}
	if p.lit(`,"test":`) {
		if !p.lit("true") {
			return false
		}
		r.Test = true
	}
	if p.lit(`,"reading":`) {
		r.Reading = new(core.Reading)
		if !p.reading(r.Reading) {
			return false
		}
	}
	if p.lit(`,"transaction":`) {
		r.Transaction = new(core.Transaction)
		if !p.transaction(r.Transaction) {
			return false
		}
	}
	if p.lit(`,"event":`) {
		r.Event = new(core.Event)
		if !p.event(r.Event) {
			return false
		}
	}
	return p.lit("}") && p.i == len(p.b)
}

type parser struct {
	b  []byte
	i  int
	in interner // may be nil
}

// interner shares the strings that repeat from record to record (device, point, config, tags, units, …)
// within one batch, so that decoding allocates them once.
type interner map[string]string

// maxInterned bounds an interner: the strings of a batch are few, and a hostile batch gains nothing.
const maxInterned = 1024

func (in interner) string(b []byte) string {
	if in == nil || len(b) > 80 {
		return string(b)
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// lit consumes s if the input continues with it.
func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// uint reads a decimal without sign or leading zeros.
func (p *parser) uint(v *uint64) bool {
	j := p.i
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if j == p.i || (p.b[p.i] == '0' && j > p.i+1) {
		return false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		return false
	}
	*v, p.i = n, j
	return true
}

func (p *parser) int(v *int) bool {
	neg := p.lit("-")
	var u uint64
	if !p.uint(&u) || (neg && u == 0) || u > 1<<62 {
		return false
	}
	*v = int(u)
	if neg {
		*v = -*v
	}
	return true
}

func (p *parser) hash(h *Hash) bool {
	if len(p.b)-p.i < 64 {
		return false
	}
	s := p.b[p.i : p.i+64]
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	for k := range h {
		h[k] = unhex(s[2*k])<<4 | unhex(s[2*k+1])
	}
	p.i += 64
	return true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// str reads a JSON string as the encoder writes it, when it holds nothing but printable characters, valid
// UTF-8, and the escapes \" and \\ (names with quotes are common). Other escapes (control characters,
// U+2028, U+2029) are left to the slow path.
func (p *parser) str(s *string) bool {
	if !p.lit(`"`) {
		return false
	}
	start, esc := p.i, false
	for k := p.i; k < len(p.b); {
		c := p.b[k]
		switch {
		case c == '"':
			v := p.b[start:k]
			if esc {
				*s = unescape(v)
			} else {
				*s = p.in.string(v)
			}
			p.i = k + 1
			return true
		case c == '\\':
			if k+1 >= len(p.b) || p.b[k+1] != '"' && p.b[k+1] != '\\' {
				return false
			}
			esc = true
			k += 2
		case c < 0x20:
			return false
		case c < utf8.RuneSelf:
			k++
		default:
			r, n := utf8.DecodeRune(p.b[k:])
			if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
				return false
			}
			k += n
		}
	}
	return false
}

// unescape removes the backslashes of \" and \\, the only escapes str lets through.
func unescape(v []byte) string {
	out := make([]byte, 0, len(v))
	for k := 0; k < len(v); k++ {
		if v[k] == '\\' {
			k++
		}
		out = append(out, v[k])
	}
	return string(out)
}

func (p *parser) nonEmpty(s *string) bool { return p.str(s) && *s != "" }

// time reads a time as the encoder writes it (RFC 3339, UTC, trailing fractional zeros dropped).
func (p *parser) time(t *time.Time) bool {
	var s string
	if !p.str(&s) {
		return false
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || v.Location() != time.UTC || v.Format(time.RFC3339Nano) != s {
		return false
	}
	*t = v
	return true
}

func (p *parser) reading(r *core.Reading) bool {
	if !p.lit(`{"values":`) {
		return false
	}
	if p.lit("null") {
		return p.lit("}")
	}
	if !p.lit("[") {
		return false
	}
	if p.lit("]") {
		r.Values = []core.Value{}
		return p.lit("}")
	}
	for {
		var v core.Value
		if !p.value(&v) {
			return false
		}
		r.Values = append(r.Values, v)
		if p.lit("]") {
			return p.lit("}")
		}
		if !p.lit(",") {
			return false
		}
	}
}

func (p *parser) value(v *core.Value) bool {
	var s string
	if !p.lit(`{"tag":`) || !p.str(&v.Tag) {
		return false
	}
	if p.lit(`,"role":`) {
		if !p.nonEmpty(&s) {
			return false
		}
		v.Role = core.Role(s)
	}
	if !p.lit(`,"value":`) || !p.str(&s) {
		return false
	}
	v.Value = core.Decimal(s)
	if p.lit(`,"unit":`) && !p.nonEmpty(&v.Unit) {
		return false
	}
	if p.lit(`,"quality":[`) {
		for {
			if !p.str(&s) {
				return false
			}
			v.Quality = append(v.Quality, core.Quality(s))
			if p.lit("]") {
				break
			}
			if !p.lit(",") {
				return false
			}
		}
	}
	if p.lit(`,"time":`) && (!p.time(&v.Time) || v.Time.IsZero()) {
		return false
	}
	return p.lit("}")
}

func (p *parser) transaction(t *core.Transaction) bool {
	var s string
	if !p.lit(`{"begin":`) || !p.time(&t.Begin) || !p.lit(`,"end":`) || !p.time(&t.End) {
		return false
	}
	if p.lit(`,"startFromPrevious":`) {
		if !p.lit("true") {
			return false
		}
		t.StartFromPrevious = true
	}
	if !p.lit(`,"product":`) || !p.str(&t.Product) {
		return false
	}
	if p.lit(`,"productName":`) && !p.nonEmpty(&t.ProductName) {
		return false
	}
	if !p.lit(`,"direction":`) || !p.str(&s) {
		return false
	}
	t.Direction = core.Direction(s)
	if !p.lit(`,"forward":`) || !p.flow(&t.Forward) {
		return false
	}
	if p.lit(`,"reverse":`) {
		t.Reverse = new(core.Flow)
		if !p.flow(t.Reverse) {
			return false
		}
	}
	for _, m := range []struct {
		name string
		m    **core.Measure
	}{{`,"density":`, &t.Density}, {`,"density15":`, &t.Density15}, {`,"temperature":`, &t.Temperature}, {`,"alcohol":`, &t.Alcohol}} {
		if p.lit(m.name) {
			*m.m = new(core.Measure)
			if !p.measure(*m.m) {
				return false
			}
		}
	}
	return p.lit("}")
}

func (p *parser) flow(f *core.Flow) bool {
	if !p.lit("{") {
		return false
	}
	first := true
	for _, q := range []struct {
		name string
		t    **core.Totals
	}{{`"volume":`, &f.Volume}, {`"stdVolume":`, &f.StdVolume}, {`"mass":`, &f.Mass}, {`"count":`, &f.Count}} {
		save := p.i
		if !first && !p.lit(",") {
			continue
		}
		if !p.lit(q.name) {
			p.i = save
			continue
		}
		first = false
		*q.t = new(core.Totals)
		if !p.totals(*q.t) {
			return false
		}
	}
	return p.lit("}")
}

func (p *parser) totals(t *core.Totals) bool {
	var b, e, q string
	ok := p.lit(`{"begin":`) && p.str(&b) && p.lit(`,"end":`) && p.str(&e) && p.lit(`,"quantity":`) && p.str(&q) &&
		p.lit(`,"unit":`) && p.str(&t.Unit) && p.lit("}")
	t.Begin, t.End, t.Quantity = core.Decimal(b), core.Decimal(e), core.Decimal(q)
	return ok
}

func (p *parser) measure(m *core.Measure) bool {
	var v string
	ok := p.lit(`{"value":`) && p.str(&v) && p.lit(`,"unit":`) && p.str(&m.Unit) && p.lit("}")
	m.Value = core.Decimal(v)
	return ok
}

func (p *parser) event(e *core.Event) bool {
	var s string
	if !p.lit(`{"kind":`) || !p.str(&s) {
		return false
	}
	e.Kind = core.EventKind(s)
	for _, f := range []struct {
		name string
		v    *string
	}{{`,"tag":`, &e.Tag}, {`,"value":`, &e.Value}, {`,"previous":`, &e.Previous}, {`,"unit":`, &e.Unit}} {
		if p.lit(f.name) && !p.nonEmpty(f.v) {
			return false
		}
	}
	if p.lit(`,"bits":[`) {
		for {
			var n int
			if !p.int(&n) {
				return false
			}
			e.Bits = append(e.Bits, n)
			if p.lit("]") {
				break
			}
			if !p.lit(",") {
				return false
			}
		}
	}
	if p.lit(`,"detail":`) && !p.nonEmpty(&e.Detail) {
		return false
	}
	return p.lit("}")
}
