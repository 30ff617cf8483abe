package formula

import (
	"errors"
	"strconv"

	"github.com/akciz/akciz/internal/i18n"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tNum
	tIdent
	tOp // operators and punctuation; the text says which
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type lexer struct {
	src string
	pos int
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

// next returns the next token or an error naming the offending character.
func (l *lexer) next() (token, *Error) {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t', '\n', '\r':
			l.pos++
			continue
		}
		break
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case isDigit(c) || c == '.' && start+1 < len(l.src) && isDigit(l.src[start+1]):
		return l.number()
	case isAlpha(c):
		i := start + 1
		for i < len(l.src) && (isAlpha(l.src[i]) || isDigit(l.src[i])) {
			i++
		}
		l.pos = i
		return token{kind: tIdent, text: l.src[start:i], pos: start}, nil
	}
	two := ""
	if start+1 < len(l.src) {
		two = l.src[start : start+2]
	}
	switch two {
	case "<=", ">=", "==", "!=", "&&", "||":
		l.pos += 2
		return token{kind: tOp, text: two, pos: start}, nil
	case "**":
		return token{}, &Error{Offset: start, Msg: i18n.M("formula.power_stars")}
	}
	switch c {
	case '+', '-', '*', '/', '%', '^', '(', ')', ',', '?', ':', '<', '>', '!':
		l.pos++
		return token{kind: tOp, text: string(c), pos: start}, nil
	case '=':
		return token{}, &Error{Offset: start, Msg: i18n.M("formula.single_equals")}
	case '&', '|':
		return token{}, &Error{Offset: start, Msg: i18n.M("formula.single_logic", string(c)+string(c))}
	}
	r := []rune(l.src[start:min(len(l.src), start+4)])
	return token{}, &Error{Offset: start, Msg: i18n.M("formula.unexpected_char", string(r[:1]))}
}

func (l *lexer) number() (token, *Error) {
	start := l.pos
	i := start
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	if i < len(l.src) && l.src[i] == '.' {
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j >= len(l.src) || !isDigit(l.src[j]) {
			return token{}, &Error{Offset: start, Msg: i18n.M("formula.bad_number", l.src[start:j])}
		}
		for j < len(l.src) && isDigit(l.src[j]) {
			j++
		}
		i = j
	}
	// "2x" or "1.5.3" is a typo, not two tokens.
	if i < len(l.src) && (isAlpha(l.src[i]) || l.src[i] == '.') {
		j := i
		for j < len(l.src) && (isAlpha(l.src[j]) || isDigit(l.src[j]) || l.src[j] == '.') {
			j++
		}
		return token{}, &Error{Offset: start, Msg: i18n.M("formula.bad_number", l.src[start:j])}
	}
	l.pos = i
	return token{kind: tNum, text: l.src[start:i], pos: start}, nil
}

// bailout carries a compile error up the parser's recursion; Compile recovers only this type.
type bailout struct{ err *Error }

type parser struct {
	lx    lexer
	tok   token
	depth int
	nodes int
}

func (p *parser) fail(pos int, m i18n.Message) {
	panic(bailout{&Error{Offset: pos, Msg: m}})
}

func (p *parser) advance() {
	t, err := p.lx.next()
	if err != nil {
		panic(bailout{err})
	}
	p.tok = t
}

func (p *parser) is(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

func (p *parser) enter() {
	p.depth++
	if p.depth > MaxDepth {
		p.fail(p.tok.pos, i18n.M("formula.too_deep", MaxDepth))
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) node(k kind, pos int, args ...*node) *node {
	p.nodes++
	if p.nodes > MaxNodes {
		p.fail(pos, i18n.M("formula.too_many_nodes", MaxNodes))
	}
	return &node{kind: k, pos: pos, args: args}
}

// parse returns the tree of the source, nil for a blank source.
func (p *parser) parse() (root *node, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			root, err = nil, b.err
		}
	}()
	p.advance()
	if p.tok.kind == tEOF {
		return nil, nil
	}
	root = p.expr()
	if p.tok.kind != tEOF {
		p.fail(p.tok.pos, i18n.M("formula.trailing", p.tok.text))
	}
	return root, nil
}

// expr is the conditional, the lowest precedence: or ? expr : expr (right-associative).
func (p *parser) expr() *node {
	c := p.or()
	if !p.is("?") {
		return c
	}
	pos := p.tok.pos
	p.enter()
	p.advance()
	a := p.expr()
	if !p.is(":") {
		p.expect(":")
	}
	p.advance()
	b := p.expr()
	p.leave()
	return p.node(kCond, pos, c, a, b)
}

func (p *parser) expect(what string) {
	if p.tok.kind == tEOF {
		p.fail(p.tok.pos, i18n.M("formula.expected_eof", what))
	}
	p.fail(p.tok.pos, i18n.M("formula.expected", what, p.tok.text))
}

func (p *parser) or() *node {
	l := p.and()
	for p.is("||") {
		pos := p.tok.pos
		p.advance()
		l = p.node(kOr, pos, l, p.and())
	}
	return l
}

func (p *parser) and() *node {
	l := p.cmp()
	for p.is("&&") {
		pos := p.tok.pos
		p.advance()
		l = p.node(kAnd, pos, l, p.cmp())
	}
	return l
}

var cmpOps = map[string]kind{"<": kLT, "<=": kLE, ">": kGT, ">=": kGE, "==": kEQ, "!=": kNE}

// cmp is not associative: "a < b < c" means nothing useful, so it is refused.
func (p *parser) cmp() *node {
	l := p.add()
	k, ok := cmpOps[p.tok.text]
	if p.tok.kind != tOp || !ok {
		return l
	}
	pos := p.tok.pos
	p.advance()
	n := p.node(k, pos, l, p.add())
	if _, again := cmpOps[p.tok.text]; again && p.tok.kind == tOp {
		p.fail(p.tok.pos, i18n.M("formula.chained_comparison"))
	}
	return n
}

func (p *parser) add() *node {
	l := p.mul()
	for p.is("+") || p.is("-") {
		k := kAdd
		if p.tok.text == "-" {
			k = kSub
		}
		pos := p.tok.pos
		p.advance()
		l = p.node(k, pos, l, p.mul())
	}
	return l
}

func (p *parser) mul() *node {
	l := p.unary()
	for p.is("*") || p.is("/") || p.is("%") {
		k := kMul
		switch p.tok.text {
		case "/":
			k = kDiv
		case "%":
			k = kMod
		}
		pos := p.tok.pos
		p.advance()
		l = p.node(k, pos, l, p.unary())
	}
	return l
}

func (p *parser) unary() *node {
	if p.is("-") || p.is("+") || p.is("!") {
		op, pos := p.tok.text, p.tok.pos
		p.enter()
		p.advance()
		operand := p.unary()
		p.leave()
		switch op {
		case "+":
			return operand // "+x" is x; the canonical form drops it
		case "-":
			return p.node(kNeg, pos, operand)
		default:
			return p.node(kNot, pos, operand)
		}
	}
	return p.power()
}

// power is right-associative and binds tighter than a prefix minus on its left: -x^2 is -(x^2), and
// 2^-1 is allowed.
func (p *parser) power() *node {
	base := p.primary()
	if !p.is("^") {
		return base
	}
	pos := p.tok.pos
	p.enter()
	p.advance()
	exp := p.unary()
	p.leave()
	return p.node(kPow, pos, base, exp)
}

func (p *parser) primary() *node {
	t := p.tok
	switch {
	case t.kind == tNum:
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				p.fail(t.pos, i18n.M("formula.number_range", t.text))
			}
			p.fail(t.pos, i18n.M("formula.bad_number", t.text))
		}
		p.advance()
		n := p.node(kNum, t.pos)
		n.val = v
		return n
	case t.kind == tIdent:
		p.advance()
		if p.is("(") {
			return p.call(t)
		}
		switch t.text {
		case "x":
			return p.node(kVar, t.pos)
		case "pi":
			n := p.node(kPi, t.pos)
			n.val = 3.141592653589793
			return n
		}
		if _, ok := functions[t.text]; ok {
			p.fail(t.pos, i18n.M("formula.needs_call", t.text))
		}
		p.fail(t.pos, i18n.M("formula.unknown_name", t.text))
	case t.kind == tOp && t.text == "(":
		p.enter()
		p.advance()
		e := p.expr()
		if !p.is(")") {
			p.expect(")")
		}
		p.advance()
		p.leave()
		return e
	case t.kind == tEOF:
		p.fail(t.pos, i18n.M("formula.operand_eof"))
	}
	p.fail(t.pos, i18n.M("formula.operand", t.text))
	return nil
}

func (p *parser) call(name token) *node {
	fn, ok := functions[name.text]
	if !ok {
		if name.text == "x" || name.text == "pi" {
			p.fail(name.pos, i18n.M("formula.not_function", name.text))
		}
		p.fail(name.pos, i18n.M("formula.unknown_function", name.text, functionNames))
	}
	n := p.node(kCall, name.pos)
	n.fn = fn
	p.enter()
	p.advance() // (
	if !p.is(")") {
		for {
			n.args = append(n.args, p.expr())
			if !p.is(",") {
				break
			}
			p.advance()
		}
	}
	if !p.is(")") {
		p.expect(")")
	}
	p.advance()
	p.leave()
	switch got := len(n.args); {
	case fn.max < 0 && got < fn.min:
		p.fail(name.pos, i18n.M("formula.args_min", name.text, fn.min, got))
	case fn.max >= 0 && fn.min == fn.max && got != fn.min:
		p.fail(name.pos, i18n.M("formula.args_exact", name.text, fn.min, got))
	case fn.max >= 0 && (got < fn.min || got > fn.max):
		p.fail(name.pos, i18n.M("formula.args_range", name.text, fn.min, fn.max, got))
	}
	return n
}
