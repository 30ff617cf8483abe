package report

import (
	"fmt"
	"iter"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// sampleDoc is a small document with Cyrillic, numbers, a long wrapped text, a streamed table and texts
// that need escaping.
func sampleDoc(streamRows int) *Document {
	regs := &Table{
		Caption: "Контролер PLC-1, Modbus ID 1",
		Columns: []Column{
			{Header: "Логически адрес", Width: 9},
			{Header: "Физически адрес", Width: 9},
			{Header: "Размер на регистъра", Align: AlignRight, Width: 9},
			{Header: "Име на параметър"},
			{Header: "Ограничения (допустими стойности)"},
			{Header: "Тип на данните", Width: 8},
			{Header: "Мярка", Width: 6},
			{Header: "Ед. изменение", Width: 9},
			{Header: "Формула за нормализация"},
			{Header: "Описание", Width: 40},
		},
		Rows: [][]Cell{
			{Text("40001"), Text("0x0000"), Int(2), Text("bSafe_ref"), Text("0,0001 <= … <= 10000"), Text("float32"), Text("m³"), Float(0.001, 3), Text("x / 1000"), Text("Общ обем при 15 °C на разходомер FT-101; натрупване, чете се на всеки 10 s.")},
			{Text("40003"), Text("0x0002"), Int(1), Text("<script>alert(1)</script>"), Text("-10 <= … <= 10"), Text("int16"), Text("°C"), Float(0.1, 1), Text("=HYPERLINK(\"http://x\")"), Text("Температура & плътност \"в кавички\"\nвтори ред")},
		},
	}
	if streamRows > 0 {
		regs.Source = func(yield func([]Cell, error) bool) {
			for i := range streamRows {
				addr := 40005 + 2*i
				row := []Cell{Text(fmt.Sprintf("%05d", addr)), Text(fmt.Sprintf("0x%04X", addr-40001)), Int(2), Text(fmt.Sprintf("FT%03d_Total", i)), Text("0 <= … <= 99999999"), Text("uint32"), Text("kg"), Int(1), Text(""), Text("Ред номер " + fmt.Sprint(i) + " от поточния източник")}
				if !yield(row, nil) {
					return
				}
			}
		}
	}
	bits := &Table{
		Columns: []Column{{Header: "Номер на бит", Align: AlignRight, Width: 10}, {Header: "Описание", Width: 60}},
		Rows: [][]Cell{
			{Int(0), Text("Грешка в сензора")},
			{Int(1), Text("Преливане на брояча")},
		},
	}
	return &Document{
		Title:    "Modbus карта — Склад „Бургас“",
		Subtitle: "Таблици по чл. 35, ал. 4 и 5 от Наредба № Н-7",
		Meta: []Field{
			{"Задължено лице", "„Петрол“ АД, ЕИК 123456789"},
			{"Файл", "automation_config.xml"},
			{"SHA-256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		},
		Sections: []*Section{
			{Heading: "PLC-1: регистри", Blocks: []Block{Paragraph("Регистрите се четат с функция 03."), regs}},
			{Heading: "PLC-1: грешки [бит/описание]", Blocks: []Block{bits, Paragraph("Битовете извън таблицата са резервирани.")}},
			{Heading: "Празна", Blocks: []Block{&Table{Columns: []Column{{Header: "А"}, {Header: "Б"}}}}},
		},
		Lang:    i18n.BG,
		Created: time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC),
	}
}

// failing is a row source that fails after n rows.
func failing(n int, err error) iter.Seq2[[]Cell, error] {
	return func(yield func([]Cell, error) bool) {
		for i := range n {
			if !yield([]Cell{Int(int64(i))}, nil) {
				return
			}
		}
		yield(nil, err)
	}
}
