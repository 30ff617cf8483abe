package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/akciz/akciz/internal/i18n"
)

// Diagnostic is one finding about a configuration file: where, how bad, which rule, and the message for a
// person, translated when it is shown.
type Diagnostic struct {
	File     string
	Pos      Pos
	Severity Severity // SeverityError or SeverityWarning
	Rule     string   // the rule's name, e.g. "duplicate-tag-name" (docs/automation-config.md lists them)
	Msg      i18n.Message
}

// Format gives the diagnostic as FILE:LINE:COL: SEVERITY: MESSAGE [RULE] in the printer's language (FILE:
// SEVERITY: … when the finding has no place, as when the file cannot be read).
func (d Diagnostic) Format(p *i18n.Printer) string {
	sev := p.T("common.error")
	if d.Severity == SeverityWarning {
		sev = p.T("common.warning")
	}
	if !d.Pos.IsValid() {
		return fmt.Sprintf("%s: %s: %s [%s]", d.File, sev, Text(p, d.Msg), d.Rule)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s]", d.File, d.Pos.Line, d.Pos.Col, sev, Text(p, d.Msg), d.Rule)
}

// Text translates m, and the messages among its arguments (such as a formula's compile error), into the
// printer's language.
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

// Diagnostics is every finding about a file, in the order of the file. As an error it is the errors
// among them, in English.
type Diagnostics []Diagnostic

// HasErrors reports whether any finding is an error (not only warnings).
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns the findings that are errors.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

func (ds Diagnostics) Error() string {
	p := i18n.For(i18n.EN)
	var b strings.Builder
	for i, d := range ds.Errors() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.Format(p))
	}
	return b.String()
}

// sort orders findings by place, keeping the order of findings at the same place.
func (ds Diagnostics) sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}
