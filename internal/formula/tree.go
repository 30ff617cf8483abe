package formula

import (
	"math"
	"strconv"
	"strings"

	"github.com/akciz/akciz/internal/i18n"
)

type kind uint8

const (
	kNum kind = iota
	kVar
	kPi
	kNeg
	kNot
	kAdd
	kSub
	kMul
	kDiv
	kMod
	kPow
	kLT
	kLE
	kGT
	kGE
	kEQ
	kNE
	kAnd
	kOr
	kCond
	kCall
)

// node is one term of the parsed formula. pos is the byte offset of its operator, literal or name.
type node struct {
	kind kind
	pos  int
	val  float64 // kNum, kPi; for kCall of round with a constant digit count: 10^|digits|
	fn   *function
	args []*node
}

// function is one of the built-in functions. max < 0 means any number of arguments from min on.
type function struct {
	name     string
	min, max int
}

var functions = map[string]*function{
	"abs":   {"abs", 1, 1},
	"ceil":  {"ceil", 1, 1},
	"clamp": {"clamp", 3, 3},
	"floor": {"floor", 1, 1},
	"max":   {"max", 2, -1},
	"min":   {"min", 2, -1},
	"pow":   {"pow", 2, 2},
	"round": {"round", 1, 2},
	"sqrt":  {"sqrt", 1, 1},
}

const functionNames = "abs, ceil, clamp, floor, max, min, pow, round, sqrt"

// Precedence, lowest first; printing uses it to put back only the parentheses the grammar needs.
const (
	precCond = iota + 1
	precOr
	precAnd
	precCmp
	precAdd
	precMul
	precUnary
	precPow
	precPrimary
)

func prec(n *node) int {
	switch n.kind {
	case kCond:
		return precCond
	case kOr:
		return precOr
	case kAnd:
		return precAnd
	case kLT, kLE, kGT, kGE, kEQ, kNE:
		return precCmp
	case kAdd, kSub:
		return precAdd
	case kMul, kDiv, kMod:
		return precMul
	case kNeg, kNot:
		return precUnary
	case kPow:
		return precPow
	}
	return precPrimary
}

var opText = map[kind]string{
	kAdd: "+", kSub: "-", kMul: "*", kDiv: "/", kMod: "%", kPow: "^",
	kLT: "<", kLE: "<=", kGT: ">", kGE: ">=", kEQ: "==", kNE: "!=", kAnd: "&&", kOr: "||",
	kNeg: "-", kNot: "!",
}

// canonical writes the canonical source of n.
func canonical(n *node) string {
	var b strings.Builder
	printTo(&b, n)
	return b.String()
}

func printTo(b *strings.Builder, n *node) {
	sub := func(c *node, paren bool) {
		if paren {
			b.WriteByte('(')
		}
		printTo(b, c)
		if paren {
			b.WriteByte(')')
		}
	}
	switch n.kind {
	case kNum:
		b.WriteString(strconv.FormatFloat(n.val, 'g', -1, 64))
	case kVar:
		b.WriteByte('x')
	case kPi:
		b.WriteString("pi")
	case kNeg, kNot:
		b.WriteString(opText[n.kind])
		sub(n.args[0], prec(n.args[0]) < precUnary)
	case kPow:
		// The base of ^ is a primary; its exponent is a prefix expression.
		sub(n.args[0], prec(n.args[0]) <= precPow)
		b.WriteString(" ^ ")
		sub(n.args[1], prec(n.args[1]) < precUnary)
	case kCond:
		sub(n.args[0], prec(n.args[0]) <= precCond)
		b.WriteString(" ? ")
		sub(n.args[1], false)
		b.WriteString(" : ")
		sub(n.args[2], false)
	case kCall:
		b.WriteString(n.fn.name)
		b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(", ")
			}
			sub(a, false)
		}
		b.WriteByte(')')
	default: // left-associative binary operators; comparisons are not associative at all
		p := prec(n)
		sub(n.args[0], prec(n.args[0]) < p || p == precCmp && prec(n.args[0]) == p)
		b.WriteByte(' ')
		b.WriteString(opText[n.kind])
		b.WriteByte(' ')
		sub(n.args[1], prec(n.args[1]) <= p)
	}
}

// isConst reports whether n is a folded constant.
func isConst(n *node) bool { return n.kind == kNum }

func num(v float64, pos int) *node { return &node{kind: kNum, val: v, pos: pos} }

// fold returns a copy of n with every part that does not depend on x computed, and refuses what can
// never give a number: a division or remainder by a constant 0, a constant part that is not finite, a
// round with a digit count that is not a constant whole number, a clamp with constant bounds in the wrong
// order.
func fold(n *node) (*node, error) {
	switch n.kind {
	case kNum, kVar:
		return n, nil
	case kPi:
		return num(n.val, n.pos), nil
	}
	c := &node{kind: n.kind, pos: n.pos, fn: n.fn, args: make([]*node, len(n.args))}
	all := true
	for i, a := range n.args {
		f, err := fold(a)
		if err != nil {
			return nil, err
		}
		c.args[i] = f
		all = all && isConst(f)
	}
	switch c.kind {
	case kDiv, kMod:
		if isConst(c.args[1]) && c.args[1].val == 0 {
			key := "formula.div_zero"
			if c.kind == kMod {
				key = "formula.mod_zero"
			}
			return nil, &Error{Offset: c.pos, Msg: i18n.M(key)}
		}
	case kCond:
		if isConst(c.args[0]) {
			if truth(c.args[0].val) {
				return c.args[1], nil
			}
			return c.args[2], nil
		}
	case kCall:
		switch c.fn.name {
		case "round":
			if len(c.args) == 2 {
				d := c.args[1]
				if !isConst(d) || d.val != math.Trunc(d.val) || d.val < -15 || d.val > 15 {
					return nil, &Error{Offset: n.args[1].pos, Msg: i18n.M("formula.round_digits")}
				}
				c.val = math.Pow(10, math.Abs(d.val))
			}
		case "clamp":
			if isConst(c.args[1]) && isConst(c.args[2]) && c.args[1].val > c.args[2].val {
				return nil, &Error{Offset: c.pos, Msg: i18n.M("formula.clamp_bounds")}
			}
		}
	}
	if !all {
		return c, nil
	}
	v := build(c)(0)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, &Error{Offset: c.pos, Msg: i18n.M("formula.not_finite", canonical(n))}
	}
	return num(v, c.pos), nil
}
