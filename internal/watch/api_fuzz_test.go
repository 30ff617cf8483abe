package watch

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// The API's own parsers of a request — the query's period, device and point, the format, the language,
// a path's id — take anything a client sends: a refusal is an *Error naming the parameter, never a panic,
// and what they accept is what they say.
func FuzzRequestParams(f *testing.F) {
	f.Add("2026-11-23", "2026-11-24T00:00:00Z", "csv", "bg-BG,en;q=0.5", "17", "BGNCA00005001001")
	f.Add("2026-03-29", "2026-10-25", "pdf", "en", "0", "")
	f.Add("yesterday", "", "xlsx", ";;,", "-1", "x")
	f.Fuzz(func(t *testing.T, from, to, fm, lang, id, dev string) {
		v := url.Values{"from": {from}, "to": {to}, "format": {fm}, "device": {dev}}
		r := httptest.NewRequest("GET", "/api/v1/watch/sites/BGNCA00005001/readings?"+v.Encode(), nil)
		r.SetPathValue("site", "BGNCA00005001")
		r.SetPathValue("id", id)
		r.Header.Set("Accept-Language", lang)
		if l := language(r); l != "bg" && l != "en" {
			t.Fatalf("language %q", l)
		}
		q, err := query(r)
		if err != nil {
			if _, ok := Message(err); !ok {
				t.Fatalf("query: an error without a message: %v", err)
			}
		} else if q.From.IsZero() || q.To.IsZero() || q.Device != dev || q.Site != "BGNCA00005001" {
			t.Fatalf("query %+v from %q %q", q, from, to)
		}
		if got, err := format(r, true); err != nil {
			if _, ok := Message(err); !ok {
				t.Fatalf("format: %v", err)
			}
		} else if got != "json" && got != fm {
			t.Fatalf("format %q from %q", got, fm)
		}
		if n, err := pathID(r); err != nil {
			if _, ok := Message(err); !ok {
				t.Fatalf("id: %v", err)
			}
		} else if n < 1 {
			t.Fatalf("id %d from %q", n, id)
		}
	})
}
