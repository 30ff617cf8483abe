package report

import (
	"errors"
	"strings"
	"testing"
)

func TestTextCleansWhatNoFormatCarries(t *testing.T) {
	for in, want := range map[string]string{
		"Обем\tm³\nред": "Обем\tm³\nред",
		"a\x00b":        "a\uFFFDb",
		"a\r\nb":        "a\nb",
		"bad\xffutf8":   "bad\uFFFDutf8",
		"\x1b[31mred":   "\uFFFD[31mred",
	} {
		if got := Text(in).String(); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNumberCells(t *testing.T) {
	if v, ok := Int(-42).Number(); !ok || v != -42 {
		t.Errorf("Int(-42).Number() = %v, %v", v, ok)
	}
	c := Float(0.0001, 4)
	if c.String() != "0.0001" || c.format(',') != "0,0001" || c.format('.') != "0.0001" {
		t.Errorf("Float(0.0001, 4): %q, %q", c.String(), c.format(','))
	}
	if Int(1500).format(',') != "1500" {
		t.Errorf("an integer has no decimal separator")
	}
	if _, ok := Text("1").Number(); ok {
		t.Errorf("a text is not a number")
	}
	if Float(2.5, -1).String() != "2.5" {
		t.Errorf("Float(2.5, -1) = %q", Float(2.5, -1).String())
	}
}

func TestCursorReadsRowsThenSourceOnce(t *testing.T) {
	tb := &Table{
		Columns: []Column{{Header: "a"}, {Header: "b"}},
		Rows:    [][]Cell{{Int(1)}, {Int(2), Int(3)}},
		Source:  failing(3, nil),
	}
	// failing(3, nil) yields 3 rows and then (nil, nil): a nil row, padded.
	c := open(tb, 2)
	defer c.Close()
	if s := c.sample(10); len(s) != 2 {
		t.Errorf("sample of 2 asked rows ahead has %d rows", len(s))
	}
	var got []string
	for r, ok := c.Next(); ok; r, ok = c.Next() {
		if len(r) != 2 {
			t.Fatalf("row %d has %d cells, want 2 (padded)", len(got)+1, len(r))
		}
		got = append(got, r[0].String()+"|"+r[1].String())
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	want := "1|,2|3,0|,1|,2|,|"
	if g := strings.Join(got, ","); g != want {
		t.Errorf("rows %s, want %s", g, want)
	}
}

func TestCursorSampleBeyondRows(t *testing.T) {
	tb := &Table{Columns: []Column{{Header: "a"}}, Rows: [][]Cell{{Int(1)}}, Source: failing(5, errors.New("late"))}
	c := open(tb, 4)
	defer c.Close()
	s := c.sample(4)
	if len(s) != 4 || s[0][0].String() != "1" || s[3][0].String() != "2" {
		t.Fatalf("sample = %v", s)
	}
	n := 0
	for _, ok := c.Next(); ok; _, ok = c.Next() {
		n++
	}
	if n != 6 || c.Err() == nil || c.Err().Error() != "late" {
		t.Errorf("read %d rows, err %v; want 6 rows and the source's error", n, c.Err())
	}
}

func TestCursorErrorInSampleKeepsEarlierRows(t *testing.T) {
	tb := &Table{Columns: []Column{{Header: "a"}}, Source: failing(2, errors.New("boom"))}
	c := open(tb, 10)
	defer c.Close()
	n := 0
	for _, ok := c.Next(); ok; _, ok = c.Next() {
		n++
	}
	if n != 2 || c.Err() == nil {
		t.Errorf("read %d rows, err %v; want 2 rows, then the error", n, c.Err())
	}
}

func TestRowWiderThanHeaderIsAnError(t *testing.T) {
	d := &Document{Title: "t", Sections: []*Section{{Heading: "s", Blocks: []Block{
		&Table{Caption: "регистри", Columns: []Column{{Header: "a"}}, Rows: [][]Cell{{Int(1)}, {Int(1), Int(2)}}},
	}}}}
	for name, render := range renderers {
		err := render(&strings.Builder{}, d)
		if err == nil || !strings.Contains(err.Error(), `table "регистри": row 2 has 2 cells for 1 columns`) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestSourceErrorStopsEveryRenderer(t *testing.T) {
	boom := errors.New("база данни: връзката прекъсна")
	d := &Document{Title: "t", Sections: []*Section{{Heading: "s", Blocks: []Block{
		&Table{Columns: []Column{{Header: "a"}}, Source: failing(300, boom)},
	}}}}
	for name, render := range renderers {
		if err := render(&strings.Builder{}, d); !errors.Is(err, boom) {
			t.Errorf("%s: err = %v, want the source's error", name, err)
		}
	}
}

func TestWidths(t *testing.T) {
	cols := []Column{{Header: "Логически адрес"}, {Header: "x", Width: 30}, {Header: "Описание"}}
	w := widths(cols, [][]Cell{{Text("1"), Text(""), Text(strings.Repeat("д", 100))}})
	if w[0] != 9 || w[1] != 30 || w[2] != 48 {
		t.Errorf("widths = %v, want [9 30 48]", w)
	}
}
