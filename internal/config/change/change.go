// Package change checks a new version of a site's automation_config.xml against the change rules of
// Ordinance N-7 (чл. 25–26) and the full history of the site's earlier versions:
//
//   - чл. 26, ал. 2, т. 1: a tag that stays keeps its address;
//   - чл. 26, ал. 2, т. 2: the address of a tag that was ever in a version is never given to a new tag;
//   - чл. 26, ал. 3: the competent customs office is notified at least one working day before a product
//     code is added to a control point's nomenclature (чл. 11, ал. 3);
//   - чл. 26, ал. 4: and within seven working days after one is removed.
//
// The engine works on a small representation of a version (tag name → address, point → product codes),
// filled from the configuration model by FromConfig, so that the rules do not depend on the file format.
// docs/change-rules.md quotes the articles and names the assumptions.
package change

import (
	"fmt"
	"sort"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/workday"
)

// Address is where a tag is read: a controller, the Modbus unit id, one of the four tables and a run of
// registers (bits, for the bit tables).
type Address struct {
	Controller string       // the controller's id in the file
	Unit       int          // the effective Modbus unit id
	Table      config.Table // coil, discrete input, input or holding register
	Physical   int          // the first protocol address, 0–65535
	Size       int          // registers (bits, for the bit tables); at least 1
	Bit        int          // for a single bit of a register (data type bit): 0–15; -1 otherwise
	Logical    string       // the Modicon logical address as written, for people; "" derives one
}

// Same reports whether a and b are the same address; the way the logical address is written
// (40001 or 400001) does not matter.
func (a Address) Same(b Address) bool {
	return a.Controller == b.Controller && a.Unit == b.Unit && a.Table == b.Table &&
		a.Physical == b.Physical && a.size() == b.size() && a.Bit == b.Bit
}

// Overlaps reports whether a and b share a register (or bit of a bit table): the same controller, unit
// and table, and intersecting ranges. Two single-bit tags of one register overlap: the register is the
// address (docs/change-rules.md).
func (a Address) Overlaps(b Address) bool {
	return a.Controller == b.Controller && a.Unit == b.Unit && a.Table == b.Table &&
		a.Physical < b.Physical+b.size() && b.Physical < a.Physical+a.size()
}

func (a Address) size() int { return max(a.Size, 1) }

// LogicalRange is the Modicon logical address, or the first and last of a run: "40001–40002".
func (a Address) LogicalRange() string {
	first, width := a.Logical, 0
	if first == "" || len(first) < 2 {
		first = fmt.Sprintf("%d%04d", int(a.Table), a.Physical+1)
	}
	width = len(first) - 1
	if a.size() == 1 {
		return first + a.bitSuffix()
	}
	var off int
	fmt.Sscanf(first[1:], "%d", &off)
	return fmt.Sprintf("%s–%c%0*d", first, first[0], width, off+a.size()-1)
}

// PhysicalRange is the protocol address, or the first and last of a run: "0x0000–0x0001".
func (a Address) PhysicalRange() string {
	if a.size() == 1 {
		return fmt.Sprintf("0x%04X", a.Physical) + a.bitSuffix()
	}
	return fmt.Sprintf("0x%04X–0x%04X", a.Physical, a.Physical+a.size()-1)
}

func (a Address) bitSuffix() string {
	if a.Bit >= 0 {
		return fmt.Sprintf(".%d", a.Bit)
	}
	return ""
}

// Tag is one tag of a version, with the place in the file where it is defined.
type Tag struct {
	Name  string
	Point string // the control point's id; "" for a tag of the box
	Addr  Address
	File  string
	Line  int
}

// Product is one product code of a control point's nomenclature.
type Product struct {
	Point string
	Code  string
	File  string
	Line  int
}

// Version is what the rules need of one version of the configuration.
type Version struct {
	File     string
	Tags     []Tag
	Products []Product
}

// FromConfig takes the tags and product codes of a loaded configuration.
func FromConfig(file string, c *config.Config) *Version {
	v := &Version{File: file}
	for _, r := range c.Tags() {
		t := r.Tag
		ctl := c.Controller(t.Controller)
		a := Address{Controller: t.Controller, Unit: t.EffectiveUnitID(ctl), Table: t.Table,
			Physical: t.Physical, Size: t.Size, Bit: -1, Logical: t.Logical}
		if t.Type == "bit" && !t.Table.Bits() {
			a.Bit = t.Bit
		}
		point := ""
		if r.Point != nil {
			point = r.Point.ID
		}
		v.Tags = append(v.Tags, Tag{Name: t.Name, Point: point, Addr: a, File: file, Line: t.Pos.Line})
	}
	for _, p := range c.Points {
		for _, x := range p.Products {
			v.Products = append(v.Products, Product{Point: p.ID, Code: x.Code, File: file, Line: x.Pos.Line})
		}
	}
	return v
}

// Kind is the kind of a finding.
type Kind string

// Kinds of findings. The ones that break a rule are refused.
const (
	TagAdded       Kind = "tag-added"
	TagRemoved     Kind = "tag-removed"
	TagRestored    Kind = "tag-restored"    // a tag of an earlier version, back at the address it had
	AddressChanged Kind = "address-changed" // refused: чл. 26, ал. 2, т. 1
	AddressReused  Kind = "address-reused"  // refused: чл. 26, ал. 2, т. 2
	ProductAdded   Kind = "product-added"   // notice at least 1 working day before (чл. 26, ал. 3)
	ProductRemoved Kind = "product-removed" // notice within 7 working days after (чл. 26, ал. 4)
)

// Finding is one difference between the versions, or one broken rule.
type Finding struct {
	Kind    Kind
	Refused bool
	Late    bool     // an added product whose notice, given on Options.Date, is too late for Options.FirstUse
	Tag     *Tag     // the tag of the new version (for a removed tag: of the old one)
	Earlier *Tag     // the tag of an earlier version it is compared with
	Product *Product // for product findings
	Msg     i18n.Message

	// For an added product: the earliest day it may be used if notice is given on Options.Date, and,
	// when Options.FirstUse is set, the last working day the notice may be given for that first use.
	EarliestUse, NoticeBy workday.Date
	// For a removed product: the last day of the notice.
	Deadline workday.Date
}

// Options are the dates of the change.
type Options struct {
	// Date is the day of the change: the day notice of added product codes is given, and the day the
	// removed ones leave the nomenclature.
	Date workday.Date
	// FirstUse, if set, is the day the added product codes are first used.
	FirstUse workday.Date
	// Calendar counts working days; nil is workday.Bulgaria().
	Calendar *workday.Calendar
}

// Report is the result of Compare.
type Report struct {
	Old, New string   // the files compared
	History  []string // the earlier versions the addresses were checked against, OLD included
	Kept     []string // names of the tags in both versions, sorted
	Added    []string // names of the tags only in the new version, sorted
	Removed  []string // names of the tags only in the old version, sorted
	Findings []Finding
	Date     workday.Date
}

// Refused reports whether the new version breaks a rule.
func (r *Report) Refused() bool { return r.RefusedCount() > 0 }

// RefusedCount is the number of broken rules.
func (r *Report) RefusedCount() int {
	n := 0
	for _, f := range r.Findings {
		if f.Refused {
			n++
		}
	}
	return n
}

// Compare checks next against old and every version of history (earlier versions, oldest first or in
// any order; old may be among them). It never fails: every problem is a finding.
func Compare(old, next *Version, history []*Version, opt Options) *Report {
	cal := opt.Calendar
	if cal == nil {
		cal = workday.Bulgaria()
	}
	r := &Report{Old: old.File, New: next.File, Date: opt.Date}
	all := make([]*Version, 0, len(history)+1)
	for _, h := range history {
		if h != old && h.File != old.File {
			all = append(all, h)
		}
	}
	all = append(all, old)
	for _, h := range all {
		r.History = append(r.History, h.File)
	}

	oldTags := index(old.Tags)
	newTags := index(next.Tags)
	// lastSeen is, for every tag name of any earlier version, the tag as it was last seen (old wins).
	lastSeen := map[string]Tag{}
	for _, h := range all {
		for _, t := range h.Tags {
			lastSeen[t.Name] = t
		}
	}

	for _, t := range next.Tags {
		t := t
		if o, ok := oldTags[t.Name]; ok {
			r.Kept = append(r.Kept, t.Name)
			if !t.Addr.Same(o.Addr) {
				r.Findings = append(r.Findings, Finding{Kind: AddressChanged, Refused: true, Tag: &t, Earlier: &o,
					Msg: i18n.M("change.address_changed", t.Name, addr(o.Addr), addr(t.Addr), o.File, o.Line, t.File, t.Line)})
			}
			continue
		}
		r.Added = append(r.Added, t.Name)
		if e, ok := lastSeen[t.Name]; ok {
			// A tag of an earlier version that comes back is the same tag: it must come back at its
			// address (чл. 26, ал. 2, т. 1 read over the whole history).
			if !t.Addr.Same(e.Addr) {
				r.Findings = append(r.Findings, Finding{Kind: AddressChanged, Refused: true, Tag: &t, Earlier: &e,
					Msg: i18n.M("change.address_changed", t.Name, addr(e.Addr), addr(t.Addr), e.File, e.Line, t.File, t.Line)})
				continue
			}
			r.Findings = append(r.Findings, Finding{Kind: TagRestored, Tag: &t, Earlier: &e,
				Msg: i18n.M("change.tag_restored", t.Name, addr(t.Addr), t.File, t.Line, e.File, e.Line)})
			continue
		}
		if u := firstUse(all, t); u != nil {
			r.Findings = append(r.Findings, Finding{Kind: AddressReused, Refused: true, Tag: &t, Earlier: u,
				Msg: i18n.M("change.address_reused", t.Name, addr(t.Addr), t.File, t.Line, u.Name, addr(u.Addr), u.File, u.Line)})
			continue
		}
		r.Findings = append(r.Findings, Finding{Kind: TagAdded, Tag: &t,
			Msg: i18n.M("change.tag_added", t.Name, addr(t.Addr), t.File, t.Line)})
	}
	for _, o := range old.Tags {
		o := o
		if _, ok := newTags[o.Name]; !ok {
			r.Removed = append(r.Removed, o.Name)
			r.Findings = append(r.Findings, Finding{Kind: TagRemoved, Tag: &o,
				Msg: i18n.M("change.tag_removed", o.Name, addr(o.Addr), o.File, o.Line)})
		}
	}
	sort.Strings(r.Kept)
	sort.Strings(r.Added)
	sort.Strings(r.Removed)
	r.products(old, next, cal, opt)
	return r
}

func index(ts []Tag) map[string]Tag {
	m := make(map[string]Tag, len(ts))
	for _, t := range ts {
		if _, dup := m[t.Name]; !dup {
			m[t.Name] = t
		}
	}
	return m
}

// firstUse finds a tag of any earlier version whose address overlaps t's, the earliest version first.
func firstUse(all []*Version, t Tag) *Tag {
	for _, h := range all {
		for i := range h.Tags {
			if h.Tags[i].Addr.Overlaps(t.Addr) {
				u := h.Tags[i]
				return &u
			}
		}
	}
	return nil
}

// addr names an address for a person, in both notations: "plc1, unit 1, 40001–40002 (0x0000–0x0001)".
// The message keys take it as one argument, so it is built from a message of its own.
func addr(a Address) i18n.Message {
	return i18n.M("change.address", a.Controller, a.Unit, a.LogicalRange(), a.PhysicalRange())
}

type pointCode struct{ point, code string }

func (r *Report) products(old, next *Version, cal *workday.Calendar, opt Options) {
	had := map[pointCode]Product{}
	for _, p := range old.Products {
		had[pointCode{p.Point, p.Code}] = p
	}
	has := map[pointCode]Product{}
	for _, p := range next.Products {
		has[pointCode{p.Point, p.Code}] = p
	}
	for _, p := range next.Products {
		p := p
		k := pointCode{p.Point, p.Code}
		if _, ok := had[k]; ok {
			continue
		}
		had[k] = p // a code listed twice is reported once
		f := Finding{Kind: ProductAdded, Product: &p}
		if !opt.Date.IsZero() {
			f.EarliestUse = EarliestUse(cal, opt.Date)
		}
		switch {
		case !opt.FirstUse.IsZero():
			f.NoticeBy = LastNoticeDay(cal, opt.FirstUse)
			f.Msg = i18n.M("change.product_added_first_use", p.Code, p.Point, p.File, p.Line,
				opt.FirstUse.Bulgarian(), f.NoticeBy.Bulgarian())
			if !opt.Date.IsZero() && opt.Date.After(f.NoticeBy) {
				f.Late = true
				// The notice given today is too late for the planned first use: that is the operator's
				// duty broken, not the file's; it is flagged, not refused, and the earliest date is given.
				f.Msg = i18n.M("change.product_added_late", p.Code, p.Point, p.File, p.Line,
					opt.FirstUse.Bulgarian(), f.NoticeBy.Bulgarian(), opt.Date.Bulgarian(), f.EarliestUse.Bulgarian())
			}
		case !opt.Date.IsZero():
			f.Msg = i18n.M("change.product_added", p.Code, p.Point, p.File, p.Line,
				opt.Date.Bulgarian(), f.EarliestUse.Bulgarian())
		default:
			f.Msg = i18n.M("change.product_added_nodate", p.Code, p.Point, p.File, p.Line)
		}
		r.Findings = append(r.Findings, f)
	}
	for _, p := range old.Products {
		p := p
		k := pointCode{p.Point, p.Code}
		if _, ok := has[k]; ok {
			continue
		}
		has[k] = p
		f := Finding{Kind: ProductRemoved, Product: &p}
		if opt.Date.IsZero() {
			f.Msg = i18n.M("change.product_removed_nodate", p.Code, p.Point, p.File, p.Line)
		} else {
			f.Deadline = RemovalDeadline(cal, opt.Date)
			f.Msg = i18n.M("change.product_removed", p.Code, p.Point, p.File, p.Line,
				opt.Date.Bulgarian(), f.Deadline.Bulgarian())
		}
		r.Findings = append(r.Findings, f)
	}
}

// LastNoticeDay is the last working day on which notice of a product code first used on firstUse may be
// given (чл. 26, ал. 3): one whole working day must lie between the day of the notice and the day of
// first use, neither of which counts (docs/change-rules.md).
func LastNoticeDay(cal *workday.Calendar, firstUse workday.Date) workday.Date {
	return cal.AddWorkingDays(firstUse, -2)
}

// EarliestUse is the first day a product code may be used when notice of it is given on notice
// (чл. 26, ал. 3): the day after the first whole working day that follows the notice.
func EarliestUse(cal *workday.Calendar, notice workday.Date) workday.Date {
	return cal.NextWorkingDay(notice).AddDays(1)
}

// RemovalDeadline is the last day of the notice of a product code removed on removed (чл. 26, ал. 4):
// the seventh working day after the day of removal, which does not count.
func RemovalDeadline(cal *workday.Calendar, removed workday.Date) workday.Date {
	return cal.AddWorkingDays(removed, 7)
}
