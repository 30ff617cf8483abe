package notify

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/store"
)

func FuzzParseSMTPURL(f *testing.F) {
	for _, s := range []string{"smtp://u:p@mail.example:587", "smtps://mail.example", "smtp://%zz@x", "smtp://u@[::1]:25",
		"http://x", "smtp://x:0", "smtp://x/path", "smtp:opaque"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSMTPURL(s)
		if err != nil {
			return
		}
		if c.Addr == "" || strings.Contains(c.Redacted(), c.Password+"@") && c.Password != "" {
			t.Errorf("%q: %+v redacted %q", s, c, c.Redacted())
		}
		if again, err := ParseSMTPURL(c.Redacted()); err != nil || again.Addr != c.Addr || again.Username != c.Username {
			t.Errorf("%q: the redacted form %q does not parse back: %v", s, c.Redacted(), err)
		}
	})
}

func FuzzDecodeForm(f *testing.F) {
	f.Add([]byte(`{"first_name":"Иван","last_name":"Петров","email":"i@f.bg","system":"BACIS","events":["operability"],"delivery":"email-attachment"}`))
	f.Add([]byte(`{"system":"BACIS","kind":"operability","planned":true,"start":"2026-11-25T08:00:00Z","file":"JVBERg=="}`))
	f.Add([]byte(`{"events":[1]}`))
	f.Add([]byte(`{} {}`))
	allowed := []store.InfoSystem{{Code: "BACIS", Name: "БАЦИС"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var form Form
		if err := DecodeJSON(bytes.NewReader(b), maxFormBody, &form); err == nil {
			errs := Check(&form, allowed)
			if len(errs) == 0 && form.Delivery == store.DeliveryAttachment {
				for _, e := range form.Events {
					if e == store.EventOperability {
						t.Errorf("operability with attachment accepted: %+v", form)
					}
				}
			}
		}
		var p Publication
		if err := DecodeJSON(bytes.NewReader(b), maxPublishBody, &p); err == nil {
			r := store.Revision{Rev: 1, Action: store.ActionPublish, System: p.System, Kind: p.Kind}
			inherit(&r, &p)
			if errs := checkRevision(&r, nil, allowed, start); len(errs) == 0 && r.Kind == store.NoticeOperability && r.File != nil {
				t.Errorf("operability with a file accepted: %+v", p)
			}
		}
	})
}

func FuzzParseDKIMKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP5Sy9Iy8oIpLkUbmYzjhyq+Ih6ZEf8l4c8dXq3E2bmK\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseDKIMKey(b)
		if err == nil && k == nil {
			t.Error("no key and no error")
		}
	})
}

// FuzzCalendarText checks the iCalendar writer's folding and escaping for any text: lines of at most
// 75 octets, valid UTF-8, and the text back when unfolded and unescaped.
func FuzzCalendarText(f *testing.F) {
	f.Add("Профилактика; БАЦИС, ЕМДС\nвтори ред \\ край")
	f.Add(strings.Repeat("ж", 100))
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, '\r') {
			return
		}
		var b strings.Builder
		line(&b, "DESCRIPTION:"+escapeText(s))
		out := b.String()
		for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(l) > 75 || !utf8.ValidString(l) {
				t.Fatalf("line %q", l)
			}
		}
		unfolded := strings.ReplaceAll(strings.TrimSuffix(out, "\r\n"), "\r\n ", "")
		back := strings.NewReplacer(`\\`, `\`, `\;`, ";", `\,`, ",", `\n`, "\n").Replace(strings.TrimPrefix(unfolded, "DESCRIPTION:"))
		if back != s {
			t.Fatalf("%q came back as %q", s, back)
		}
	})
}
