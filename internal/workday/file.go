package workday

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/akciz/akciz/internal/i18n"
)

// MaxFileSize bounds a calendar file; a century of decrees fits in a few kilobytes.
const MaxFileSize = 1 << 20

// Error is a line of a calendar file that cannot be read.
type Error struct {
	File string
	Line int
	Msg  i18n.Message
}

// Error renders the error in English, for logs.
func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg.String()) }

// Text renders the error in the printer's language.
func (e *Error) Text(p *i18n.Printer) string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, p.Msg(e.Msg))
}

// ReadOverrides reads a calendar file: one day a line, "YYYY-MM-DD off" for a day off or
// "YYYY-MM-DD work" for a working day, optionally followed by a note; "#" starts a comment, blank lines
// are skipped. name is used in errors. A date given twice with different meanings is an error.
//
//	# РМС № 123 от 01.12.2026
//	2026-12-31 off  Нова година
//	2026-12-19 work отработване на 31.12
func ReadOverrides(r io.Reader, name string) ([]Override, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: name, Msg: i18n.M("workday.file.read", err.Error())}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Msg: i18n.M("workday.file.too_large", MaxFileSize)}
	}
	var out []Override
	seen := map[Date]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, &Error{File: name, Line: n, Msg: i18n.M("workday.file.syntax", strings.TrimSpace(line))}
		}
		d, err := Parse(f[0])
		if err != nil {
			return nil, &Error{File: name, Line: n, Msg: i18n.M("workday.file.date", f[0])}
		}
		o := Override{Date: d, Note: strings.Join(f[2:], " ")}
		switch strings.ToLower(f[1]) {
		case "off":
		case "work":
			o.Working = true
		default:
			return nil, &Error{File: name, Line: n, Msg: i18n.M("workday.file.kind", f[1])}
		}
		if o.Note == "" {
			o.Note = fmt.Sprintf("%s:%d", name, n)
		}
		if prev, ok := seen[d]; ok {
			if out[prev].Working != o.Working {
				return nil, &Error{File: name, Line: n, Msg: i18n.M("workday.file.conflict", d.String())}
			}
			continue
		}
		seen[d] = len(out)
		out = append(out, o)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Msg: i18n.M("workday.file.read", err.Error())}
	}
	return out, nil
}

// ReadOverridesFile reads the calendar file at path (ReadOverrides).
func ReadOverridesFile(path string) ([]Override, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: i18n.M("workday.file.read", err.Error())}
	}
	defer f.Close()
	return ReadOverrides(f, path)
}
