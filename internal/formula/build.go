package formula

import "math"

type evalFn = func(x float64) float64

// build turns a folded tree into closures. The common shapes of normalisation formulas (x op constant)
// get closures of their own, which saves a call per operand.
func build(n *node) evalFn {
	switch n.kind {
	case kNum:
		v := n.val
		return func(float64) float64 { return v }
	case kVar:
		return func(x float64) float64 { return x }
	case kAdd, kSub, kMul, kDiv:
		if f := buildArith(n); f != nil {
			return f
		}
	}
	args := make([]evalFn, len(n.args))
	for i, a := range n.args {
		args[i] = build(a)
	}
	switch n.kind {
	case kNeg:
		a := args[0]
		return func(x float64) float64 { return -a(x) }
	case kNot:
		a := args[0]
		return func(x float64) float64 { return b2f(!truth(a(x))) }
	case kAdd:
		a, b := args[0], args[1]
		return func(x float64) float64 { return a(x) + b(x) }
	case kSub:
		a, b := args[0], args[1]
		return func(x float64) float64 { return a(x) - b(x) }
	case kMul:
		a, b := args[0], args[1]
		return func(x float64) float64 { return a(x) * b(x) }
	case kDiv:
		a, b := args[0], args[1]
		return func(x float64) float64 { return a(x) / b(x) }
	case kMod:
		a, b := args[0], args[1]
		return func(x float64) float64 { return math.Mod(a(x), b(x)) }
	case kPow:
		a, b := args[0], args[1]
		return func(x float64) float64 { return math.Pow(a(x), b(x)) }
	case kLT:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(a(x) < b(x)) }
	case kLE:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(a(x) <= b(x)) }
	case kGT:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(a(x) > b(x)) }
	case kGE:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(a(x) >= b(x)) }
	case kEQ:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(a(x) == b(x)) }
	case kNE:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(a(x) != b(x)) }
	case kAnd:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(truth(a(x)) && truth(b(x))) }
	case kOr:
		a, b := args[0], args[1]
		return func(x float64) float64 { return b2f(truth(a(x)) || truth(b(x))) }
	case kCond:
		c, a, b := args[0], args[1], args[2]
		return func(x float64) float64 {
			if truth(c(x)) {
				return a(x)
			}
			return b(x)
		}
	case kCall:
		return buildCall(n, args)
	}
	panic("formula: build: unknown node kind") // unreachable: the parser makes only the kinds above
}

// buildArith specialises "x op k", "k op x", "e op k" and "k op e".
func buildArith(n *node) evalFn {
	l, r := n.args[0], n.args[1]
	switch {
	case l.kind == kVar && isConst(r):
		k := r.val
		switch n.kind {
		case kAdd:
			return func(x float64) float64 { return x + k }
		case kSub:
			return func(x float64) float64 { return x - k }
		case kMul:
			return func(x float64) float64 { return x * k }
		case kDiv:
			return func(x float64) float64 { return x / k }
		}
	case isConst(l) && r.kind == kVar:
		k := l.val
		switch n.kind {
		case kAdd:
			return func(x float64) float64 { return k + x }
		case kSub:
			return func(x float64) float64 { return k - x }
		case kMul:
			return func(x float64) float64 { return k * x }
		case kDiv:
			return func(x float64) float64 { return k / x }
		}
	case isConst(r):
		a, k := build(l), r.val
		switch n.kind {
		case kAdd:
			return func(x float64) float64 { return a(x) + k }
		case kSub:
			return func(x float64) float64 { return a(x) - k }
		case kMul:
			return func(x float64) float64 { return a(x) * k }
		case kDiv:
			return func(x float64) float64 { return a(x) / k }
		}
	case isConst(l):
		k, b := l.val, build(r)
		switch n.kind {
		case kAdd:
			return func(x float64) float64 { return k + b(x) }
		case kSub:
			return func(x float64) float64 { return k - b(x) }
		case kMul:
			return func(x float64) float64 { return k * b(x) }
		case kDiv:
			return func(x float64) float64 { return k / b(x) }
		}
	}
	return nil
}

func buildCall(n *node, args []evalFn) evalFn {
	a := args[0]
	switch n.fn.name {
	case "abs":
		return func(x float64) float64 { return math.Abs(a(x)) }
	case "ceil":
		return func(x float64) float64 { return math.Ceil(a(x)) }
	case "floor":
		return func(x float64) float64 { return math.Floor(a(x)) }
	case "sqrt":
		return func(x float64) float64 { return math.Sqrt(a(x)) }
	case "pow":
		b := args[1]
		return func(x float64) float64 { return math.Pow(a(x), b(x)) }
	case "round":
		if len(args) == 1 {
			return func(x float64) float64 { return math.Round(a(x)) }
		}
		scale := n.val
		if n.args[1].val < 0 {
			return func(x float64) float64 { return math.Round(a(x)/scale) * scale }
		}
		return func(x float64) float64 { return math.Round(a(x)*scale) / scale }
	case "clamp":
		lo, hi := args[1], args[2]
		return func(x float64) float64 { return clamp(a(x), lo(x), hi(x)) }
	case "min":
		if len(args) == 2 {
			b := args[1]
			return func(x float64) float64 { return fmin(a(x), b(x)) }
		}
		return func(x float64) float64 {
			m := a(x)
			for _, f := range args[1:] {
				m = fmin(m, f(x))
			}
			return m
		}
	case "max":
		if len(args) == 2 {
			b := args[1]
			return func(x float64) float64 { return fmax(a(x), b(x)) }
		}
		return func(x float64) float64 {
			m := a(x)
			for _, f := range args[1:] {
				m = fmax(m, f(x))
			}
			return m
		}
	}
	panic("formula: build: unknown function " + n.fn.name) // unreachable: the parser knows only these
}

// fmin and fmax propagate NaN, as math.Min and math.Max do: a bad reading must not be hidden by a limit.
func fmin(a, b float64) float64 { return math.Min(a, b) }
func fmax(a, b float64) float64 { return math.Max(a, b) }

// clamp limits v to [lo, hi]; with lo > hi (only possible when the bounds depend on x) the result is NaN,
// because no value satisfies both.
func clamp(v, lo, hi float64) float64 {
	if lo > hi {
		return math.NaN()
	}
	return math.Max(lo, math.Min(v, hi))
}
