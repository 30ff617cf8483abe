package formula

import (
	"errors"
	"math"
	"testing"
)

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "x", "x / 10", "x * 0.1 + 2", "(x - 32768) * 0.01", "x > 0 ? x : 0",
		"clamp(round(x, 2), 0, 100)", "min(x, 1, 2) ^ -2", "x % (2-2)", "1 < x < 2", "abs(", "1e400",
		"x && !x || pi", "sqrt(-x)", "2 ^ 3 ^ x", "max(x, 0) ? 1 : 2"} {
		f.Add(s, 1.5)
	}
	f.Fuzz(func(t *testing.T, src string, x float64) {
		g, err := Compile(src)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error is not *Error: %T %v", err, err)
			}
			if fe.Offset < 0 || fe.Offset > len(src) && fe.Offset != MaxSource {
				t.Fatalf("offset %d outside the source of %d bytes", fe.Offset, len(src))
			}
			return
		}
		v := g.Eval(x)
		_ = g.Eval(math.NaN())
		_ = g.Eval(math.Inf(-1))
		canon := g.String()
		if len(canon) > MaxSource {
			return
		}
		h, err := Compile(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not compile: %v", canon, src, err)
		}
		if h.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, h.String())
		}
		if w := h.Eval(x); !(w == v || math.IsNaN(w) && math.IsNaN(v)) {
			t.Fatalf("%q at %v = %v, canonical %q = %v", src, x, v, canon, w)
		}
	})
}
