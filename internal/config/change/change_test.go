package change

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/workday"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

func date(s string) workday.Date {
	d, err := workday.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// compare loads testdata/<dir>: old.xml, new.xml and history/*.xml when there is one.
func compare(t *testing.T, dir string, opt Options) *Report {
	t.Helper()
	base := filepath.Join("testdata", dir)
	old, err := Load(filepath.Join(base, "old.xml"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Load(filepath.Join(base, "new.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var hist []*Version
	if _, err := os.Stat(filepath.Join(base, "history")); err == nil {
		if hist, err = LoadHistory(filepath.Join(base, "history")); err != nil {
			t.Fatal(err)
		}
	}
	return Compare(old, next, hist, opt)
}

func kinds(r *Report) map[Kind][]*Finding {
	m := map[Kind][]*Finding{}
	for i := range r.Findings {
		f := &r.Findings[i]
		m[f.Kind] = append(m[f.Kind], f)
	}
	return m
}

func TestKeptAddedRemoved(t *testing.T) {
	r := compare(t, "kept", Options{})
	if got := strings.Join(r.Kept, ","); got != "box_door,flow,product,total" {
		t.Errorf("kept = %s", got)
	}
	if got := strings.Join(r.Added, ","); got != "pressure" {
		t.Errorf("added = %s", got)
	}
	if got := strings.Join(r.Removed, ","); got != "temp" {
		t.Errorf("removed = %s", got)
	}
	if r.Refused() {
		t.Errorf("refused: %+v", r.Findings)
	}
	k := kinds(r)
	if len(k[TagAdded]) != 1 || k[TagAdded][0].Tag.Line == 0 || len(k[TagRemoved]) != 1 {
		t.Errorf("findings %+v", r.Findings)
	}
}

func TestAddressChangedIsRefused(t *testing.T) {
	r := compare(t, "moved", Options{})
	k := kinds(r)
	if !r.Refused() || len(k[AddressChanged]) != 1 {
		t.Fatalf("findings %+v", r.Findings)
	}
	f := k[AddressChanged][0]
	if f.Tag.Name != "flow" || f.Earlier.Addr.Physical != 2 || f.Tag.Addr.Physical != 10 {
		t.Errorf("finding %+v", f)
	}
	text := config.Text(i18n.For(i18n.EN), f.Msg)
	for _, want := range []string{`"flow"`, "40003–40004 (0x0002–0x0003)", "40011–40012 (0x000A–0x000B)",
		"testdata/moved/old.xml:", "testdata/moved/new.xml:", "art. 26(2)(1)"} {
		if !strings.Contains(text, want) {
			t.Errorf("message %q lacks %q", text, want)
		}
	}
}

func TestAddressReusedFromTwoVersionsBack(t *testing.T) {
	r := compare(t, "reuse", Options{})
	k := kinds(r)
	if !r.Refused() || len(k[AddressReused]) != 1 {
		t.Fatalf("findings %+v", r.Findings)
	}
	f := k[AddressReused][0]
	if f.Tag.Name != "volume2" || f.Earlier.Name != "level" || !strings.HasSuffix(f.Earlier.File, "history/v1.xml") {
		t.Errorf("finding: new %+v earlier %+v", f.Tag, f.Earlier)
	}
	if len(r.History) != 3 {
		t.Errorf("history %v", r.History)
	}
	bg := config.Text(i18n.For(i18n.BG), f.Msg)
	if !strings.Contains(bg, "ОТКАЗ") || !strings.Contains(bg, "40011 (0x000A)") || !strings.Contains(bg, "чл. 26, ал. 2, т. 2") {
		t.Errorf("Bulgarian message %q", bg)
	}
}

func TestOverlappingMultiRegisterReuse(t *testing.T) {
	r := compare(t, "overlap", Options{})
	k := kinds(r)
	if len(k[AddressReused]) != 1 || k[AddressReused][0].Earlier.Name != "counter" {
		t.Fatalf("findings %+v", r.Findings)
	}
	if got := k[AddressReused][0].Tag.Addr.LogicalRange(); got != "40019–40022" {
		t.Errorf("range %s", got)
	}
}

func TestRestoredTag(t *testing.T) {
	r := compare(t, "restored", Options{})
	k := kinds(r)
	if r.Refused() || len(k[TagRestored]) != 1 {
		t.Fatalf("findings %+v", r.Findings)
	}
	// Coming back at another address is a change of address.
	old, _ := Load("testdata/restored/old.xml")
	hist, _ := LoadHistory("testdata/restored/history")
	next, _ := Load("testdata/restored/new.xml")
	for i := range next.Tags {
		if next.Tags[i].Name == "level" {
			next.Tags[i].Addr.Physical, next.Tags[i].Addr.Logical = 40, "40041"
		}
	}
	r = Compare(old, next, hist, Options{})
	if k := kinds(r); len(k[AddressChanged]) != 1 {
		t.Errorf("moved restored tag: %+v", r.Findings)
	}
}

func TestProductsAroundHolidays(t *testing.T) {
	// 23.12.2026 (Wednesday): 24–26 December are holidays, 27 a Sunday, 28 the substitute for 26.
	r := compare(t, "products", Options{Date: date("2026-12-23")})
	k := kinds(r)
	if r.Refused() || len(k[ProductAdded]) != 1 || len(k[ProductRemoved]) != 1 {
		t.Fatalf("findings %+v", r.Findings)
	}
	add, rm := k[ProductAdded][0], k[ProductRemoved][0]
	if add.Product.Code != "A100" || rm.Product.Code != "DB6" || add.Product.Point != "BGNCA00005001001001" {
		t.Errorf("products %+v %+v", add.Product, rm.Product)
	}
	// Notice on 23 December: 29 December is the whole working day between, first use on 30 December.
	if add.EarliestUse != date("2026-12-30") {
		t.Errorf("earliest use %s", add.EarliestUse)
	}
	// Seven working days after 23 December: 29, 30, 31 December, 4, 5, 6, 7 January.
	if rm.Deadline != date("2027-01-07") {
		t.Errorf("removal deadline %s", rm.Deadline)
	}
	en := config.Text(i18n.For(i18n.EN), rm.Msg)
	if !strings.Contains(en, "07.01.2027") || !strings.Contains(en, "23.12.2026") {
		t.Errorf("message %q", en)
	}

	// First use on 29 December: the last notice is on 22 December (23 December is the whole day between).
	r = compare(t, "products", Options{Date: date("2026-12-21"), FirstUse: date("2026-12-29")})
	add = kinds(r)[ProductAdded][0]
	if add.NoticeBy != date("2026-12-22") || add.Msg.Key != "change.product_added_first_use" {
		t.Errorf("notice by %s (%s)", add.NoticeBy, add.Msg.Key)
	}
	// Notice on 23 December is too late for first use on 29 December.
	r = compare(t, "products", Options{Date: date("2026-12-23"), FirstUse: date("2026-12-29")})
	if add = kinds(r)[ProductAdded][0]; add.Msg.Key != "change.product_added_late" || r.Refused() {
		t.Errorf("late notice: %s refused=%v", add.Msg.Key, r.Refused())
	}
	// Without a date no day is computed.
	r = compare(t, "products", Options{})
	for _, f := range r.Findings {
		if !f.EarliestUse.IsZero() || !f.Deadline.IsZero() || !strings.HasSuffix(f.Msg.Key, "_nodate") {
			t.Errorf("undated finding %+v", f)
		}
	}
}

func TestNoticeDays(t *testing.T) {
	cal := workday.Bulgaria()
	for _, tc := range []struct{ firstUse, last string }{
		{"2026-11-25", "2026-11-23"}, // Wednesday: Tuesday is the whole day between, notice on Monday
		{"2026-11-24", "2026-11-20"}, // Tuesday: Monday between, notice on Friday
		{"2026-11-28", "2026-11-26"}, // Saturday: Friday between, notice on Thursday
		{"2026-09-09", "2026-09-04"}, // 7 September is the substitute for 6 September
		{"2027-01-05", "2026-12-31"}, // 1 January a holiday, 4 January the day between
	} {
		if got := LastNoticeDay(cal, date(tc.firstUse)); got != date(tc.last) {
			t.Errorf("LastNoticeDay(%s) = %s, want %s", tc.firstUse, got, tc.last)
		}
	}
	// Whatever the first use, notice on the last day allows it, and a day later does not.
	for d := date("2026-01-01"); d.Before(date("2027-12-31")); d = d.AddDays(1) {
		last := LastNoticeDay(cal, d)
		if EarliestUse(cal, last).After(d) {
			t.Fatalf("notice on %s does not allow first use on %s", last, d)
		}
		if !EarliestUse(cal, cal.NextWorkingDay(last)).After(d) {
			t.Fatalf("notice on the working day after %s still allows first use on %s", last, d)
		}
	}
	// 7 September 2026 is the substitute for 6 September: 8–11, 14, 15, 16 September.
	if got := RemovalDeadline(cal, date("2026-09-04")); got != date("2026-09-16") {
		t.Errorf("RemovalDeadline(04.09.2026) = %s", got)
	}
}

func TestAddress(t *testing.T) {
	a := Address{Controller: "plc", Unit: 1, Table: config.HoldingRegisters, Physical: 0, Size: 2, Bit: -1, Logical: "400001"}
	b := Address{Controller: "plc", Unit: 1, Table: config.HoldingRegisters, Physical: 0, Size: 2, Bit: -1, Logical: "40001"}
	if !a.Same(b) || a.LogicalRange() != "400001–400002" || b.PhysicalRange() != "0x0000–0x0001" {
		t.Errorf("%v %s %s", a.Same(b), a.LogicalRange(), b.PhysicalRange())
	}
	c := b
	c.Physical, c.Logical = 1, "40002"
	if !b.Overlaps(c) || b.Same(c) {
		t.Error("overlap of 40001–40002 and 40002–40003")
	}
	c.Physical = 2
	if b.Overlaps(c) {
		t.Error("adjacent ranges overlap")
	}
	c = b
	c.Unit = 2
	if b.Overlaps(c) {
		t.Error("another unit overlaps")
	}
	c = b
	c.Table = config.InputRegisters
	if b.Overlaps(c) {
		t.Error("another table overlaps")
	}
	bit := Address{Controller: "plc", Table: config.HoldingRegisters, Physical: 9, Size: 1, Bit: 3}
	if bit.LogicalRange() != "40010.3" || bit.PhysicalRange() != "0x0009.3" {
		t.Errorf("bit address %s %s", bit.LogicalRange(), bit.PhysicalRange())
	}
	other := bit
	other.Bit = 4
	if bit.Same(other) || !bit.Overlaps(other) {
		t.Error("two bits of one register: not the same address, but the same register")
	}
}

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		lang i18n.Lang
		opt  Options
	}{
		{"reuse", i18n.BG, Options{Date: date("2026-12-23")}},
		{"moved", i18n.EN, Options{Date: date("2026-12-23")}},
		{"products", i18n.BG, Options{Date: date("2026-12-23"), FirstUse: date("2026-12-29")}},
	} {
		r := compare(t, tc.dir, tc.opt)
		var b bytes.Buffer
		if err := r.WriteText(&b, i18n.For(tc.lang)); err != nil {
			t.Fatal(err)
		}
		j, err := json.MarshalIndent(r.JSON(i18n.For(tc.lang)), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n")
		b.Write(j)
		b.WriteString("\n")
		golden := filepath.Join("testdata", tc.dir, "report."+string(tc.lang)+".golden")
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the report:\n%s", golden, b.String())
		}
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("testdata/no-such.xml"); err == nil {
		t.Error("a missing file loaded")
	}
	if _, err := LoadHistory("testdata/no-such-dir"); err == nil {
		t.Error("a missing directory loaded")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.xml"), []byte("<automationConfig/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHistory(dir); err == nil {
		t.Error("a history with a broken version loaded")
	}
}
