package config

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/i18n"
)

// Limits on hostile input. A real automation_config.xml has a depth of 5 and a few thousand elements; the
// limits are far above that and far below what could exhaust the industrial computer's 1 GB.
const (
	MaxDepth       = 16
	MaxElements    = 200_000
	MaxAttributes  = 64       // per element
	MaxValueLength = 4 << 10  // bytes of one attribute value
	MaxTextLength  = 16 << 10 // bytes of the text of one element
)

// node is one element of the file, before it is given meaning: the parser first builds this tree under
// the limits above, then reads the model out of it, reporting every schema error it meets.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
	pos      Pos
}

// attr returns the value of the attribute local (no namespace) and whether it is present.
func (n *node) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// errInput is a failure to read the file as XML at all; the tree is then unusable.
type errInput struct {
	pos  Pos
	rule string
	msg  i18n.Message
}

func (e *errInput) Error() string { return e.rule }

// buildTree reads data into a tree of nodes, refusing hostile or malformed input.
func buildTree(data []byte) (*node, *errInput) {
	if len(data) > MaxFileSize {
		return nil, &errInput{Pos{1, 1}, "input-too-large", i18n.M("config.input.too_large", MaxFileSize>>20)}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &errInput{posAt(data, off), "input-encoding", i18n.M("config.input.not_utf8")}
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, errNotUTF8
	}
	var (
		root   *node
		stack  []*node
		count  int
		before Pos
	)
	for {
		l, c := d.InputPos()
		before = Pos{l, c}
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errNotUTF8) {
				return nil, &errInput{before, "input-encoding", i18n.M("config.input.not_utf8")}
			}
			var se *xml.SyntaxError
			text := err.Error()
			pos := before
			if errors.As(err, &se) {
				text = se.Msg
				l, c := d.InputPos()
				pos = Pos{se.Line, c}
				if se.Line != l {
					pos = Pos{se.Line, 1}
				}
			}
			return nil, &errInput{pos, "schema-malformed", i18n.M("config.input.malformed", text)}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > MaxElements {
				return nil, &errInput{before, "input-too-many-elements", i18n.M("config.input.too_many_elements", MaxElements)}
			}
			if len(stack) >= MaxDepth {
				return nil, &errInput{before, "input-too-deep", i18n.M("config.input.too_deep", MaxDepth)}
			}
			if len(t.Attr) > MaxAttributes {
				return nil, &errInput{before, "input-too-long", i18n.M("config.input.too_many_attributes", MaxAttributes)}
			}
			for i, a := range t.Attr {
				for _, b := range t.Attr[:i] {
					if a.Name == b.Name {
						// encoding/xml accepts a repeated attribute, which XML forbids.
						return nil, &errInput{before, "schema-malformed", i18n.M("config.input.repeated_attribute", a.Name.Local)}
					}
				}
				if len(a.Value) > MaxValueLength {
					return nil, &errInput{before, "input-too-long", i18n.M("config.input.value_too_long", a.Name.Local, MaxValueLength)}
				}
			}
			n := &node{name: t.Name, attrs: t.Copy().Attr, pos: before}
			if len(stack) == 0 {
				if root != nil {
					return nil, &errInput{before, "schema-malformed", i18n.M("config.input.two_roots")}
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue // whitespace around the root; the decoder refuses anything else there
			}
			n := stack[len(stack)-1]
			if n.text.Len()+len(t) > MaxTextLength {
				return nil, &errInput{before, "input-too-long", i18n.M("config.input.text_too_long", n.name.Local, MaxTextLength)}
			}
			n.text.Write(t)
		case xml.Directive:
			// DOCTYPE and ENTITY declarations: refused outright, so that no entity can expand
			// (billion laughs) and no external resource is named.
			return nil, &errInput{before, "input-doctype", i18n.M("config.input.doctype")}
		case xml.ProcInst:
			if t.Target == "xml" {
				if enc := procInstAttr(string(t.Inst), "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") {
					return nil, &errInput{before, "input-encoding", i18n.M("config.input.not_utf8")}
				}
			}
		case xml.Comment:
		}
	}
	if root == nil {
		return nil, &errInput{Pos{1, 1}, "schema-malformed", i18n.M("config.input.no_root")}
	}
	return root, nil
}

var errNotUTF8 = errors.New("config: only UTF-8 is accepted")

// procInstAttr finds a pseudo-attribute of the XML declaration.
func procInstAttr(s, name string) string {
	i := strings.Index(s, name+"=")
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+1:]
	if len(s) == 0 || (s[0] != '"' && s[0] != '\'') {
		return ""
	}
	q := s[0]
	s = s[1:]
	j := strings.IndexByte(s, q)
	if j < 0 {
		return ""
	}
	return s[:j]
}

// posAt gives the line and byte column of offset off in data.
func posAt(data []byte, off int) Pos {
	line, start := 1, 0
	for i := 0; i < off && i < len(data); i++ {
		if data[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return Pos{line, off - start + 1}
}
