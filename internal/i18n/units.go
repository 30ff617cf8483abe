package i18n

import (
	"fmt"
	"strings"
	"time"
)

// Localizer is an argument that writes itself differently in each language: T formats it with
// Localize before handing the arguments to fmt.
type Localizer interface {
	Localize(Lang) string
}

// Duration is a time.Duration as a person reads it: "10 мин", "1 ч 30 мин", "15 с" in Bulgarian,
// "10 min", "1 h 30 min", "15 s" in English.
type Duration time.Duration

var durationUnits = map[Lang][4]string{
	BG: {"ч", "мин", "с", "мс"},
	EN: {"h", "min", "s", "ms"},
}

// Localize writes d in l.
func (d Duration) Localize(l Lang) string {
	u, ok := durationUnits[l]
	if !ok {
		u = durationUnits[BG]
	}
	x := time.Duration(d)
	if x == 0 {
		return "0 " + u[2]
	}
	sign := ""
	if x < 0 {
		sign = "-"
		x = -x
	}
	var parts []string
	for i, step := range []time.Duration{time.Hour, time.Minute, time.Second, time.Millisecond} {
		if n := x / step; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, u[i]))
			x -= n * step
		}
	}
	if len(parts) == 0 { // below a millisecond
		return time.Duration(d).String()
	}
	return sign + strings.Join(parts, " ")
}

// String writes d in Bulgarian, for %v outside a Printer.
func (d Duration) String() string { return d.Localize(BG) }

func localize(l Lang, args []any) []any {
	var out []any
	for i, a := range args {
		if z, ok := a.(Localizer); ok {
			if out == nil {
				out = make([]any, len(args))
				copy(out, args)
			}
			out[i] = z.Localize(l)
		}
	}
	if out == nil {
		return args
	}
	return out
}
