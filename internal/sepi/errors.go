package sepi

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// Error is one problem of a list: where it is (line and column in bytes, 1-based; 0 when it concerns the
// whole file), the rule it breaks (docs/sepi.md lists them) and the message for a person.
type Error struct {
	Line, Col int
	Rule      string
	Msg       i18n.Message
}

// Format gives the error as FILE:LINE:COL: error: MESSAGE [RULE] in the printer's language.
func (e Error) Format(p *i18n.Printer, file string) string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s: %s [%s]", file, p.T("common.error"), Text(p, e.Msg), e.Rule)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s]", file, e.Line, e.Col, p.T("common.error"), Text(p, e.Msg), e.Rule)
}

// Text translates m, and the messages among its arguments (such as what a value should look like), into
// the printer's language.
func Text(p *i18n.Printer, m i18n.Message) string {
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		if n, ok := a.(i18n.Message); ok {
			a = Text(p, n)
		}
		args[i] = a
	}
	return p.T(m.Key, args...)
}

// Result is the outcome of checking one list.
type Result struct {
	// List is the complete list when it is valid, nil otherwise: a list is taken whole or not at all.
	List *List
	// Number is the list's number as written (even when the list is invalid; empty when unreadable), and
	// SHA256 the digest of every byte read: together they recognise the same list sent twice.
	Number string
	SHA256 [32]byte
	// Bytes is the size of the file.
	Bytes int64
	// Errors holds the first Options.MaxErrors errors in the order of the file; Omitted counts the rest.
	Errors  []Error
	Omitted int
	// Flags are the barcodes of a list that enter the warehouse again without having left since, or
	// leave it again without having entered (found only with Options.History), in the order of the file. They do not refuse the list: the goods did
	// pass the control point and the list must be filed (чл. 41, ал. 1); the officers look into them.
	Flags []Flag

	// RootAt and PersonAt are where <sepiList> and <person> start (zero when absent): the places of the
	// server's own findings on a list (its number taken, its person not the sender).
	RootAt, PersonAt Pos

	// places are the barcodes of a valid list and where they are, by barcode, for Recheck.
	places []entry
}

// Pos is a place in a file: line and column in bytes, 1-based.
type Pos struct{ Line, Col int }

// Flag is a barcode marked for the officers: it enters the warehouse with this list while its last
// movement, Prior, entered it too (a reused or copied label, or a list of an exit that never came), or
// it leaves with this list while Prior left too (a copied label, or a list of an entry that never came).
type Flag struct {
	Barcode   Barcode
	Line, Col int
	Prior     Movement
}

// Rule is the flag's rule: RuleEnteredTwice or RuleLeftTwice, as the barcode's two movements went.
func (f Flag) Rule() string {
	if f.Prior.Kind.Entering() {
		return RuleEnteredTwice
	}
	return RuleLeftTwice
}

// Message is the flag's text for a person.
func (f Flag) Message() i18n.Message {
	key := "sepi.rule.entered_twice"
	if f.Rule() == RuleLeftTwice {
		key = "sepi.rule.left_twice"
	}
	return i18n.M(key, f.Barcode.String(), f.Prior.List, f.Prior.When.Format(time.RFC3339))
}

// Format gives the flag as FILE:LINE:COL: warning: MESSAGE [RULE] in the printer's language.
func (f Flag) Format(p *i18n.Printer, file string) string {
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s]", file, f.Line, f.Col, p.T("common.warning"), Text(p, f.Message()), f.Rule())
}

// The rules of a Flag.
const (
	RuleEnteredTwice = "entered-twice"
	RuleLeftTwice    = "left-twice"
)

// Valid reports whether the list has no error.
func (r *Result) Valid() bool { return len(r.Errors) == 0 }

// Error gives the errors in English, one a line, for logs.
func (r *Result) Error() string {
	p := i18n.For(i18n.EN)
	var b strings.Builder
	for i, e := range r.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Format(p, "list"))
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, "\n%s", p.T("sepi.omitted", r.Omitted))
	}
	return b.String()
}

// errorList collects errors up to a cap, counting the rest.
type errorList struct {
	max     int
	errs    []Error
	omitted int
}

func (l *errorList) add(line, col int, rule string, key string, args ...any) {
	if len(l.errs) >= l.max {
		l.omitted++
		return
	}
	l.errs = append(l.errs, Error{Line: line, Col: col, Rule: rule, Msg: i18n.M(key, args...)})
}

// sorted orders the errors by place, keeping the order of errors at one place.
func (l *errorList) sorted() []Error {
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return l.errs
}
