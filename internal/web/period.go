package web

import (
	"html/template"
	"net/url"
	"time"

	"github.com/akciz/akciz/internal/workday"
)

// Period is the time range [From, To) a page shows, chosen with from and to in the query
// (datetime-local values in Sofia's time), by default the last 24 hours.
type Period struct {
	From, To time.Time
	// Keep are other query values the period form passes on (e.g. the chosen tag).
	Keep map[string]string
}

// maxPeriod bounds what one page or export reads: a year and a bit.
const maxPeriod = 400 * 24 * time.Hour

const inputLayout = "2006-01-02T15:04"

// periodOf reads the period of a query at now, with def the default length.
func periodOf(q url.Values, now time.Time, def time.Duration) Period {
	def = spanOf(q, def)
	p := Period{To: now, From: now.Add(-def)}
	if t, err := time.ParseInLocation(inputLayout, q.Get("to"), workday.Sofia); err == nil {
		p.To = t
	}
	if t, err := time.ParseInLocation(inputLayout, q.Get("from"), workday.Sofia); err == nil {
		p.From = t
	} else if q.Get("to") != "" {
		p.From = p.To.Add(-def)
	}
	if !p.From.Before(p.To) {
		p.From = p.To.Add(-def)
	}
	if p.To.Sub(p.From) > maxPeriod {
		p.From = p.To.Add(-maxPeriod)
	}
	return p
}

// FromInput and ToInput are the values of the form's datetime-local fields.
func (p Period) FromInput() string { return p.From.In(workday.Sofia).Format(inputLayout) }

// ToInput is the value of the form's "to" field.
func (p Period) ToInput() string { return p.To.In(workday.Sofia).Format(inputLayout) }

// Query is the period (and the kept values) as a query string.
func (p Period) Query() template.URL { return template.URL(p.values().Encode()) }

func (p Period) values() url.Values {
	v := url.Values{}
	for k, x := range p.Keep {
		v.Set(k, x)
	}
	v.Set("from", p.FromInput())
	v.Set("to", p.ToInput())
	return v
}

// QuickLink is one of the links to a period ending now.
type QuickLink struct {
	Label string // a catalogue key
	Query template.URL
}

// Quick gives the links to the last hour, day, week and month.
func (p Period) Quick() []QuickLink {
	var out []QuickLink
	for _, q := range []struct {
		key string
		d   time.Duration
	}{{"web.period.hour", time.Hour}, {"web.period.day", 24 * time.Hour}, {"web.period.week", 7 * 24 * time.Hour}, {"web.period.month", 30 * 24 * time.Hour}} {
		v := url.Values{}
		for k, x := range p.Keep {
			v.Set(k, x)
		}
		v.Set("span", q.d.String())
		out = append(out, QuickLink{Label: q.key, Query: template.URL(v.Encode())})
	}
	return out
}

// spanOf reads the quick link's span (a duration ending now), or def.
func spanOf(q url.Values, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(q.Get("span")); err == nil && d > 0 && d <= maxPeriod {
		return d
	}
	return def
}
