package watch_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
	"github.com/akciz/akciz/internal/workday"
)

func replaceOnce(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if bytes.Count(b, []byte(old)) != 1 {
		t.Fatalf("%q is not once in the example", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// Чл. 26(2) т. 1: a kept tag keeps its address, against the whole history; the refused version is kept
// with its reasons and no notices, and the site's accepted configuration stays the earlier one.
func TestConfigAddressChangedRefused_Art26_2(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	c := watch.NewConfigs(f.st, f.clock, nil)
	orig := exampleConfig(t)
	v1, err := c.Upload(f.ctx, operator, site, "automation_config.xml", orig, watch.UploadOptions{})
	f.must(err)
	if v1.Verdict != store.ConfigAccepted || v1.Version != 1 {
		t.Fatalf("first version %+v", v1)
	}
	moved := replaceOnce(t, orig, `name="p1_flow" controller="plc" logical="40007" physical="0x0006"`,
		`name="p1_flow" controller="plc" logical="40301" physical="0x012C"`)
	v2, err := c.Upload(f.ctx, operator, site, "automation_config.xml", moved, watch.UploadOptions{})
	f.must(err)
	if v2.Verdict != store.ConfigRefused || v2.Version != 2 {
		t.Fatalf("moved tag: %+v", v2)
	}
	found := false
	for _, r := range v2.Reasons {
		if r.Kind == "address-changed" && r.Refused && r.Tag == "p1_flow" && strings.Contains(r.Text["bg"], "чл. 26") {
			found = true
		}
	}
	if !found {
		t.Errorf("reasons %+v", v2.Reasons)
	}
}

// Чл. 26(3)–(4): adding a product code needs notice at least one working day before its first use,
// removing one within 7 working days after; the notices are kept with their due dates.
func TestConfigProductNotices_Art26_3_4(t *testing.T) {
	f := newFixture(t, store.SiteLive) // t0 is Monday 23.11.2026
	c := watch.NewConfigs(f.st, f.clock, nil)
	orig := exampleConfig(t)
	_, err := c.Upload(f.ctx, operator, site, "automation_config.xml", orig, watch.UploadOptions{})
	f.must(err)
	// At point 001 only: DB6 goes, A100 comes (the first of each in the file is point 001's).
	next := bytes.Replace(orig, []byte(`<product code="DB6" tradeName="Дизелово гориво" cn="2710 19 43" exciseCode="E450" brand="Дизелово гориво B6 (EN 590)"/>`),
		[]byte(`<product code="A100" tradeName="Бензин А-100" cn="2710 12 49" exciseCode="E430" brand="Бензин А-100"/>`), 1)
	next = bytes.Replace(next, []byte(`<map raw="2" product="DB6"/>`), []byte(`<map raw="2" product="A100"/>`), 1)
	v, err := c.Upload(f.ctx, operator, site, "automation_config.xml", next, watch.UploadOptions{FirstUse: workday.New(2026, 11, 27)})
	f.must(err)
	if v.Verdict != store.ConfigAccepted {
		t.Fatalf("verdict %s: %+v", v.Verdict, v.Reasons)
	}
	due := map[string]string{}
	for _, n := range v.Notices {
		due[n.Change+" "+n.Product] = n.Due
	}
	// First use Friday 27.11: notice by Wednesday 25.11 (Thursday is the whole working day between).
	// Removed on Monday 23.11: notice by the 7th working day after, Wednesday 02.12.
	if due["added A100"] != "2026-11-25" || due["removed DB6"] != "2026-12-02" || len(v.Notices) != 2 {
		t.Errorf("notices %v", due)
	}
	owed, err := f.st.ProductNotices(f.ctx, store.ProductNoticeFilter{Site: site, Owed: true})
	f.must(err)
	if len(owed) != 2 {
		t.Fatalf("owed %+v", owed)
	}
	if _, err := c.GiveNotice(f.ctx, operator, owed[0].ID); !errors.Is(err, watch.ErrForbidden) {
		t.Errorf("operator records a notice as given: %v", err)
	}
	// Another office's officer learns nothing of the notice, not even its site's number; nor does anyone
	// of an id that does not exist.
	otherOffice := watch.Actor{Who: "CN=Друг митничар", Role: store.RoleOfficer, Office: "BG009000"}
	for _, tc := range []struct {
		a  watch.Actor
		id int64
	}{{otherOffice, owed[0].ID}, {officer, owed[1].ID + 1000}} {
		_, err := c.GiveNotice(f.ctx, tc.a, tc.id)
		if m, ok := watch.Message(err); !errors.Is(err, watch.ErrNotFound) || !ok || m.Key != "watch.notice.not_found" {
			t.Errorf("%s, notice %d: %v, want watch.notice.not_found", tc.a.Who, tc.id, err)
		}
	}
	// The notice is fetched by its id: recording one does not list the country's notices.
	byID := watch.NewConfigs(noNoticeList{f.st}, f.clock, nil)
	if n, err := byID.GiveNotice(f.ctx, officer, owed[0].ID); err != nil || n.GivenBy != officer.Who || n.Given.IsZero() {
		t.Errorf("given: %+v, %v", n, err)
	}
	if _, err := byID.GiveNotice(f.ctx, officer, owed[0].ID); !errors.Is(err, watch.ErrRefused) {
		t.Errorf("given twice: %v, want ErrRefused", err)
	}
}

// noNoticeList is the store with its listing of product notices broken: what must not need it, works.
type noNoticeList struct{ store.Store }

func (noNoticeList) ProductNotices(context.Context, store.ProductNoticeFilter) ([]store.ProductNotice, error) {
	return nil, errors.New("listing all product notices")
}

// A file that is not a valid configuration is refused with its findings (file, line, column), and a
// configuration of another site is refused.
func TestConfigInvalidOrOtherSite(t *testing.T) {
	f := newFixture(t, store.SiteApproved)
	c := watch.NewConfigs(f.st, f.clock, nil)
	v, err := c.Upload(f.ctx, operator, site, "cfg.xml", []byte("<automationConfig>\n<oops"), watch.UploadOptions{})
	f.must(err)
	if v.Verdict != store.ConfigRefused || len(v.Reasons) == 0 || !strings.Contains(v.Reasons[0].Text["en"], "cfg.xml:") {
		t.Errorf("malformed: %+v", v)
	}
	other := replaceOnce(t, exampleConfig(t), `warehouse="BGNCA00005001"`, `warehouse="BGNCA00005002"`)
	other = bytes.ReplaceAll(other, []byte("BGNCA00005001001"), []byte("BGNCA00005002001"))
	v, err = c.Upload(f.ctx, operator, site, "cfg.xml", other, watch.UploadOptions{})
	f.must(err)
	if v.Verdict != store.ConfigRefused || v.Reasons[0].Kind != "other-site" {
		t.Errorf("other site: %+v", v.Reasons)
	}
	if _, err := c.Upload(f.ctx, stranger, site, "cfg.xml", exampleConfig(t), watch.UploadOptions{}); !errors.Is(err, watch.ErrNotFound) {
		t.Errorf("another operator's site: %v", err)
	}
}

// Чл. 26(2): the rules hold against the whole history of accepted versions, not only the latest. A tag
// removed in version 2 has left its address to no one: version 3 may neither give that address to a new
// tag (т. 2) nor bring the tag back at another address (т. 1), though version 2 knows neither.
func TestConfigRulesAgainstWholeHistory_Art26_2(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	c := watch.NewConfigs(f.st, f.clock, nil)
	orig := exampleConfig(t)
	flow := `    <tag name="p1_flow" controller="plc" logical="40007" physical="0x0006" size="2" type="float32" order="CDAB" unit="L/min" resolution="0.1" low="0" high="3000" role="flow">
      <parameter>Моментен дебит</parameter>
    </tag>
`
	upload := func(b []byte) store.ConfigVersion {
		t.Helper()
		v, err := c.Upload(f.ctx, operator, site, "automation_config.xml", b, watch.UploadOptions{})
		f.must(err)
		return v
	}
	if v := upload(orig); v.Verdict != store.ConfigAccepted {
		t.Fatalf("v1 %+v", v.Reasons)
	}
	if v := upload(replaceOnce(t, orig, flow, "")); v.Verdict != store.ConfigAccepted {
		t.Fatalf("v2 without p1_flow: %+v", v.Reasons)
	}
	refusedFor := func(v store.ConfigVersion, kind string) {
		t.Helper()
		if v.Verdict != store.ConfigRefused {
			t.Fatalf("version %d accepted, want refused for %s", v.Version, kind)
		}
		for _, r := range v.Reasons {
			if r.Kind == kind && r.Refused {
				return
			}
		}
		t.Errorf("version %d: no %s among %+v", v.Version, kind, v.Reasons)
	}
	reused := replaceOnce(t, orig, `name="p1_flow"`, `name="p1_flow_rate"`)
	refusedFor(upload(reused), "address-reused")
	moved := replaceOnce(t, orig, `name="p1_flow" controller="plc" logical="40007" physical="0x0006"`,
		`name="p1_flow" controller="plc" logical="40301" physical="0x012C"`)
	refusedFor(upload(moved), "address-changed")
	// Back at its own address, the tag is welcome.
	if v := upload(orig); v.Verdict != store.ConfigAccepted {
		t.Errorf("p1_flow back at its address: %+v", v.Reasons)
	}
}
