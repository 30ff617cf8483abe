package config

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// Marshal writes c in the canonical form of the format: elements and attributes in the schema's order,
// optional attributes left out when they hold their default, physical addresses in hexadecimal, two
// spaces of indentation. Reading the result gives back an equal model, and writing that gives the same
// bytes.
func Marshal(c *Config) []byte {
	var b bytes.Buffer
	_ = Write(&b, c) // a bytes.Buffer does not fail
	return b.Bytes()
}

// Write writes c to w in the canonical form of Marshal.
func Write(w io.Writer, c *Config) error {
	x := &xw{w: bufio.NewWriter(w)}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	v := c.Version
	if v == "" {
		v = Version
	}
	x.open(0, "automationConfig", false, "xmlns", Namespace, "version", v)
	x.open(1, "person", true, "name", c.Person.Name, "eik", c.Person.EIK, "exciseNumber", c.Person.ExciseNumber)
	s := c.Site
	x.open(1, "site", true, "warehouse", s.Warehouse, "registeredPerson", s.RegisteredPerson, "name", s.Name,
		"address", s.Address, "customsOffice", s.CustomsOffice)
	for _, k := range c.Controllers {
		x.controller(k)
	}
	b := c.Box
	x.open(1, "box", len(b.Tags) == 0, "number", fmt.Sprintf("%03d", b.Number), "computerSerial", b.ComputerSerial,
		"controllerSerial", b.ControllerSerial, "upsSerial", b.UPSSerial)
	for _, t := range b.Tags {
		x.tag(2, t)
	}
	if len(b.Tags) > 0 {
		x.close(1, "box")
	}
	for _, p := range c.Points {
		x.point(p)
	}
	x.close(0, "automationConfig")
	return x.w.Flush()
}

type xw struct {
	w *bufio.Writer
}

func (x *xw) raw(s string) { x.w.WriteString(s) }

func (x *xw) indent(depth int) { x.raw(strings.Repeat("  ", depth)) }

// open writes a start tag with the attributes given as name, value pairs; empty values are left out.
// empty closes the element at once.
func (x *xw) open(depth int, name string, empty bool, attrs ...string) {
	x.indent(depth)
	x.raw("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		x.raw(" " + attrs[i] + `="`)
		xml.EscapeText(x.w, []byte(attrs[i+1]))
		x.raw(`"`)
	}
	if empty {
		x.raw("/>\n")
	} else {
		x.raw(">\n")
	}
}

func (x *xw) close(depth int, name string) {
	x.indent(depth)
	x.raw("</" + name + ">\n")
}

// leaf writes an element with text content.
func (x *xw) leaf(depth int, name, text string, attrs ...string) {
	x.indent(depth)
	x.raw("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		x.raw(" " + attrs[i] + `="`)
		xml.EscapeText(x.w, []byte(attrs[i+1]))
		x.raw(`"`)
	}
	x.raw(">")
	xml.EscapeText(x.w, []byte(text))
	x.raw("</" + name + ">\n")
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return fmtDur(d)
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func (x *xw) controller(k *Controller) {
	q := k.Quirks
	hasQuirks := q != (Quirks{Pos: q.Pos})
	inner := k.Serial != nil || hasQuirks
	x.open(1, "controller", !inner, "id", k.ID, "transport", string(k.Transport), "address", k.Address,
		"unitId", strconv.Itoa(k.Unit), "timeout", dur(k.Timeout), "connectTimeout", dur(k.ConnectTimeout))
	if s := k.Serial; s != nil {
		x.open(2, "serial", true, "device", s.Device, "baud", itoa0(s.Baud), "dataBits", itoa0(s.DataBits),
			"parity", s.Parity, "stopBits", itoa0(s.StopBits))
	}
	if hasQuirks {
		x.open(2, "quirks", true, "oneRequestPerTag", boolStr(q.OneRequestPerTag), "maxRegisters", itoa0(q.MaxRegisters),
			"maxCoils", itoa0(q.MaxCoils), "maxGap", itoa0(q.MaxGap), "requestPause", dur(q.RequestPause),
			"connectPause", dur(q.ConnectPause), "coilsFromZero", boolStr(q.CoilsFromZero),
			"stringPlacement", string(q.StringPlacement))
	}
	if inner {
		x.close(1, "controller")
	}
}

func (x *xw) point(p *Point) {
	x.open(1, "point", false, "id", p.ID, "name", p.Name, "zone", p.Zone, "class", string(p.Class),
		"mode", string(p.Mode), "direction", string(p.Direction), "interval", dur(p.Interval))
	if len(p.Products) > 0 || len(p.ProductMap) > 0 {
		x.open(2, "products", false)
		for _, r := range p.Products {
			x.open(3, "product", true, "code", r.Code, "tradeName", r.TradeName, "cn", r.CN, "exciseCode", r.ExciseCode,
				"brand", r.Brand, "direction", string(r.Direction))
		}
		for _, m := range p.ProductMap {
			x.open(3, "map", true, "raw", strconv.FormatInt(m.Raw, 10), "product", m.Product)
		}
		x.close(2, "products")
	}
	for _, t := range p.Tags {
		x.tag(2, t)
	}
	x.close(1, "point")
}

func i64ptr(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

func fptr(f *float64) string {
	if f == nil {
		return ""
	}
	return fnum(*f)
}

func (x *xw) tag(d int, t *Tag) {
	unit := ""
	if t.UnitID != nil {
		unit = strconv.Itoa(*t.UnitID)
	}
	bit := ""
	if t.BitSet {
		bit = strconv.Itoa(t.Bit)
	}
	res := ""
	if t.Resolution != 0 {
		res = fnum(t.Resolution)
	}
	role := string(t.Role)
	if t.Role == core.RoleValue {
		role = ""
	}
	x.open(d, "tag", false, "name", t.Name, "controller", t.Controller, "unitId", unit, "logical", t.Logical,
		"physical", fmt.Sprintf("0x%04X", t.Physical), "size", strconv.Itoa(t.Size), "type", string(t.Type),
		"order", string(t.Order), "bit", bit, "unit", t.Unit, "resolution", res, "low", fptr(t.Low), "high", fptr(t.High),
		"accumulation", dur(t.Accumulation), "readInterval", dur(t.ReadInterval), "role", role, "of", string(t.Of),
		"outValue", i64ptr(t.OutValue), "inValue", i64ptr(t.InValue))
	x.leaf(d+1, "parameter", t.Parameter)
	if t.Description != "" {
		x.leaf(d+1, "description", t.Description)
	}
	if t.Formula != "" {
		x.leaf(d+1, "formula", t.Formula)
	}
	if len(t.ErrorBits) > 0 {
		x.open(d+1, "errorBits", false)
		for _, b := range t.ErrorBits {
			x.leaf(d+2, "errorBit", b.Description, "bit", strconv.Itoa(b.Bit), "code", b.Code, "severity", string(b.Severity))
		}
		x.close(d+1, "errorBits")
	}
	x.close(d, "tag")
}
