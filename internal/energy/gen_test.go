package energy

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// benchEIKs are valid EIKs for generated business rows.
var benchEIKs = []string{"131074754", "831055885", "401001237", "204567893", "112233440", "5550001290007"}

// generate writes a valid electricity table of about size bytes to w (which must be at offset 0 and an
// io.WriterAt, as the declared totals are written last into a fixed-width header) and returns its rows.
func generate(w interface {
	io.Writer
	io.WriterAt
}, size int64) (rows int64, err error) {
	const totalWidth = 22 // digits of a zero-padded declared total
	header := func(t Totals) string {
		f := func(q Quantity) string {
			s := q.Format(Electricity, '.')
			for len(s) < totalWidth {
				s = "0" + s
			}
			return s
		}
		return "format;" + FormatID + "\ndeclarant_name;Бенчмарк Енерджи ЕАД\ndeclarant_eik;201123456\nexcise_number;BGNCA00001E01\n" +
			"product;electricity\nquarter;2026-Q3\ntotal;" + f(t.All) + "\ntotal_household;" + f(t.Household) +
			"\ntotal_business;" + f(t.Business) + "\ntotal_self_consumption;" + f(t.SelfConsumption) +
			"\nmeter_id;consumer_type;consumer_eik;quantity;unit;address;tariff\n"
	}
	var t Totals
	head := header(t)
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(head); err != nil {
		return 0, err
	}
	n := int64(len(head))
	line := make([]byte, 0, 256)
	for i := int64(0); ; i++ {
		line = line[:0]
		line = append(line, "32Z14"...)
		line = strconv.AppendInt(line, 10_000_000_000+i, 10)
		q := Quantity((i*7919)%2_000_000 + 1) // Wh, written as kWh with 3 decimals
		var dst *Quantity
		switch {
		case i%1000 == 999:
			line = append(line, ";self-consumption;;"...)
			dst = &t.SelfConsumption
		case i%5 == 0:
			line = append(line, ";business;"...)
			line = append(line, benchEIKs[i%int64(len(benchEIKs))]...)
			line = append(line, ';')
			dst = &t.Business
		default:
			line = append(line, ";household;;"...)
			dst = &t.Household
		}
		line = strconv.AppendInt(line, int64(q)/1000, 10)
		line = append(line, ',')
		line = append(line, fmt.Sprintf("%03d", int64(q)%1000)...)
		line = append(line, ";kWh;\"гр. София, ж.к. Младост 1, бл. "...)
		line = strconv.AppendInt(line, i%500+1, 10)
		line = append(line, ", ап. "...)
		line = strconv.AppendInt(line, i%120+1, 10)
		line = append(line, "\";"...)
		if i%2 == 0 {
			line = append(line, "day"...)
		} else {
			line = append(line, "night"...)
		}
		line = append(line, '\n')
		if n+int64(len(line)) > size {
			break
		}
		if _, err := bw.Write(line); err != nil {
			return rows, err
		}
		n += int64(len(line))
		rows++
		*dst += q
		t.All += q
	}
	if err := bw.Flush(); err != nil {
		return rows, err
	}
	if h := header(t); len(h) != len(head) {
		return rows, fmt.Errorf("generate: header grew from %d to %d bytes", len(head), len(h))
	} else if _, err := w.WriteAt([]byte(h), 0); err != nil {
		return rows, err
	}
	return rows, nil
}
