package sepi

import (
	"testing"
	"time"
)

// TestRecheck: the rule the server applies again in its transaction is Parse's: same direction twice is
// flagged, with the barcode's first place; the list's own earlier copy, the other direction, a barcode
// not in the list and an invalid list are not.
func TestRecheck(t *testing.T) {
	res := parseFile(t, "../../examples/sepi/cigars-entry.xml", Options{})
	if res.List == nil {
		t.Fatal(res.Error())
	}
	b := res.List.Products[0].Barcodes[2]
	when := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f, ok := res.Recheck(b, Movement{Kind: ProductionToWarehouse, List: "1", When: when, Operator: "175074752"})
	if !ok || f.Barcode != b || f.Line != 14 || f.Col != 5 || f.Prior.List != "1" || f.Rule() != RuleEnteredTwice {
		t.Errorf("entering after entering: %v %+v", ok, f)
	}
	for name, m := range map[string]Movement{
		"after leaving":    {Kind: Exit, List: "1", When: when},
		"its own copy":     {Kind: Entry, List: res.Number, When: when, Operator: res.List.Person.EIK},
		"its own, unknown": {Kind: Entry, List: res.Number, When: when},
	} {
		if f, ok := res.Recheck(b, m); ok {
			t.Errorf("%s: flagged %+v", name, f)
		}
	}
	if _, ok := res.Recheck(b, Movement{Kind: Entry, List: res.Number, Operator: "175074752"}); !ok {
		t.Error("another person's list of the same number: not flagged")
	}
	if _, ok := res.Recheck(Barcode(12345), Movement{Kind: Entry, List: "1"}); ok {
		t.Error("a barcode not in the list: flagged")
	}
	bad := parseFile(t, "testdata/cases/count-total/list.xml", Options{})
	if _, ok := bad.Recheck(b, Movement{Kind: Entry, List: "1"}); ok || bad.List != nil {
		t.Error("an invalid list: flagged")
	}
}
