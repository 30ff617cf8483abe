package agent

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

// maxDecimal is the longest core.Decimal.
const maxDecimal = 40

// sample is one tag's value as read at one moment.
type sample struct {
	at      time.Time    // when the response arrived
	value   core.Decimal // normalised, exact where the register and the formula allow
	float   float64      // the same value as a float, for limits and averages
	raw     int64        // the decoded value before the formula, for flags and codes
	rawOK   bool         // raw holds an integer (the register is an integer, a bit, or an integral float)
	invalid bool         // the registers do not decode to a number: value is "0" and not to be used
	quality []core.Quality
}

// affine is a formula of the form a·x + b with decimal constants, which the agent applies exactly.
type affine struct {
	a, b     *big.Rat
	identity bool // a = 1, b = 0: no arithmetic at all
}

// exactFormula recognises, in the canonical source of a compiled formula, the shapes "x * a", "a * x",
// "x / a", each optionally followed by "+ b" or "- b", and the identity. It returns nil for any other
// formula, which is then evaluated in float64.
func exactFormula(t *config.Tag) *affine {
	one, zero := big.NewRat(1, 1), new(big.Rat)
	if t.Compiled == nil || t.Compiled.Identity() {
		return &affine{a: one, b: zero, identity: true}
	}
	f := strings.Fields(t.Compiled.String())
	num := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil
		}
		return r
	}
	var a *big.Rat
	switch {
	case len(f) >= 3 && f[0] == "x" && f[1] == "*":
		a = num(f[2])
	case len(f) >= 3 && f[2] == "x" && f[1] == "*":
		a = num(f[0])
	case len(f) >= 3 && f[0] == "x" && f[1] == "/":
		if d := num(f[2]); d != nil && d.Sign() != 0 {
			a = new(big.Rat).Inv(d)
		}
	}
	if a == nil {
		return nil
	}
	b := zero
	switch {
	case len(f) == 3:
	case len(f) == 5 && (f[3] == "+" || f[3] == "-"):
		b = num(f[4])
		if b == nil {
			return nil
		}
		if f[3] == "-" {
			b = new(big.Rat).Neg(b)
		}
	default:
		return nil
	}
	return &affine{a: a, b: b, identity: a.Cmp(one) == 0 && b.Sign() == 0}
}

// ratDecimal renders r as a Decimal when it has a finite decimal expansion of at most maxDecimal
// characters.
func ratDecimal(r *big.Rat) (core.Decimal, bool) {
	if r.IsInt() {
		d := core.Decimal(r.Num().String())
		return d, len(d) <= maxDecimal
	}
	den := new(big.Int).Set(r.Denom())
	two, five := 0, 0
	m := new(big.Int)
	for {
		if q, rem := new(big.Int).QuoRem(den, big.NewInt(2), m); rem.Sign() == 0 {
			den = q
			two++
			continue
		}
		break
	}
	for {
		if q, rem := new(big.Int).QuoRem(den, big.NewInt(5), m); rem.Sign() == 0 {
			den = q
			five++
			continue
		}
		break
	}
	if den.Cmp(big.NewInt(1)) != 0 {
		return "", false
	}
	s := trimZeros(r.FloatString(max(two, five)))
	return core.Decimal(s), len(s) <= maxDecimal
}

func trimZeros(s string) string {
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// floatDecimal renders f in the shortest decimal that reads back to the same float of the given size.
func floatDecimal(f float64, bits int) (core.Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	s := trimZeros(strconv.FormatFloat(f, 'f', -1, bits))
	return core.Decimal(s), len(s) <= maxDecimal && core.Decimal(s).Valid()
}

// decodeTag decodes one tag from the registers (or bits) of its slot and normalises it: integers pass to
// the Decimal exactly when the formula is the identity or an exact affine scale; floats are taken in their
// shortest decimal form (of float32 for a float32 register) and then scaled exactly; any other formula is
// evaluated in float64. Limits are checked on the normalised value. It never panics.
func decodeTag(t *config.Tag, q config.Quirks, ex *affine, regs []uint16, bits []bool, at time.Time) sample {
	s := sample{at: at}
	var v modbus.Value
	switch {
	case t.Table.Bits():
		if len(bits) == 0 {
			return invalidSample(s)
		}
		v = modbus.Value{Kind: modbus.KindBool, Bool: bits[0]}
	default:
		var err error
		v, err = t.Format(q).Decode(regs)
		if err != nil {
			return invalidSample(s)
		}
	}
	var exact *big.Rat // the raw value as an exact rational, when it has one
	switch v.Kind {
	case modbus.KindInt:
		s.raw, s.rawOK = v.Int, true
		if ex != nil && ex.identity {
			s.value, s.float = core.Decimal(strconv.FormatInt(v.Int, 10)), float64(v.Int)
			return limit(t, s)
		}
		exact = new(big.Rat).SetInt64(v.Int)
	case modbus.KindUint:
		if v.Uint <= math.MaxInt64 {
			s.raw, s.rawOK = int64(v.Uint), true
		}
		if ex != nil && ex.identity {
			s.value, s.float = core.Decimal(strconv.FormatUint(v.Uint, 10)), float64(v.Uint)
			return limit(t, s)
		}
		exact = new(big.Rat).SetInt(new(big.Int).SetUint64(v.Uint))
	case modbus.KindBool:
		if v.Bool {
			s.raw = 1
		}
		s.rawOK = true
		if ex != nil && ex.identity {
			s.value, s.float = core.Decimal(b01(v.Bool)), float64(s.raw)
			return limit(t, s)
		}
		exact = new(big.Rat).SetInt64(s.raw)
	case modbus.KindFloat:
		bitSize := 64
		if t.Type == modbus.Float32 {
			bitSize = 32
		}
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return invalidSample(s)
		}
		if v.Float == math.Trunc(v.Float) && math.Abs(v.Float) < 1<<62 {
			s.raw, s.rawOK = int64(v.Float), true
		}
		d, ok := floatDecimal(v.Float, bitSize)
		if ok && ex != nil && ex.identity {
			s.value, s.float = d, v.Float
			return limit(t, s)
		}
		if ok {
			exact, _ = new(big.Rat).SetString(string(d))
		}
	case modbus.KindString:
		str := strings.TrimSpace(v.Str)
		if !core.Decimal(str).Valid() {
			return invalidSample(s)
		}
		exact, _ = new(big.Rat).SetString(str)
		v = modbus.Value{Kind: modbus.KindFloat, Float: v.Float64()}
	default:
		return invalidSample(s)
	}
	if ex != nil && exact != nil {
		r := new(big.Rat).Mul(exact, ex.a)
		r.Add(r, ex.b)
		if d, ok := ratDecimal(r); ok {
			s.value = d
			s.float, _ = r.Float64()
			return limit(t, s)
		}
	}
	f := t.Normalize(v.Float64())
	d, ok := floatDecimal(f, 64)
	if !ok {
		return invalidSample(s)
	}
	s.value, s.float = d, f
	return limit(t, s)
}

func invalidSample(s sample) sample {
	s.value, s.invalid, s.quality = "0", true, []core.Quality{core.QualityInvalid}
	return s
}

// limit flags a value outside the tag's plausibility limits (ограничения, чл. 35, ал. 4); the value is
// kept as read.
func limit(t *config.Tag, s sample) sample {
	switch {
	case t.Low != nil && s.float < *t.Low:
		s.quality = []core.Quality{core.QualityLow}
	case t.High != nil && s.float > *t.High:
		s.quality = []core.Quality{core.QualityHigh}
	}
	return s
}

// decimal arithmetic on core.Decimal, exact: a Decimal is an integer mantissa and a number of decimals.

func parseDecimal(d core.Decimal) (*big.Int, int, bool) {
	s := string(d)
	if !d.Valid() {
		return nil, 0, false
	}
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
		s = s[:i] + s[i+1:]
	}
	n, ok := new(big.Int).SetString(s, 10)
	return n, scale, ok
}

func align(a, b core.Decimal) (x, y *big.Int, scale int, ok bool) {
	x, sa, ok1 := parseDecimal(a)
	y, sb, ok2 := parseDecimal(b)
	if !ok1 || !ok2 {
		return nil, nil, 0, false
	}
	scale = max(sa, sb)
	ten := big.NewInt(10)
	x.Mul(x, new(big.Int).Exp(ten, big.NewInt(int64(scale-sa)), nil))
	y.Mul(y, new(big.Int).Exp(ten, big.NewInt(int64(scale-sb)), nil))
	return x, y, scale, true
}

// subDecimal is a − b, exactly.
func subDecimal(a, b core.Decimal) (core.Decimal, bool) {
	x, y, scale, ok := align(a, b)
	if !ok {
		return "", false
	}
	x.Sub(x, y)
	r := new(big.Rat).SetFrac(x, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	return ratDecimal(r)
}

// cmpDecimal compares a and b exactly; ok is false when either is not a Decimal.
func cmpDecimal(a, b core.Decimal) (int, bool) {
	x, y, _, ok := align(a, b)
	if !ok {
		return 0, false
	}
	return x.Cmp(y), true
}
