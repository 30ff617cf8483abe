package core

import (
	"fmt"
	"strings"
)

// A tax warehouse number (ИДНС, акцизен номер) has 13 characters: the country code BG, a letter, two
// letters of the customs office and eight digits in practice (e.g. BGNCA00005001). We check only the shape
// we can be sure of: "BG" followed by 11 upper-case letters or digits.
const warehouseIDLen = 13

// PointID names a control point: the tax warehouse number, the ИКУНК number (3 digits) and the point
// number (3 digits), e.g. BGNCA00005001001001.
type PointID struct {
	Warehouse string // 13 characters, e.g. BGNCA00005001
	Box       int    // ИКУНК number, 1–999
	Point     int    // control point number within the box, 1–999
}

// String gives the 19-character form.
func (p PointID) String() string { return fmt.Sprintf("%s%03d%03d", p.Warehouse, p.Box, p.Point) }

// ValidWarehouseID reports whether s has the shape of a tax warehouse number.
func ValidWarehouseID(s string) bool {
	if len(s) != warehouseIDLen || !strings.HasPrefix(s, "BG") {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ParsePointID reads the 19-character form of a control point id.
func ParsePointID(s string) (PointID, error) {
	if len(s) != warehouseIDLen+6 {
		return PointID{}, fmt.Errorf("core: control point id %q: want 19 characters (13 of the warehouse, 3 of the box, 3 of the point), have %d", s, len(s))
	}
	w := s[:warehouseIDLen]
	if !ValidWarehouseID(w) {
		return PointID{}, fmt.Errorf("core: control point id %q: %q is not a tax warehouse number", s, w)
	}
	box, err := threeDigits(s[warehouseIDLen : warehouseIDLen+3])
	if err != nil {
		return PointID{}, fmt.Errorf("core: control point id %q: box: %w", s, err)
	}
	pt, err := threeDigits(s[warehouseIDLen+3:])
	if err != nil {
		return PointID{}, fmt.Errorf("core: control point id %q: point: %w", s, err)
	}
	return PointID{Warehouse: w, Box: box, Point: pt}, nil
}

func threeDigits(s string) (int, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not three digits", s)
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return 0, fmt.Errorf("%q: numbering starts at 001", s)
	}
	return n, nil
}

// ValidEIK reports whether s is a Bulgarian unified identification code (ЕИК/БУЛСТАТ) of 9 or 13 digits
// with correct check digits.
func ValidEIK(s string) bool {
	if len(s) != 9 && len(s) != 13 {
		return false
	}
	d := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		d[i] = int(s[i] - '0')
	}
	if eikCheck(d[:8], []int{1, 2, 3, 4, 5, 6, 7, 8}, []int{3, 4, 5, 6, 7, 8, 9, 10}) != d[8] {
		return false
	}
	if len(s) == 9 {
		return true
	}
	return eikCheck(d[8:12], []int{2, 7, 3, 5}, []int{4, 9, 5, 7}) == d[12]
}

// eikCheck is the check-digit rule of the BULSTAT register: a weighted sum mod 11; a remainder of 10 is
// recomputed with the second weights; a second 10 gives 0.
func eikCheck(d, w1, w2 []int) int {
	sum := 0
	for i := range d {
		sum += d[i] * w1[i]
	}
	if r := sum % 11; r != 10 {
		return r
	}
	sum = 0
	for i := range d {
		sum += d[i] * w2[i]
	}
	if r := sum % 11; r != 10 {
		return r
	}
	return 0
}
