package wire

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/core"
)

func utf8Record(s string) *core.Record {
	return &core.Record{Kind: core.KindEvent, Time: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Device: "BGNCA00005001001",
		Event: &core.Event{Kind: core.EventDoorOpened, Tag: s, Detail: "x" + s + "y"}}
}

// A string with invalid UTF-8 (a PLC's stray byte) must give a record that DecodeRecord accepts, or the
// journal would hold a record that can never be sent.
func TestEncodeRecordInvalidUTF8(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\xffb", "a\uFFFDb"},
		{"\xc3", "\uFFFD"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{`\ufffd` + "\xff", `\ufffd` + "\uFFFD"}, // the text \ufffd is not an escape
		{`\` + "\xff", `\` + "\uFFFD"},
		{"\uFFFD\"\\\n", "\uFFFD\"\\\n"},
	} {
		b, err := EncodeRecord(1, ZeroHash, utf8Record(tc.in))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		e, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("%q: encoded as %s, which does not decode: %v", tc.in, b, err)
		}
		if e.Record.Event.Tag != tc.want || e.Record.Event.Detail != "x"+tc.want+"y" {
			t.Errorf("%q: decoded %q / %q, want %q", tc.in, e.Record.Event.Tag, e.Record.Event.Detail, tc.want)
		}
	}
}

// Whatever strings a record holds, what EncodeRecord writes DecodeRecord reads.
func FuzzEncodeRecord(f *testing.F) {
	for _, s := range []string{"", "a\xffb", `\ufffd`, `\\ufffd` + "\xff", "\u2028<>&", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := EncodeRecord(7, [32]byte{1}, utf8Record(s))
		if err != nil {
			return // too large
		}
		if !utf8.Valid(b) {
			t.Fatalf("%q: encoding is not UTF-8", s)
		}
		if _, err := DecodeRecord(b); err != nil {
			t.Fatalf("%q: %s does not decode: %v", s, b, err)
		}
	})
}
