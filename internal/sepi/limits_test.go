package sepi

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func parseBytes(t testing.TB, data []byte, opt Options) *Result {
	t.Helper()
	res, err := Parse(context.Background(), bytes.NewReader(data), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func rules(res *Result) string {
	var out []string
	for _, e := range res.Errors {
		out = append(out, e.Rule)
	}
	return strings.Join(out, " ")
}

func TestGeneratedListIsValid(t *testing.T) {
	var b bytes.Buffer
	if err := writeList(&b, "1", 100_001); err != nil {
		t.Fatal(err)
	}
	res := parseBytes(t, b.Bytes(), Options{})
	if res.List == nil {
		t.Fatalf("generated list invalid: %s", res.Error())
	}
	if got := res.List.Barcodes(); got != 100_001 || len(res.List.Products) != 2 {
		t.Errorf("barcodes %d, products %d", got, len(res.List.Products))
	}
	if first := res.List.Products[0].Barcodes[0].String(); first != string(sscc(380057100000000)) {
		t.Errorf("first barcode %s", first)
	}
}

func TestLimits(t *testing.T) {
	var b bytes.Buffer
	if err := writeList(&b, "1", 100); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if res := parseBytes(t, data, Options{MaxBytes: int64(len(data))}); !res.Valid() {
		t.Errorf("a file of exactly MaxBytes: %s", res.Error())
	}
	res := parseBytes(t, data, Options{MaxBytes: int64(len(data)) - 1})
	if rules(res) != "limit-size" || res.List != nil {
		t.Errorf("a file one byte too long: %q", rules(res))
	}
	res = parseBytes(t, data, Options{MaxBarcodes: 99})
	if rules(res) != "limit-barcodes" || res.List != nil {
		t.Errorf("too many barcodes: %q", rules(res))
	}
	// A reader that gives one byte at a time reads the same.
	r, err := Parse(context.Background(), iotest.OneByteReader(bytes.NewReader(data)), Options{})
	if err != nil || !r.Valid() || r.SHA256 != parseBytes(t, data, Options{}).SHA256 {
		t.Errorf("one byte at a time: %v %v", err, r.Error())
	}
}

func TestErrorCap(t *testing.T) {
	var b bytes.Buffer
	if err := writeList(&b, "1", 1500); err != nil {
		t.Fatal(err)
	}
	// Break every check digit: 1500 errors.
	data := b.Bytes()
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("</barcode>"))
		if j < 0 {
			break
		}
		k := i + j - 1
		data[k] = '0' + (data[k]-'0'+1)%10
		i += j + 1
	}
	res := parseBytes(t, data, Options{})
	if len(res.Errors) != DefaultMaxErrors || res.Omitted != 500 || res.List != nil {
		t.Fatalf("errors %d, omitted %d", len(res.Errors), res.Omitted)
	}
	if res.Errors[0].Rule != "barcode-check-digit" || res.Errors[0].Line != 7 {
		t.Errorf("first error %+v", res.Errors[0])
	}
	if !strings.Contains(res.Error(), "and 500 more errors") {
		t.Errorf("the count of the rest is missing")
	}
}

func TestHostileInput(t *testing.T) {
	for name, c := range map[string]struct{ in, rule string }{
		"empty":      {"", "input-malformed"},
		"doctype":    {`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><sepiList xmlns="urn:akciz:sepi:1"/>`, "input-malformed"},
		"wrong root": {`<automationConfig xmlns="urn:akciz:automation-config:1"/>`, "schema-element"},
		"no ns":      {`<sepiList/>`, "schema-element"},
		"two roots":  {`<sepiList xmlns="urn:akciz:sepi:1"/><sepiList xmlns="urn:akciz:sepi:1"/>`, "input-malformed"},
		"latin1":     {`<?xml version="1.0" encoding="ISO-8859-1"?><sepiList xmlns="urn:akciz:sepi:1"/>`, "input-malformed"},
		"truncated":  {`<sepiList xmlns="urn:akciz:sepi:1" version="1.0"><person`, "input-malformed"},
		"text":       {`garbage`, "input-malformed"},
		"bad utf8":   {"<sepiList xmlns=\"urn:akciz:sepi:1\" number=\"\xff\"/>", "input-malformed"},
	} {
		t.Run(name, func(t *testing.T) {
			res := parseBytes(t, []byte(c.in), Options{})
			if res.Valid() || res.List != nil || !strings.Contains(" "+rules(res)+" ", " "+c.rule+" ") {
				t.Errorf("rules %q, want %s", rules(res), c.rule)
			}
		})
	}
}

func TestTriplicate(t *testing.T) {
	data, err := os.ReadFile("../../examples/sepi/cigarettes-production.xml")
	if err != nil {
		t.Fatal(err)
	}
	// Lines 13 and 14 become copies of line 12.
	s := strings.Replace(string(data), "038005710000412014", "038005710000412007", 1)
	s = strings.Replace(s, "038005710000412021", "038005710000412007", 1)
	res := parseBytes(t, []byte(s), Options{})
	if rules(res) != "duplicate-barcode duplicate-barcode" || res.Errors[0].Line != 13 || res.Errors[1].Line != 14 {
		t.Fatalf("errors: %s", res.Error())
	}
	for _, e := range res.Errors {
		if !strings.Contains(e.String(), "first on line 12") {
			t.Errorf("%s", e)
		}
	}
}

func TestCancel(t *testing.T) {
	var b bytes.Buffer
	if err := writeList(&b, "1", 30_000); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Parse(ctx, &b, Options{}); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

func TestHistoryOrder(t *testing.T) {
	// The exit list after the production list: the barcodes left, so entering again is fine; the
	// production list's other barcodes are still inside.
	prod := parseFile(t, "../../examples/sepi/cigarettes-production.xml", Options{})
	exit := parseFile(t, "../../examples/sepi/cigarettes-exit.xml", Options{})
	for _, order := range [][]*Result{{prod, exit}, {exit, prod}} {
		h := &Memory{}
		for _, r := range order {
			h.Add(r.List, r.SHA256)
		}
		m, found, _ := h.LastMovement(context.Background(), exit.List.Products[0].Barcodes[0])
		if !found || m.Kind != Exit || m.List != exit.Number {
			t.Errorf("last movement %+v %v", m, found)
		}
		m, found, _ = h.LastMovement(context.Background(), prod.List.Products[1].Barcodes[0])
		if !found || m.Kind != ProductionToWarehouse {
			t.Errorf("last movement %+v %v", m, found)
		}
	}
}

// FuzzParse feeds the parser anything: it must not panic, must give a list only without errors, and a
// list's counts must agree.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../examples/sepi/*.xml")
	cases, _ := filepath.Glob("testdata/cases/*/list.xml")
	for _, name := range append(files, cases...) {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<sepiList xmlns="urn:akciz:sepi:1"><product><barcode>1</barcode></product></sepiList>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse(context.Background(), bytes.NewReader(data), Options{MaxBytes: 1 << 20, MaxBarcodes: 10_000})
		if err != nil {
			t.Fatalf("error from a bytes reader: %v", err)
		}
		if (res.List != nil) != (len(res.Errors) == 0 && res.Omitted == 0) {
			t.Fatalf("list %v with %d errors", res.List != nil, len(res.Errors))
		}
		if l := res.List; l != nil {
			if l.Packages != l.Barcodes() || l.Number == "" || l.Number != res.Number || len(l.Products) == 0 {
				t.Fatalf("inconsistent list: packages %d, barcodes %d", l.Packages, l.Barcodes())
			}
		}
		for _, e := range res.Errors {
			if e.Rule == "" || e.Msg.Key == "" || e.Line < 0 || e.Col < 0 {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}
