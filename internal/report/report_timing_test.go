package report

import (
	"fmt"
	"io"
	"testing"
)

// countingWriter counts what a renderer writes, for b.SetBytes.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// benchDoc is one table of n rows streamed from an iterator, shaped like a Modbus map or a readings
// export: texts, an integer and a decimal per row.
func benchDoc(n int) *Document {
	cells := make([]Cell, 6)
	return &Document{Title: "Показания", Sections: []*Section{{Heading: "Точка BGNCA00005001001001", Blocks: []Block{&Table{
		Columns: []Column{{Header: "Време"}, {Header: "Точка"}, {Header: "Продукт"}, {Header: "Брояч", Align: AlignRight}, {Header: "Обем при 15 °C, m³"}, {Header: "Бележка"}},
		Source: func(yield func([]Cell, error) bool) {
			for i := range n {
				cells[0] = Text(fmt.Sprintf("2026-11-22T10:%02d:%02dZ", i/60%60, i%60))
				cells[1] = Text("BGNCA00005001001001")
				cells[2] = Text("E430 Дизелово гориво")
				cells[3] = Int(int64(1_000_000 + i))
				cells[4] = Float(float64(i)*0.125, 3)
				cells[5] = Text("наливане")
				if !yield(cells, nil) {
					return
				}
			}
		},
	}}}}}
}

func benchRender(b *testing.B, rows int, render func(io.Writer, *Document) error) {
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		w := &countingWriter{}
		if err := render(w, benchDoc(rows)); err != nil {
			b.Fatal(err)
		}
		size = w.n
	}
	b.SetBytes(size)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkCSV100k(b *testing.B) {
	benchRender(b, 100_000, func(w io.Writer, d *Document) error { return CSV(w, d, ExcelBG) })
}

func BenchmarkXLSX100k(b *testing.B) { benchRender(b, 100_000, XLSX) }

func BenchmarkHTML100k(b *testing.B) { benchRender(b, 100_000, HTML) }

func BenchmarkPDF1k(b *testing.B) { benchRender(b, 1_000, PDF) }
