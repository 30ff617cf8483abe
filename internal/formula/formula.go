// Package formula is the normalisation-formula language of the Modbus map (чл. 35, ал. 4 of Ordinance
// N-7: every parameter has a "формула за нормализация"). A formula turns the decoded raw value of a
// register, the variable x, into the value in engineering units, for example "x / 10" or
// "x < 0 ? 0 : x * 0.001".
//
// The language is deliberately small and safe: arithmetic, comparisons, a conditional and a fixed set of
// pure functions; no I/O, no loops, no names other than x and pi. Sources are bounded (MaxSource bytes,
// MaxDepth levels of nesting, MaxNodes terms), compiled once (when the configuration is loaded) into a
// tree of closures with constant parts folded, so that Eval does no allocation and no parsing.
// docs/formulas.md is the reference for people who write formulas.
package formula

import (
	"fmt"
	"math"

	"github.com/akciz/akciz/internal/i18n"
)

// Limits of a formula's source.
const (
	MaxSource = 1024 // bytes
	MaxDepth  = 64   // nesting of parentheses, calls, prefix operators, powers and conditionals
	MaxNodes  = 512  // numbers, names, operators and calls
)

// Formula is a compiled normalisation formula. It is immutable and safe for concurrent use. A nil
// *Formula is the identity.
type Formula struct {
	eval     func(x float64) float64
	src      string // canonical source
	identity bool
}

// Error is a formula that does not compile: the byte offset in the source where the problem is, and what
// it is.
type Error struct {
	Offset int
	Msg    i18n.Message
}

// Error renders the error in English, for logs; people read Text.
func (e *Error) Error() string {
	return fmt.Sprintf("formula: offset %d: %s", e.Offset, e.Msg.String())
}

// Text renders the error in the printer's language, naming the position (1-based byte column).
func (e *Error) Text(p *i18n.Printer) string {
	return p.T("formula.error_at", e.Offset+1, p.Msg(e.Msg))
}

var identity = &Formula{eval: func(x float64) float64 { return x }, src: "x", identity: true}

// Compile parses and compiles src. An empty (or blank) source is the identity "x". Every error is an
// *Error.
func Compile(src string) (*Formula, error) {
	if len(src) > MaxSource {
		return nil, &Error{Offset: MaxSource, Msg: i18n.M("formula.too_long", MaxSource)}
	}
	p := &parser{lx: lexer{src: src}}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	if root == nil {
		return identity, nil
	}
	canon := canonical(root)
	folded, err := fold(root)
	if err != nil {
		return nil, err
	}
	if folded.kind == kVar {
		return &Formula{eval: identity.eval, src: canon, identity: true}, nil
	}
	return &Formula{eval: build(folded), src: canon}, nil
}

// MustCompile is Compile for formulas written in the code; it panics on an error.
func MustCompile(src string) *Formula {
	f, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return f
}

// Eval computes the formula for the raw value x. It never panics and never allocates; where mathematics
// has no answer (sqrt(-1), 0/0 with a variable divisor) the result is NaN or an infinity, which the
// caller must treat as a bad reading (math.IsNaN, math.IsInf).
func (f *Formula) Eval(x float64) float64 {
	if f == nil {
		return x
	}
	return f.eval(x)
}

// String is the canonical source: single spaces around binary operators, no redundant parentheses,
// numbers in their shortest exact form. Compiling it gives the same formula.
func (f *Formula) String() string {
	if f == nil {
		return "x"
	}
	return f.src
}

// Identity reports whether the formula is just x (the empty formula is x).
func (f *Formula) Identity() bool { return f == nil || f.identity }

// MarshalText writes the canonical source.
func (f *Formula) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// truth is the truth of a condition: any number other than 0 and NaN.
func truth(v float64) bool { return v != 0 && !math.IsNaN(v) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
