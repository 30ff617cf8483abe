package formula

import "testing"

var sink float64

func BenchmarkEval(b *testing.B) {
	for _, bc := range []struct{ name, src string }{
		{"identity", "x"},
		{"scale", "x / 10"},
		{"linear", "(x - 32768) * 0.01 + 2"},
		{"conditional", "x > 0 ? round(x * 0.001, 3) : 0"},
		{"functions", "clamp(max(x, 0, 1) ^ 2 % 1000, 0, 500)"},
	} {
		f := MustCompile(bc.src)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			x := 0.0
			for b.Loop() {
				sink = f.Eval(x)
				x++
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	src := "x > 0 ? clamp(round((x - 32768) * 0.01, 2), 0, 100) : min(abs(x), 5) ^ 2"
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Compile(src); err != nil {
			b.Fatal(err)
		}
	}
}
