package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// postFiles sends a multipart form with the session's CSRF token.
func (c *testClient) postFiles(path string, fields map[string]string, files map[string][]byte) (int, string) {
	c.x.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("csrf", c.csrf())
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, k+".bin")
		must(c.x.t, err)
		fw.Write(v)
	}
	must(c.x.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, c.x.ts.URL+path, &b)
	must(c.x.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.c.Do(req)
	must(c.x.t, err)
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// TestLifecycle walks a site through the console's lifecycle page as its officer: a configuration
// version accepted, a second one refused by the change rules of чл. 26 (a kept tag moved), with its line
// diff; the Modbus map of the accepted one (чл. 35) as PDF; a suspension and a return to testing
// (чл. 17, 28); the three-way comparison of чл. 20 with its protocol as PDF; the commissioning of
// чл. 21 with its protocol. The operator may not make the officer's moves, and every change is audited.
func TestLifecycle(t *testing.T) {
	x := newTestServer(t)
	cfg, err := os.ReadFile("../../examples/fuel-depot/automation_config.xml")
	must(t, err)
	officer := x.client("officer").login()
	base := "/sites/" + siteA

	code, body := officer.postFiles(base+"/config", nil, map[string][]byte{"file": cfg})
	if code != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%.800s", code, body)
	}
	code, body = officer.get(base + "/config/1?done=upload")
	if code != http.StatusOK || !strings.Contains(body, `id="verdict" class="state state-accepted"`) || !strings.Contains(body, "web.config.first") && !strings.Contains(body, "първата приета версия") {
		t.Errorf("version 1: %d\n%.1500s", code, body)
	}
	moved := bytes.Replace(cfg, []byte(`name="p1_total_volume" controller="plc" logical="40001" physical="0x0000"`),
		[]byte(`name="p1_total_volume" controller="plc" logical="40901" physical="0x0384"`), 1)
	if bytes.Equal(moved, cfg) {
		t.Fatal("the example changed: the test's edit no longer applies")
	}
	if code, body = officer.postFiles(base+"/config", nil, map[string][]byte{"file": moved}); code != http.StatusSeeOther {
		t.Fatalf("upload 2: %d\n%.800s", code, body)
	}
	_, body = officer.get(base + "/config/2")
	if !strings.Contains(body, `state-refused`) || !regexp.MustCompile(`(?s)<span class="del">-.*40001.*<span class="add">&#43;.*40901`).MatchString(body) ||
		!strings.Contains(body, `logical=&#34;40901&#34;`) {
		t.Errorf("version 2: want refused with a diff\n%s", body[strings.Index(body, "<main>"):])
	}
	code, body = officer.get(base + "/config/1/modbus-map/pdf")
	if code != http.StatusOK || !strings.HasPrefix(body, "%PDF") {
		t.Errorf("Modbus map: %d %.20q", code, body)
	}
	if code, _ = officer.get(base + "/config/2/modbus-map/pdf"); code != http.StatusOK && code != http.StatusUnprocessableEntity {
		t.Errorf("Modbus map of a refused version: %d", code)
	}
	if code, body = officer.get(base + "/config/1/file"); code != http.StatusOK || body != string(cfg) {
		t.Errorf("download of version 1: %d", code)
	}

	// Moves: the officer suspends the live site; the operator may not bring it back (чл. 28 is the
	// officers').
	if code, body = officer.post(base+"/move", map[string][]string{"to": {"suspended"}, "reason": {"Повреда на разходомер"}}); code != http.StatusSeeOther {
		t.Fatalf("suspend: %d\n%.500s", code, body)
	}
	operator := x.client("operator").login()
	if code, body = operator.post(base+"/move", map[string][]string{"to": {"live"}, "reason": {"готово"}}); code != http.StatusForbidden || !strings.Contains(body, `id="problem"`) {
		t.Errorf("operator's move: %d", code)
	}
	if s, _ := x.st.Site(context.Background(), siteA); s.State != store.SiteSuspended {
		t.Fatalf("state %s, want suspended", s.State)
	}
	if code, _ = officer.post(base+"/move", map[string][]string{"to": {"testing"}, "reason": {"Нов разходомер"}}); code != http.StatusSeeOther {
		t.Fatalf("to testing: %d", code)
	}

	// The three-way comparison: the officer's reading of the totalizer at a reading's time.
	// A decimal comma, as an officer writes it.
	values := "point;time;tag;value\n" + pointA + ";2026-11-22T12:59:00+02:00;GOV_TOTAL;1005950,5\n"
	if code, body = officer.postFiles(base+"/threeway", map[string]string{"values": values}, nil); code != http.StatusSeeOther {
		t.Fatalf("three-way: %d\n%s", code, body[strings.Index(body, "<main>"):])
	}
	cmps, err := x.st.Comparisons(context.Background(), siteA)
	must(t, err)
	if len(cmps) != 1 || cmps[0].Kind != store.ComparisonThreeWay {
		t.Fatalf("comparisons: %+v", cmps)
	}
	if cs, err := x.st.Comparison(context.Background(), cmps[0].ID); err != nil || len(cs.Lines) != 1 || cs.Lines[0].Values[0] != "1005950.5" {
		t.Errorf("the officer's value: %+v, %v", cs.Lines, err)
	}
	_, body = officer.get(base + "/lifecycle")
	if !strings.Contains(body, "/comparisons/") || !strings.Contains(body, "Повреда на разходомер") {
		t.Errorf("lifecycle page lacks the comparison or the move\n%s", body[strings.Index(body, "<main>"):])
	}
	id := cmps[0].ID
	if code, body = officer.get(base + "/comparisons/" + itoa(int(id)) + "/pdf"); code != http.StatusOK || !strings.HasPrefix(body, "%PDF") {
		t.Errorf("comparison protocol: %d", code)
	}
	if code, _ = operator.postFiles(base+"/threeway", map[string]string{"values": values}, nil); code != http.StatusForbidden {
		t.Errorf("operator's three-way comparison: %d, want 403 (the officer's, чл. 20)", code)
	}

	// Commissioning (чл. 21): the files are hashed, the protocol printed.
	code, body = officer.postFiles(base+"/commissioning", map[string]string{"protocol": "12/2026", "controller": "PLC-1",
		"computer": "IPC-1", "ups": "UPS-1", "seals": "П-1, П-2"},
		map[string][]byte{"image": []byte("image"), "config": cfg, "modbus-map": []byte("map")})
	if code != http.StatusSeeOther {
		t.Fatalf("commissioning: %d\n%s", code, body[strings.Index(body, "<main>"):])
	}
	cs, err := x.st.Commissionings(context.Background(), siteA)
	must(t, err)
	if len(cs) != 1 || len(cs[0].Files) != 3 || len(cs[0].Seals) != 2 {
		t.Fatalf("commissionings: %+v", cs)
	}
	if code, body = officer.get(base + "/commissionings/" + itoa(int(cs[0].ID)) + "/pdf"); code != http.StatusOK || !strings.HasPrefix(body, "%PDF") {
		t.Errorf("commissioning protocol: %d", code)
	}

	log, err := x.st.Audit(context.Background(), store.AuditFilter{Site: siteA})
	must(t, err)
	actions := map[string]int{}
	for _, e := range log {
		actions[e.Action]++
	}
	for a, n := range map[string]int{"config.upload": 2, "site.move": 2, "comparison.three-way": 1, "site.commissioning": 1} {
		if actions[a] != n {
			t.Errorf("audit has %d %s, want %d (%v)", actions[a], a, n, actions)
		}
	}
}

func TestLineDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12"
	b := "1\n2\n3\n4\n5\n6\nsix\n8\n9\n10\n11\n12\n13"
	d, ok := lineDiff(a, b)
	if !ok {
		t.Fatal("not ok")
	}
	var got []string
	for _, l := range d {
		got = append(got, string(l.Op)+l.Text)
	}
	s := strings.Join(got, "|")
	for _, w := range []string{"-7", "+six", "+13", " 6", " 8"} {
		if !strings.Contains(s, w) {
			t.Errorf("diff %q lacks %q", s, w)
		}
	}
	if strings.Contains(s, " 2|") {
		t.Errorf("diff %q keeps a line far from any change", s)
	}
	if d, _ := lineDiff(a, a); d != nil {
		t.Errorf("same files: %v", d)
	}
	big := strings.Repeat("x\n", 3000)
	if _, ok := lineDiff(big+"a", big+"b"); !ok {
		t.Error("a change after a long common head should be cheap")
	}
	if _, ok := lineDiff(strings.Repeat("a\n", 3000), strings.Repeat("b\n", 3000)); ok {
		t.Error("two large different files should be refused")
	}
}

// TestUploadFirstUse: the day of first use of added product codes (чл. 26(3)) is asked with the upload;
// the notice is then due two working days before it (the notice must precede the first use by a
// whole working day), not on the day of the upload, and the lifecycle page shows the change and the
// date as a Bulgarian reads them. A date that is not one is refused and nothing is stored.
func TestUploadFirstUse(t *testing.T) {
	x := newTestServer(t)
	cfg, err := os.ReadFile("../../examples/fuel-depot/automation_config.xml")
	must(t, err)
	officer := x.client("officer").login()
	base := "/sites/" + siteA
	if code, body := officer.postFiles(base+"/config", nil, map[string][]byte{"file": cfg}); code != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%.800s", code, body)
	}
	added := bytes.Replace(cfg, []byte(`      <map raw="2" product="DB6"/>`), []byte(`      <map raw="2" product="DB6"/>
      <map raw="3" product="A100"/>`), 1)
	added = bytes.Replace(added, []byte(`brand="Дизелово гориво B6 (EN 590)"/>`), []byte(`brand="Дизелово гориво B6 (EN 590)"/>
      <product code="A100" tradeName="Бензин А-100" cn="2710 12 49" exciseCode="E430" brand="А-100"/>`), 1)
	if bytes.Equal(added, cfg) {
		t.Fatal("the example changed: the test's edit no longer applies")
	}
	for _, bad := range []string{"31.02.2026", "утре", "2026-13-01"} {
		code, body := officer.postFiles(base+"/config", map[string]string{"first_use": bad}, map[string][]byte{"file": added})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="problem"`) || !strings.Contains(body, "не е дата") {
			t.Errorf("first use %q: %d", bad, code)
		}
	}
	if vs, _ := x.st.ConfigVersions(context.Background(), siteA); len(vs) != 1 {
		t.Fatalf("refused dates stored versions: %d", len(vs))
	}
	// Friday 4 December 2026: the notice is due on Wednesday 2 December.
	code, body := officer.postFiles(base+"/config", map[string]string{"first_use": "04.12.2026"}, map[string][]byte{"file": added})
	if code != http.StatusSeeOther {
		t.Fatalf("upload with first use: %d\n%.800s", code, body)
	}
	ns, err := x.st.ProductNotices(context.Background(), store.ProductNoticeFilter{Site: siteA})
	must(t, err)
	if v, _ := x.st.ConfigVersion(context.Background(), siteA, 2); v.Verdict != store.ConfigAccepted {
		t.Errorf("version 2: %s %+v", v.Verdict, v.Reasons)
	}
	if len(ns) != 1 || ns[0].Product != "A100" || ns[0].Change != "added" || ns[0].Due != "2026-12-02" {
		t.Fatalf("notices: %+v, want A100 added due 2026-12-02", ns)
	}
	_, body = officer.get(base + "/lifecycle")
	if !strings.Contains(body, "добавен продуктов код") || !strings.Contains(body, "02.12.2026") || !strings.Contains(body, `name="first_use"`) {
		t.Errorf("lifecycle page lacks the notice in Bulgarian\n%s", body[strings.Index(body, "<main>"):])
	}
	log, err := x.st.Audit(context.Background(), store.AuditFilter{Site: siteA, Limit: 1})
	must(t, err)
	if len(log) != 1 || !strings.Contains(log[0].Detail, "first-use 2026-12-04") {
		t.Errorf("audit: %+v", log)
	}
}

// TestUploadBounds: a form larger than Config.MaxForm is refused with 413 before any handler reads it,
// and a configuration file larger than a configuration may be (config.MaxFileSize) is refused with 413
// too; nothing is stored either way.
func TestUploadBounds(t *testing.T) {
	x := newServerWith(t, func(_ *testServer, cfg *Config) { cfg.MaxForm = 1 << 20 })
	officer := x.client("officer").login()
	code, body := officer.postFiles("/sites/"+siteA+"/config", nil, map[string][]byte{"file": bytes.Repeat([]byte("x"), 2<<20)})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "1048576") {
		t.Errorf("a form over MaxForm: %d\n%.300s", code, body)
	}
	y := newServerWith(t, func(_ *testServer, cfg *Config) { cfg.MaxForm = 16 << 20 })
	officer = y.client("officer").login()
	if code, _ := officer.postFiles("/sites/"+siteA+"/config", nil, map[string][]byte{"file": bytes.Repeat([]byte("x"), 9<<20)}); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a configuration over config.MaxFileSize: %d", code)
	}
	for _, st := range []store.Store{x.st, y.st} {
		if vs, _ := st.ConfigVersions(context.Background(), siteA); len(vs) != 0 {
			t.Errorf("an upload too large stored a version: %+v", vs)
		}
	}
}
