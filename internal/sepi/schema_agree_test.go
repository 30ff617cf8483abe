package sepi

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaMutations: xmllint with the XSD and our validator agree, change by change to a valid sample,
// on what breaks the schema (both refuse; ours with a schema-* or input-* rule and a place) and on what
// does not (both accept).
func TestSchemaMutations(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found: install the Debian package libxml2-utils")
	}
	base, err := os.ReadFile("../../examples/sepi/cigars-entry.xml")
	if err != nil {
		t.Fatal(err)
	}
	const bc = "<barcode>040004170008801007</barcode>"
	cases := []struct {
		name     string
		old, new string
		valid    bool
	}{
		{"barcode-short", bc, "<barcode>04000417000880100</barcode>", false},
		{"barcode-letter", bc, "<barcode>04000417000880100X</barcode>", false},
		{"barcode-empty", bc, "<barcode/>", false},
		{"barcode-child", bc, "<barcode>040004170008801007<x/></barcode>", false},
		{"barcode-attribute", bc, `<barcode id="1">040004170008801007</barcode>`, false},
		{"unknown-attribute", `exciseNumber="BGNBL0000300A"/>`, `exciseNumber="BGNBL0000300A" extra="1"/>`, false},
		{"missing-attribute", ` brand="Dannemann"`, "", false},
		{"bad-enum", `type="entry"`, `type="entrance"`, false},
		{"bad-destination", `destination="release-for-consumption"`, `destination="elsewhere"`, false},
		{"order", `  <person name="Пирин Табако АД" eik="101003527" exciseNumber="BGNBL0000300A"/>
  <controlPoint id="BGNBL00003004001012" type="entry"/>`, `  <controlPoint id="BGNBL00003004001012" type="entry"/>
  <person name="Пирин Табако АД" eik="101003527" exciseNumber="BGNBL0000300A"/>`, false},
		{"missing-person", `  <person name="Пирин Табако АД" eik="101003527" exciseNumber="BGNBL0000300A"/>`, "", false},
		{"second-period", `  <document arc`, `  <period start="2026-11-19T14:05:00+02:00" end="2026-11-19T14:31:10+02:00"/>
  <document arc`, false},
		{"bad-date", `productionDate="2026-10-14"`, `productionDate="2026-13-14"`, false},
		{"bad-day", `productionDate="2026-10-14"`, `productionDate="2026-02-30"`, false},
		{"bad-time", `start="2026-11-19T14:05:00+02:00"`, `start="2026-11-19T25:05:00+02:00"`, false},
		{"time-without-zone", `end="2026-11-19T14:31:10+02:00"`, `end="2026-11-19T14:31:10"`, false},
		{"version", `version="1.0"`, `version="2.0"`, false},
		{"number-letter", `number="2026111900042"`, `number="20261119A0042"`, false},
		{"number-long", `number="2026111900042"`, `number="202611190004220261119"`, false},
		{"currency", `currency="EUR"`, `currency="BGN"`, false},
		{"packages-zero", `packages="5"`, `packages="0"`, false},
		{"packages-sign", `packages="5"`, `packages="+5"`, false},
		{"text-in-product", `brandPackages="5">`, `brandPackages="5">junk`, false},
		{"unknown-element", `  <document arc`, `  <extra/>
  <document arc`, false},
		{"foreign-element", `  <document arc`, `  <x:extra xmlns:x="urn:other"/>
  <document arc`, false},
		{"excise-lower", `exciseNumber="BGNBL0000300A"`, `exciseNumber="bgNBL0000300A"`, false},
		{"eik-short", `eik="101003527"`, `eik="10100352"`, false},
		{"cn-short", `cn="2402 10 00"`, `cn="2402100"`, false},
		{"price-precision", `retailPrice="6.80"`, `retailPrice="6.801"`, false},
		{"origin-lower", `origin="DE"`, `origin="de"`, false},
		{"name-empty", `brand="Dannemann"`, `brand="  "`, false},
		{"arc-short", `<document arc="26DEH6T7K9QW2MZ3XA4P1"/>`, `<document arc="26DEH6T7K9QW2MZ3XA4P"/>`, false},
		{"root-namespace", `xmlns="urn:akciz:sepi:1"`, `xmlns="urn:akciz:sepi:2"`, false},
		{"no-barcodes", "", "", false}, // every <barcode> removed below

		{"barcode-spaces", bc, "<barcode>\n      040004170008801007\n    </barcode>", true},
		{"barcode-cdata", bc, "<barcode><![CDATA[040004170008801007]]></barcode>", true},
		{"comment", `brandPackages="5">`, `brandPackages="5"><!-- a comment -->`, true},
		{"schema-location", `xmlns="urn:akciz:sepi:1"`, `xmlns="urn:akciz:sepi:1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:akciz:sepi:1 sepi-1.0.xsd"`, true},
		{"name-spaces", `brand="Dannemann"`, `brand="  Dannemann   Cigars "`, true},
		{"cn-compact", `cn="2402 10 00"`, `cn="24021000"`, true},
		{"price-integer", `retailPrice="6.80"`, `retailPrice="7"`, true},
		{"time-utc", `end="2026-11-19T14:31:10+02:00"`, `end="2026-11-19T12:31:10Z"`, true},
		{"time-fraction", `end="2026-11-19T14:31:10+02:00"`, `end="2026-11-19T14:31:10.5+02:00"`, true},
		{"single-quotes", `currency="EUR"`, `currency='EUR'`, true},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var data []byte
			switch {
			case c.name == "no-barcodes":
				var keep [][]byte
				for _, l := range bytes.Split(base, []byte("\n")) {
					if !bytes.Contains(l, []byte("<barcode>")) {
						keep = append(keep, l)
					}
				}
				data = bytes.Join(keep, []byte("\n"))
			case !bytes.Contains(base, []byte(c.old)):
				t.Fatalf("the sample has no %q", c.old)
			default:
				data = bytes.Replace(base, []byte(c.old), []byte(c.new), 1)
			}
			f := filepath.Join(dir, c.name+".xml")
			if err := os.WriteFile(f, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", "../../schemas/sepi-1.0.xsd", f).CombinedOutput()
			lintOK := err == nil
			res, perr := Parse(t.Context(), bytes.NewReader(data), Options{})
			if perr != nil {
				t.Fatal(perr)
			}
			// Ours may refuse a schema-valid variant only for a rule beyond the schema.
			schemaErr := false
			for _, e := range res.Errors {
				if strings.HasPrefix(e.Rule, "schema-") || strings.HasPrefix(e.Rule, "input-") {
					schemaErr = true
					if e.Line == 0 {
						t.Errorf("error without a place: %s", e)
					}
				}
			}
			switch {
			case lintOK != c.valid:
				t.Errorf("xmllint: valid %v, want %v\n%s", lintOK, c.valid, out)
			case schemaErr == c.valid:
				t.Errorf("ours: schema errors %v, want %v: %v", schemaErr, !c.valid, res.Errors)
			}
		})
	}
}
