package submit

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzContentDigest: any Content-Digest header is read without a panic, and a digest is given only when
// the header names a sha-256 of 32 bytes.
func FuzzContentDigest(f *testing.F) {
	for _, s := range []string{"", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", "sha-512=:AA==:, sha-256=:AAAA:",
		"sha-256=", "SHA-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Digest", h)
		d, ok := contentDigest(r)
		if d != nil && !ok {
			t.Fatalf("a digest from a malformed header %q", h)
		}
	})
}

// FuzzParseQuery: any query string gives a query or an error, never a panic, and never a negative
// limit or file.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "from=2026-11-01&to=2026-12-01T00:00:00Z&point=BGNBL00003004001010", "limit=-1",
		"file=9223372036854775808", "from=yesterday", "quarter=2026-Q3&meter=32Z1&eik=131074754"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := url.ParseQuery(raw); err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/?"+url.Values{}.Encode(), nil)
		r.URL.RawQuery = raw
		q, err := ParseQuery(r)
		if err == nil && (q.Limit < 0 || q.File < 0) {
			t.Fatalf("%q gave %+v", raw, q)
		}
	})
}
