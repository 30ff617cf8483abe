package formula

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
)

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		src  string
		x    float64
		want float64
	}{
		{"", 7, 7},
		{"x", -3, -3},
		{"x / 10", 1234, 123.4},
		{"x * 0.1 + 2", 10, 3},
		{"2 + 3 * x", 2, 8},
		{"(2 + 3) * x", 2, 10},
		{"x - 1 - 1", 5, 3},
		{"x / 2 / 2", 8, 2},
		{"10 - x", 4, 6},
		{"100 / x", 4, 25},
		{"x % 7", 23, 2},
		{"x % 7", -23, -2},
		{"x ^ 2", 3, 9},
		{"2 ^ 3 ^ 2", 0, 512},
		{"-x ^ 2", 3, -9},
		{"(-x) ^ 2", 3, 9},
		{"2 ^ -1", 0, 0.5},
		{"--x", 4, 4},
		{"+x", 4, 4},
		{"x > 0 ? x : 0", -5, 0},
		{"x > 0 ? x : 0", 5, 5},
		{"x < 0 ? -1 : x == 0 ? 0 : 1", 0, 0},
		{"x < 0 ? -1 : x == 0 ? 0 : 1", 9, 1},
		{"x >= 1 && x <= 2", 1.5, 1},
		{"x >= 1 && x <= 2", 3, 0},
		{"x < 1 || x > 2", 3, 1},
		{"!x", 0, 1},
		{"!x", 2, 0},
		{"x != 3", 3, 0},
		{"abs(x)", -2.5, 2.5},
		{"min(x, 10)", 12, 10},
		{"max(x, 0, -1)", -7, 0},
		{"min(x, 3, 2, 1)", 7, 1},
		{"round(x)", 2.5, 3},
		{"round(x)", -2.5, -3},
		{"round(x, 2)", 1.23456, 1.23},
		{"round(x, -2)", 1264, 1300},
		{"floor(x)", -1.5, -2},
		{"ceil(x)", 1.2, 2},
		{"sqrt(x)", 16, 4},
		{"pow(x, 3)", 2, 8},
		{"clamp(x, 0, 100)", 150, 100},
		{"clamp(x, 0, 100)", -1, 0},
		{"clamp(x, 0, 100)", 42, 42},
		{"pi * x", 2, 2 * math.Pi},
		{"1.5e3 + x", 0, 1500},
		{"1E-3 * x", 1000, 1},
		{".5 * x", 4, 2},
		{"x * (1 / 3)", 3, 1},
		{"(x - 32768) * 0.01", 32868, 1},
		{" x\t*\n2 ", 3, 6},
		{"x > 0 ? x / 0.5 : 1 / 1", 1, 2},
	} {
		f, err := Compile(tc.src)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.src, err)
			continue
		}
		if got := f.Eval(tc.x); math.Abs(got-tc.want) > 1e-12*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("%q at x=%v = %v, want %v", tc.src, tc.x, got, tc.want)
		}
	}
}

func TestNaNPropagates(t *testing.T) {
	for _, src := range []string{"sqrt(x)", "min(x, 0)", "max(0, x)", "clamp(x, 0, 1)", "x / x"} {
		x := -1.0
		if src == "x / x" {
			x = 0
		}
		if src == "min(x, 0)" || src == "max(0, x)" || src == "clamp(x, 0, 1)" {
			x = math.NaN()
		}
		if got := MustCompile(src).Eval(x); !math.IsNaN(got) {
			t.Errorf("%q at %v = %v, want NaN", src, x, got)
		}
	}
	// A NaN condition is false: the bad reading goes to the else branch, which the author controls.
	if got := MustCompile("x ? 1 : 2").Eval(math.NaN()); got != 2 {
		t.Errorf("NaN condition chose %v", got)
	}
}

func TestCanonical(t *testing.T) {
	for src, want := range map[string]string{
		"":                         "x",
		"x":                        "x",
		"(x)":                      "x",
		"x/10":                     "x / 10",
		"x*0.10+2":                 "x * 0.1 + 2",
		"((x+1))*2":                "(x + 1) * 2",
		"x-(1-1)":                  "x - (1 - 1)",
		"(x-1)-1":                  "x - 1 - 1",
		"2^(3^2)":                  "2 ^ 3 ^ 2",
		"(2^3)^2":                  "(2 ^ 3) ^ 2",
		"-(x^2)":                   "-x ^ 2",
		"(-x)^2":                   "(-x) ^ 2",
		"2^-x":                     "2 ^ -x",
		"2^(x+1)":                  "2 ^ (x + 1)",
		"+x":                       "x",
		"-(x+1)":                   "-(x + 1)",
		"(x<1)<2":                  "(x < 1) < 2",
		"x<(1<2)":                  "x < (1 < 2)",
		"(x>0)?x:0":                "x > 0 ? x : 0",
		"(x?1:2)?3:4":              "(x ? 1 : 2) ? 3 : 4",
		"x?1:(x?2:3)":              "x ? 1 : x ? 2 : 3",
		"max( x ,0,1)":             "max(x, 0, 1)",
		"1e3*x":                    "1000 * x",
		"1e21*x":                   "1e+21 * x",
		"x && (x || 1)":            "x && (x || 1)",
		"(x && x) || 1":            "x && x || 1",
		"pi*x":                     "pi * x",
		"x+-1":                     "x + -1",
		"round(x,2)":               "round(x, 2)",
		"(x+1)*(x-1)/(x%3)":        "(x + 1) * (x - 1) / (x % 3)",
		"x/(2*x)":                  "x / (2 * x)",
		"!(x>1)":                   "!(x > 1)",
		"x > 0 ? x : -1 * (1 + x)": "x > 0 ? x : -1 * (1 + x)",
	} {
		f, err := Compile(src)
		if err != nil {
			t.Errorf("Compile(%q): %v", src, err)
			continue
		}
		if got := f.String(); got != want {
			t.Errorf("String(%q) = %q, want %q", src, got, want)
		}
		g, err := Compile(f.String())
		if err != nil || g.String() != f.String() {
			t.Errorf("canonical %q does not recompile to itself: %v %v", f.String(), g, err)
		}
	}
}

func TestIdentity(t *testing.T) {
	for src, want := range map[string]bool{"": true, "  ": true, "x": true, "((x))": true, "+x": true,
		"1 > 0 ? x : 0": true, "x * 1": false, "x / 10": false, "-x": false} {
		if got := MustCompile(src).Identity(); got != want {
			t.Errorf("Identity(%q) = %v", src, got)
		}
	}
	var f *Formula
	if !f.Identity() || f.Eval(3) != 3 || f.String() != "x" {
		t.Error("nil formula is not the identity")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		src    string
		offset int
		key    string
	}{
		{"x +", 3, "formula.operand_eof"},
		{"x + )", 4, "formula.operand"},
		{"x y", 2, "formula.trailing"},
		{"(x + 1", 6, "formula.expected_eof"},
		{"(x + 1 ,", 7, "formula.expected"},
		{"x ? 1", 5, "formula.expected_eof"},
		{"y * 2", 0, "formula.unknown_name"},
		{"X * 2", 0, "formula.unknown_name"},
		{"x * foo(2)", 4, "formula.unknown_function"},
		{"x(2)", 0, "formula.not_function"},
		{"abs", 0, "formula.needs_call"},
		{"abs(x, 1)", 0, "formula.args_exact"},
		{"clamp(x, 1)", 0, "formula.args_exact"},
		{"max(x)", 0, "formula.args_min"},
		{"round(x, 1, 2)", 0, "formula.args_range"},
		{"round(x, x)", 9, "formula.round_digits"},
		{"round(x, 1.5)", 9, "formula.round_digits"},
		{"round(x, 16)", 9, "formula.round_digits"},
		{"x / (2-2)", 2, "formula.div_zero"},
		{"x / 0", 2, "formula.div_zero"},
		{"1 / 0", 2, "formula.div_zero"},
		{"x > 0 ? x : x / (1 - 1)", 14, "formula.div_zero"},
		{"x % (3 * 0)", 2, "formula.mod_zero"},
		{"x * sqrt(-1)", 4, "formula.not_finite"},
		{"x * 10 ^ 400", 7, "formula.not_finite"},
		{"x * 1e400", 4, "formula.number_range"},
		{"x * 1e", 4, "formula.bad_number"},
		{"x * 1.2.3", 4, "formula.bad_number"},
		{"2x", 0, "formula.bad_number"},
		{"x ** 2", 2, "formula.power_stars"},
		{"x = 2", 2, "formula.single_equals"},
		{"x & 1", 2, "formula.single_logic"},
		{"x | 1", 2, "formula.single_logic"},
		{"x # 1", 2, "formula.unexpected_char"},
		{"x * т", 4, "formula.unexpected_char"},
		{"1 < x < 2", 6, "formula.chained_comparison"},
		{"clamp(x, 5, 1)", 0, "formula.clamp_bounds"},
		{"()", 1, "formula.operand"},
		{strings.Repeat("(", 65) + "x" + strings.Repeat(")", 65), 64, "formula.too_deep"},
		{strings.Repeat("-", 65) + "x", 64, "formula.too_deep"},
		{strings.Repeat("x+", 300) + "x", 511, "formula.too_many_nodes"},
		{strings.Repeat(" ", MaxSource) + "x", MaxSource, "formula.too_long"},
	} {
		_, err := Compile(tc.src)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q) = %v, want an *Error", tc.src, err)
			continue
		}
		if fe.Msg.Key != tc.key || fe.Offset != tc.offset {
			t.Errorf("Compile(%.40q): key %s offset %d (%v), want %s offset %d", tc.src, fe.Msg.Key, fe.Offset, err, tc.key, tc.offset)
		}
		if !i18n.Has(i18n.BG, fe.Msg.Key) || !i18n.Has(i18n.EN, fe.Msg.Key) {
			t.Errorf("key %s is missing from the catalogue", fe.Msg.Key)
		}
		if bg := fe.Text(i18n.For(i18n.BG)); strings.Contains(bg, "%!") || !strings.Contains(bg, "позиция") {
			t.Errorf("Bulgarian text %q", bg)
		}
		if en := err.Error(); strings.Contains(en, "%!") || !strings.HasPrefix(en, "formula: offset ") {
			t.Errorf("English text %q", en)
		}
	}
}

func TestLimitsExactlyReached(t *testing.T) {
	// The limits are inclusive: the largest allowed formula compiles.
	deep := strings.Repeat("(", MaxDepth) + "x" + strings.Repeat(")", MaxDepth)
	if _, err := Compile(deep); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	nodes := strings.Repeat("x+", (MaxNodes-1)/2) + "x" // (MaxNodes-1)/2 operators and as many plus one operands
	if _, err := Compile(nodes); err != nil {
		t.Errorf("%d nodes: %v", MaxNodes-1, err)
	}
	long := strings.Repeat(" ", MaxSource-1) + "x"
	if _, err := Compile(long); err != nil {
		t.Errorf("%d bytes: %v", MaxSource, err)
	}
}

func TestConcurrentEval(t *testing.T) {
	f := MustCompile("x > 100 ? clamp(round(x / 3, 2), 0, 1000) : max(x, 0, -1) ^ 2")
	want := f.Eval(250)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if got := f.Eval(250); got != want {
					t.Errorf("concurrent Eval = %v, want %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestEvalDoesNotAllocate(t *testing.T) {
	f := MustCompile("x > 0 ? round(min(x, 1, 2, 3) * 0.1 + 2 ^ x, 2) : clamp(abs(x) % 7, 0, x)")
	if n := testing.AllocsPerRun(100, func() { f.Eval(3) }); n != 0 {
		t.Errorf("Eval allocates %v times", n)
	}
}
