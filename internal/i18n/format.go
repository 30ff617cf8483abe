package i18n

import "strings"

// Number writes a decimal as records carry it ("1005950.5", "-30000.25") as a reader of l writes
// numbers: in Bulgarian with a decimal comma and, from five digits on, the digits of the whole part
// grouped by three with a no-break space (1234,5; 12 345; 1 005 950,5), as Bulgarian typesetting does;
// in English 1,234.5. What is not a plain decimal ("1e5", "12.", "abc", "") is left as it is, so that no
// value a device sent is hidden or changed.
func Number(s string, l Lang) string {
	sign, digits := "", s
	if strings.HasPrefix(digits, "-") || strings.HasPrefix(digits, "+") {
		sign, digits = digits[:1], digits[1:]
	}
	whole, frac, hasFrac := strings.Cut(digits, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || hasFrac && frac == "" {
		return s
	}
	sep, point := ",", "."
	if l == BG {
		sep, point = "\u00a0", ","
	}
	if len(whole) > 4 || l != BG && len(whole) > 3 {
		var b strings.Builder
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteString(sep)
			}
			b.WriteRune(c)
		}
		whole = b.String()
	}
	if hasFrac {
		return sign + whole + point + frac
	}
	return sign + whole
}
