package sepi

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// writeList writes a valid cigarettes list of n barcodes (SSCC-18 with correct check digits) in
// products of up to 100,000 barcodes each, one brand.
func writeList(w io.Writer, number string, n int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<sepiList xmlns="urn:akciz:sepi:1" version="1.0" number="%s" goods="cigarettes" currency="EUR" packages="%d">
  <person name="Пирин Табако АД" eik="101003527" exciseNumber="BGNBL0000300A"/>
  <controlPoint id="BGNBL00003004001010" type="production-to-warehouse"/>
  <period start="2026-11-20T06:00:00+02:00" end="2026-11-21T05:59:59+02:00"/>
`, number, n)
	const perProduct = 100_000
	line := []byte("    <barcode>000000000000000000</barcode>\n")
	for i := 0; i < n; i += perProduct {
		fmt.Fprintf(bw, `  <product document="ПП-2026-004512" cn="2402 20 90" brand="Рила" assortment="King Size, партида %d" piecesPerPack="20" cigaretteLength="62" retailPrice="3.90" destination="release-for-consumption" origin="BG" manufacturer="Пирин Табако АД" packsPerPackage="500" productionDate="2026-11-20" brandPackages="%d">
`, i/perProduct+1, n)
		for j := i; j < n && j < i+perProduct; j++ {
			copy(line[13:31], sscc(380057100000000+uint64(j)))
			bw.Write(line)
		}
		bw.WriteString("  </product>\n")
	}
	bw.WriteString("</sepiList>\n")
	return bw.Flush()
}

// sscc gives the 18 digits of an SSCC whose first 17 digits are body, with its GS1 check digit.
func sscc(body uint64) []byte {
	b := []byte(strconv.FormatUint(body, 10))
	for len(b) < 17 {
		b = append([]byte{'0'}, b...)
	}
	sum := 0
	for i, c := range b {
		if i%2 == 0 {
			sum += 3 * int(c-'0')
		} else {
			sum += int(c - '0')
		}
	}
	return append(b, byte('0'+(10-sum%10)%10))
}
