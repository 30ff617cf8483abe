package report

import "io"

// renderers are the four formats behind one signature, for tests that ask the same of each.
var renderers = map[string]func(io.Writer, *Document) error{
	"csv":  func(w io.Writer, d *Document) error { return CSV(w, d, CSVOptions{}) },
	"xlsx": XLSX,
	"html": HTML,
	"pdf":  PDF,
}
