package i18n

import "testing"

// TestNumber: numbers as a Bulgarian (or an English) reader writes them; what is not a plain decimal
// stays as it is.
func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in     string
		bg, en string
	}{
		{"1005950.5", "1\u00a0005\u00a0950,5", "1,005,950.5"},
		{"1000", "1000", "1,000"},
		{"12000", "12\u00a0000", "12,000"},
		{"-30000.25", "-30\u00a0000,25", "-30,000.25"},
		{"+1234567", "+1\u00a0234\u00a0567", "+1,234,567"},
		{"835.2", "835,2", "835.2"},
		{"0", "0", "0"},
		{"1e5", "1e5", "1e5"},
		{"12.", "12.", "12."},
		{".5", ".5", ".5"},
		{"-", "-", "-"},
		{"", "", ""},
		{"abc", "abc", "abc"},
	} {
		if got := Number(tc.in, BG); got != tc.bg {
			t.Errorf("Number(%q, bg) = %q, want %q", tc.in, got, tc.bg)
		}
		if got := Number(tc.in, EN); got != tc.en {
			t.Errorf("Number(%q, en) = %q, want %q", tc.in, got, tc.en)
		}
	}
}
