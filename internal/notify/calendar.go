package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// vtimezone describes Europe/Sofia for calendars (RFC 5545 §3.6.5): EET, and EEST from the last Sunday
// of March to the last Sunday of October, as the EU has had since 1996.
const vtimezone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Sofia\r\n" +
	"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0300\r\nTZNAME:EEST\r\nDTSTART:19700329T030000\r\n" +
	"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n" +
	"BEGIN:STANDARD\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0200\r\nTZNAME:EET\r\nDTSTART:19701025T040000\r\n" +
	"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n" +
	"END:VTIMEZONE\r\n"

// calendar gives a VCALENDAR (METHOD:PUBLISH) with one event per planned window of notices, each as of
// its latest revision: a stable UID per notice, SEQUENCE raised by every later revision, and
// STATUS:CANCELLED once cancelled, so that a calendar updates the event in place.
func (s *Service) calendar(p *i18n.Printer, name string, notices []store.Notice) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//akciz//notices//BG\r\nMETHOD:PUBLISH\r\nCALSCALE:GREGORIAN\r\n")
	if name != "" {
		line(&b, "X-WR-CALNAME:"+escapeText(name))
	}
	b.WriteString(vtimezone)
	for i := range notices {
		n := &notices[i]
		if r := n.Latest(); r != nil && r.Kind == store.NoticeOperability && r.Planned {
			s.event(&b, p, n, r)
		}
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.String()
}

func (s *Service) event(b *strings.Builder, p *i18n.Printer, n *store.Notice, r *store.Revision) {
	title, text := localized(r, p.Lang())
	status := "CONFIRMED"
	if r.Action == store.ActionCancel {
		status = "CANCELLED"
	}
	b.WriteString("BEGIN:VEVENT\r\n")
	line(b, fmt.Sprintf("UID:notice-%d@%s", n.ID, s.domain()))
	line(b, fmt.Sprintf("SEQUENCE:%d", r.Rev-1))
	line(b, "DTSTAMP:"+r.Published.UTC().Format("20060102T150405Z"))
	line(b, "DTSTART;TZID=Europe/Sofia:"+r.Start.In(Sofia).Format("20060102T150405"))
	if !r.End.IsZero() {
		line(b, "DTEND;TZID=Europe/Sofia:"+r.End.In(Sofia).Format("20060102T150405"))
	}
	line(b, "STATUS:"+status)
	line(b, "TRANSP:OPAQUE")
	line(b, "SUMMARY:"+escapeText(title))
	line(b, "DESCRIPTION:"+escapeText(text))
	line(b, "URL:"+s.noticeURL(n.ID))
	b.WriteString("END:VEVENT\r\n")
}

// escapeText escapes a TEXT value (RFC 5545 §3.3.11).
func escapeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// line writes a content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence.
func line(b *strings.Builder, s string) {
	const limit = 75
	first := true
	for len(s) > 0 {
		n := limit
		if !first {
			n = limit - 1 // the leading space counts
		}
		if len(s) <= n {
			n = len(s)
		} else {
			for n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
		}
		if !first {
			b.WriteByte(' ')
		}
		b.WriteString(s[:n])
		b.WriteString("\r\n")
		s, first = s[n:], false
	}
}

// localized gives the title and text of r in a language, Bulgarian where there is no English.
func localized(r *store.Revision, l i18n.Lang) (string, string) {
	if l == i18n.EN && r.TitleEN != "" {
		text := r.TextEN
		if text == "" {
			text = r.Text
		}
		return r.TitleEN, text
	}
	return r.Title, r.Text
}

// timeRange is a window as a person reads it.
func timeRange(p *i18n.Printer, from, to time.Time) string {
	if to.IsZero() {
		return p.T("notify.window.open", FormatTime(p, from))
	}
	return p.T("notify.window", FormatTime(p, from), FormatTime(p, to))
}
