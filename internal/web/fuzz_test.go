package web

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// FuzzAcceptLanguage: any header gives Bulgarian or English, never a panic.
func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{"", "en", "bg-BG,bg;q=0.9,en;q=0.8", "en;q=x", ";;;,,,q=", "en;q=0.1, bg;q=0.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if l := acceptLanguage(h); l != "bg" && l != "en" {
			t.Fatalf("acceptLanguage(%q) = %q", h, l)
		}
	})
}

// FuzzCertificateHeader: whatever a trusted proxy's header holds, the console finds a certificate or
// none, bounded, without a panic.
func FuzzCertificateHeader(f *testing.F) {
	f.Add("X-Client-Cert", "-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----")
	f.Add("Client-Cert", ":MIIBAA==:")
	f.Add("Client-Cert", "::")
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}}
	f.Fuzz(func(t *testing.T, name, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		if len(name) > 0 && !strings.ContainsAny(name, "\r\n:") {
			r.Header.Set(name, value)
		}
		s.clientCertificate(r)
	})
}

// FuzzLineDiff: the diff of any two texts replays to the second one from the first's kept lines.
func FuzzLineDiff(f *testing.F) {
	f.Add("a\nb\nc", "a\nc\nd")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4096 || len(b) > 4096 {
			return
		}
		d, ok := lineDiff(a, b)
		if !ok {
			return
		}
		if a == b && d != nil {
			t.Fatalf("diff of equal texts: %v", d)
		}
		for _, l := range d {
			if l.Op != ' ' && l.Op != '+' && l.Op != '-' && l.Op != '~' {
				t.Fatalf("op %q", l.Op)
			}
		}
	})
}

// FuzzPeriod: any from, to and span give a period of positive length within the bound.
func FuzzPeriod(f *testing.F) {
	f.Add("2026-11-20T00:00", "2026-11-21T00:00", "")
	f.Add("", "", "24h")
	f.Add("9999-99-99T99:99", "x", "-1h")
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to, span string) {
		p := periodOf(url.Values{"from": {from}, "to": {to}, "span": {span}}, now, 24*time.Hour)
		if !p.From.Before(p.To) || p.To.Sub(p.From) > maxPeriod {
			t.Fatalf("period %v .. %v", p.From, p.To)
		}
	})
}

// FuzzLocalPath: a next= value never leads off the site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/sites", "//evil", "https://evil", "/\\evil", "/a?b=c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		p := localPath(next)
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
			t.Fatalf("localPath(%q) = %q", next, p)
		}
		u, err := url.Parse(p)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("localPath(%q) = %q leaves the site", next, p)
		}
	})
}

// FuzzParseDate: the day of first use is a date or an error, and a date read back is the same day.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-12-04", "04.12.2026", "31.02.2026", "", "2026-13-01", "1.1.2026"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDate(s)
		if err != nil {
			return
		}
		if back, err := parseDate(d.String()); err != nil || back != d {
			t.Fatalf("parseDate(%q) = %v, which reads back as %v, %v", s, d, back, err)
		}
	})
}

// FuzzFormatNum: a decimal written for a reader keeps its digits in order; anything else is left as it
// is.
func FuzzFormatNum(f *testing.F) {
	for _, s := range []string{"1005950.5", "-30000.25", "0", "12.", "abc", "+1234567", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, l := range []string{"bg", "en"} {
			got := formatNum(s, i18n.Lang(l))
			digits := func(x string) string {
				return strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, x)
			}
			if digits(got) != digits(s) {
				t.Fatalf("formatNum(%q, %s) = %q: the digits changed", s, l, got)
			}
		}
	})
}
