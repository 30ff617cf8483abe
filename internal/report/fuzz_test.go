package report

import (
	"io"
	"testing"
)

// FuzzRender feeds any text to every renderer, as a title, a header, a cell and a sheet name: none may
// fail or crash on it (fpdf, for one, panics on runes its width table does not cover).
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "Обем m³", "😀\x00\t\r\n", "=cmd|' /C calc'!A0", "[]:*?/\\'History", "\xff\xfe", "</style><script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2000 {
			return
		}
		d := &Document{Title: s, Subtitle: s, Meta: []Field{{s, s}}, Sections: []*Section{
			{Heading: s, Blocks: []Block{Paragraph(s), &Table{Caption: s, Columns: []Column{{Header: s}, {Header: "x"}}, Rows: [][]Cell{{Text(s), Int(1)}}}}},
			{Heading: s, Blocks: []Block{&Table{Columns: []Column{{Header: s}}}}},
		}}
		for name, render := range renderers {
			if err := render(io.Discard, d); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}
