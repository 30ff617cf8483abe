package modbusmap

import (
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
)

// The headings of the register table are the ordinance's own (чл. 35, ал. 4), in its order; ours follow.
func TestHeadingsAreTheOrdinances(t *testing.T) {
	d := build(t, "testdata/distillery-rtu.xml", i18n.BG)
	regs := d.Sections[0].Blocks[1].(*report.Table)
	var got []string
	for _, c := range regs.Columns {
		got = append(got, c.Header)
	}
	ordinance := []string{"Логически адрес", "Физически адрес", "Размер на регистъра", "Име на параметър",
		"Ограничения (допустими стойности)", "Тип на данните", "Мярка", "Ед. изменение"}
	for i, h := range ordinance {
		if got[i] != h {
			t.Errorf("column %d is %q, the ordinance says %q", i+1, got[i], h)
		}
	}
	if got[9] != "Формула за нормализация" || got[10] != "Описание" {
		t.Errorf("columns 10–11 are %q, %q", got[9], got[10])
	}
	var errs *report.Table
	for _, s := range d.Sections {
		if strings.Contains(s.Heading, "грешки (чл. 35, ал. 5)") {
			errs = s.Blocks[0].(*report.Table)
		}
	}
	if errs == nil || errs.Columns[0].Header != "Номер на бит" || errs.Columns[2].Header != "Описание" {
		t.Fatalf("no error table with the columns of чл. 35, ал. 5")
	}
}

func TestSectionsPerController(t *testing.T) {
	d := build(t, "testdata/distillery-rtu.xml", i18n.BG)
	var heads []string
	for _, s := range d.Sections {
		heads = append(heads, s.Heading+" ["+s.SheetName+"]")
	}
	want := "Контролер „rtu1“ — регистри (чл. 35, ал. 4) [rtu1 — регистри]|" +
		"Контролер „gw“ — регистри (чл. 35, ал. 4) [gw — регистри]|" +
		"Контролер „spare“ — регистри (чл. 35, ал. 4) [spare — регистри]|" +
		"Контролер „rtu1“ — грешки (чл. 35, ал. 5) [rtu1 — грешки]"
	if g := strings.Join(heads, "|"); g != want {
		t.Errorf("sections\n%s\nwant\n%s", g, want)
	}
	col := func(s, c int) []string {
		var out []string
		for _, r := range d.Sections[s].Blocks[len(d.Sections[s].Blocks)-1].(*report.Table).Rows {
			out = append(out, r[c].String())
		}
		return out
	}
	// rtu1: coil, discrete input, holding register; gw: unit 1 first, then unit 7 by address.
	if g := strings.Join(col(0, 0), " "); g != "00000 10000 40100" {
		t.Errorf("rtu1 addresses %s", g)
	}
	if g := strings.Join(col(1, 11), " "); g != "flow_ok abs_alcohol alcohol serial_no" {
		t.Errorf("gw tags %s", g)
	}
	if rows := d.Sections[2].Blocks[1].(*report.Table).Rows; len(rows) != 0 {
		t.Errorf("the spare controller has %d rows", len(rows))
	}
	if p := string(d.Sections[0].Blocks[0].(report.Paragraph)); p != "Връзка с контролера (чл. 35, ал. 3): Modbus RTU, порт /dev/ttyUSB0, 19200 бода, 8E1, Modbus ID 5, време за отговор 500 ms." {
		t.Errorf("rtu1 connection: %s", p)
	}
	// The error bits in bit order, the register named in the caption.
	e := d.Sections[3].Blocks[0].(*report.Table)
	if e.Caption != "Регистър 40100 (0x0063) — Грешки на ИКУНК (таг box_errors)" {
		t.Errorf("caption %q", e.Caption)
	}
	var bits []string
	for _, r := range e.Rows {
		bits = append(bits, r[0].String()+"/"+r[1].String()+"/"+r[3].String())
	}
	if g := strings.Join(bits, " "); g != "0/C00/аларма 7/R07/информация 15/W15/предупреждение" {
		t.Errorf("error bits %s", g)
	}
}

func TestRowCells(t *testing.T) {
	d := build(t, "testdata/distillery-rtu.xml", i18n.BG)
	rows := d.Sections[1].Blocks[1].(*report.Table).Rows
	abs := rows[1]
	want := []string{"40001", "0x0000", "4", "Безводен алкохол, натрупан", "0 <= …", "float64, DCBA", "L", "0.001",
		"натрупване: 24 h; четене: 10 min", "", "Литри абсолютен алкохол от началото на денонощието, по данни на спиртомера.\nЧете се от Modbus ID 7.",
		"abs_alcohol", "BG0000000R001002001"}
	for i, w := range want {
		if abs[i].String() != w {
			t.Errorf("abs_alcohol column %d = %q, want %q", i+1, abs[i].String(), w)
		}
	}
	if _, ok := abs[2].Number(); !ok {
		t.Error("the register size is not a number")
	}
	if _, ok := abs[7].Number(); !ok {
		t.Error("the unit of change is not a number")
	}
	if g := rows[0][5].String(); g != "bit, бит 3" {
		t.Errorf("bit of a register: %q", g)
	}
	if g := rows[2][4].String() + " | " + rows[2][9].String(); g != "… <= 100 | x / 100" {
		t.Errorf("alcohol: %q", g)
	}
	box := d.Sections[0].Blocks[1].(*report.Table).Rows[1]
	if box[12].String() != "ИКУНК 002" {
		t.Errorf("a box tag's point is %q", box[12].String())
	}
}

func TestEveryTagAndBitOnce(t *testing.T) {
	for name, path := range samples(t) {
		cfg, _ := load(t, path)
		d := build(t, path, i18n.BG)
		seen := map[string]int{}
		bits := 0
		for _, s := range d.Sections {
			for _, b := range s.Blocks {
				tb, ok := b.(*report.Table)
				if !ok {
					continue
				}
				if len(tb.Columns) == 13 {
					for _, r := range tb.Rows {
						seen[r[11].String()]++
					}
				} else {
					bits += len(tb.Rows)
				}
			}
		}
		wantBits := 0
		for _, r := range cfg.Tags() {
			if seen[r.Tag.Name] != 1 {
				t.Errorf("%s: tag %s is in the map %d times", name, r.Tag.Name, seen[r.Tag.Name])
			}
			wantBits += len(r.Tag.ErrorBits)
		}
		if len(seen) != len(cfg.Tags()) || bits != wantBits {
			t.Errorf("%s: %d tags and %d error bits in the map, the file has %d and %d", name, len(seen), bits, len(cfg.Tags()), wantBits)
		}
	}
}

func TestEnglish(t *testing.T) {
	d := build(t, "testdata/distillery-rtu.xml", i18n.EN)
	if d.Title != "Modbus map of the excise monitoring system (СКИУ)" || d.Lang != i18n.EN {
		t.Errorf("title %q, lang %q", d.Title, d.Lang)
	}
	regs := d.Sections[1].Blocks[1].(*report.Table)
	if regs.Columns[0].Header != "Logical address" || regs.Rows[1][8].String() != "accumulates over: 24 h; read every: 10 min" {
		t.Errorf("English: %q, %q", regs.Columns[0].Header, regs.Rows[1][8].String())
	}
	if m := d.Meta[len(d.Meta)-1]; m.Value != "2026-11-22 10:30:00 +02:00" {
		t.Errorf("generated at %q", m.Value)
	}
}

func TestMeta(t *testing.T) {
	d := build(t, "testdata/distillery-rtu.xml", i18n.BG)
	got := map[string]string{}
	for _, m := range d.Meta {
		got[m.Label] = m.Value
	}
	for label, want := range map[string]string{
		"Задължено лице":    "Винпром „Черноморец“ ЕООД",
		"Регистрирано лице": "BG0000000R001",
		"ИКУНК №":           "002",
		"Изготвена на":      "22.11.2026 10:30:00 +02:00",
	} {
		if got[label] != want {
			t.Errorf("%s: %q, want %q", label, got[label], want)
		}
	}
	if _, ok := got["Данъчен склад"]; ok {
		t.Error("a registered person's site has no tax warehouse line")
	}
	if _, ok := got["Акцизен номер"]; ok {
		t.Error("an empty excise number is printed")
	}
	if len(got["SHA-256 на файла"]) != 64 || len(got["MD5 на файла"]) != 32 {
		t.Errorf("hashes %q %q", got["SHA-256 на файла"], got["MD5 на файла"])
	}
	if !d.Created.Equal(generated) {
		t.Errorf("Created %v", d.Created)
	}
}

func TestHashes(t *testing.T) {
	sha, md := Hashes([]byte("abc"))
	if sha != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || md != "900150983cd24fb0d6963f7d28e17f72" {
		t.Errorf("Hashes(abc) = %s, %s", sha, md)
	}
}

func TestLimitsAndDurations(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		lo, hi *float64
		dec    string
		want   string
	}{
		{f(0.0001), f(10000), ",", "0,0001 <= … <= 10000"},
		{f(-30), f(60.5), ".", "-30 <= … <= 60.5"},
		{f(0), nil, ",", "0 <= …"},
		{nil, f(4294967295), ",", "… <= 4294967295"},
		{nil, nil, ",", ""},
	} {
		if g := limits(c.lo, c.hi, c.dec); g != c.want {
			t.Errorf("limits = %q, want %q", g, c.want)
		}
	}
	for d, want := range map[time.Duration]string{
		time.Hour: "1 h", 24 * time.Hour: "24 h", 10 * time.Minute: "10 min", 90 * time.Second: "90 s",
		20 * time.Millisecond: "20 ms", 1500 * time.Microsecond: "1.5ms",
	} {
		if g := formatDuration(d); g != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, g, want)
		}
	}
	if g := formatTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), i18n.BG); g != "02.01.2026 03:04:05 UTC" {
		t.Errorf("formatTime = %q", g)
	}
}
