package report

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/akciz/akciz/internal/i18n"
)

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func all(n *html.Node, a atom.Atom) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == a {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, sampleDoc(250)); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if h := all(doc, atom.Html); attr(h[0], "lang") != "bg" {
		t.Errorf("lang = %q", attr(h[0], "lang"))
	}
	if s := all(doc, atom.Script); len(s) != 0 {
		t.Errorf("a cell's text became a <script> element")
	}
	for _, a := range []atom.Atom{atom.Link, atom.Img, atom.Iframe} {
		if len(all(doc, a)) != 0 {
			t.Errorf("the page is not self-contained: it has a <%s>", a)
		}
	}
	if got := text(all(doc, atom.H1)[0]); got != "Modbus карта — Склад „Бургас“" {
		t.Errorf("h1 = %q", got)
	}
	var h2 []string
	for _, n := range all(doc, atom.H2) {
		h2 = append(h2, text(n))
	}
	if strings.Join(h2, "|") != "PLC-1: регистри|PLC-1: грешки [бит/описание]|Празна" {
		t.Errorf("headings %q", h2)
	}
	tables := all(doc, atom.Table)
	var data []*html.Node
	for _, tb := range tables {
		if attr(tb, "class") == "data" {
			data = append(data, tb)
		}
	}
	if len(data) != 3 {
		t.Fatalf("%d data tables, want 3", len(data))
	}
	ths := all(data[0], atom.Th)
	if len(ths) != 10 || text(ths[4]) != "Ограничения (допустими стойности)" {
		t.Errorf("header cells: %d, the fifth %q", len(ths), text(ths[4]))
	}
	rows := all(all(data[0], atom.Tbody)[0], atom.Tr)
	if len(rows) != 252 {
		t.Fatalf("%d body rows, want 252", len(rows))
	}
	tds := all(rows[1], atom.Td)
	if text(tds[3]) != "<script>alert(1)</script>" || text(tds[9]) != "Температура & плътност \"в кавички\"\nвтори ред" {
		t.Errorf("row 2: %q, %q", text(tds[3]), text(tds[9]))
	}
	if text(tds[7]) != "0,1" || attr(tds[7], "class") != "r" || attr(tds[3], "class") != "" {
		t.Errorf("numbers: %q class %q; want 0,1 on the right", text(tds[7]), attr(tds[7], "class"))
	}
	if got := text(all(rows[251], atom.Td)[3]); got != "FT249_Total" {
		t.Errorf("last row: %q", got)
	}
	if got := text(all(data[2], atom.Td)[0]); got != "Няма записи." {
		t.Errorf("empty table says %q", got)
	}
	style := text(all(doc, atom.Style)[0])
	for _, want := range []string{"size: A4 landscape", "display: table-header-group", `"Страница " counter(page) " от " counter(pages)`} {
		if !strings.Contains(style, want) {
			t.Errorf("style sheet lacks %q", want)
		}
	}
}

func TestHTMLEnglish(t *testing.T) {
	d := sampleDoc(0)
	d.Lang = i18n.EN
	var b bytes.Buffer
	if err := HTML(&b, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<html lang="en">`, `>0.1</td>`, `"Page " counter(page) " of " counter(pages)`, "No rows."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the English page lacks %q", want)
		}
	}
}

func TestCSSString(t *testing.T) {
	if got := cssString(`a"</style>\ б`); got != `"a\22 \3c \2f style\3e \5c  б"` {
		t.Errorf("cssString = %s", got)
	}
}
