package watch

import (
	"testing"

	"github.com/akciz/akciz/internal/core"
)

// A decimal goes into a document exactly: as a number when a float64 holds its digits, else as its text
// (a year's total of a pipeline in litres with three decimals can exceed 15 significant digits).
func TestDecimalCellExact(t *testing.T) {
	for _, tc := range []struct {
		in     core.Decimal
		number bool
	}{
		{"0.3", true}, {"-12.50", true}, {"1000", true}, {"12345678901234567.891", false}, {"0.1000000000000000000001", false},
	} {
		c := decimalCell(tc.in)
		if c.String() != string(tc.in) || c.IsNumber() != tc.number {
			t.Errorf("%s: cell %q, number %v; want %q, %v", tc.in, c.String(), c.IsNumber(), tc.in, tc.number)
		}
	}
}
