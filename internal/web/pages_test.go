package web

import (
	"bytes"
	"context"
	"encoding/pem"
	"encoding/xml"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// TestSitePage: the site page shows the control point's latest values, the finished transaction with
// its product, quantity and density, the box's door event and the open alarm.
func TestSitePage(t *testing.T) {
	x := newTestServer(t)
	c := x.client("officer").login()
	code, body := c.get("/sites/" + siteA)
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	for _, want := range []string{
		// the last reading: a decimal comma, the thousands grouped with a no-break space
		"Склад Бургас", "Нефтена база А ЕООД", pointA, "GOV_TOTAL = 1\u00a0005\u00a0950,5 L",
		"27101943 Дизелово гориво", "30\u00a0000,0 L", "835,2 kg/m3", "извеждане", // the transaction
		"отворена кутия", // the event
		`href="/alarms/` + strconv.FormatInt(x.alarmA, 10) + `"`,
		"22.11.2026 13:50:00 EET", // last data: the batch's time in Sofia (UTC+2), with the zone
	} {
		if !strings.Contains(body, want) {
			t.Errorf("site page lacks %q", want)
		}
	}
	code, body = c.get("/sites/" + siteA + "/transactions?span=24h")
	if code != http.StatusOK || !strings.Contains(body, "Дизелово гориво") || !strings.Contains(body, `/export/transactions/xlsx?`) {
		t.Errorf("transactions page: %d", code)
	}
	code, body = c.get("/sites/" + siteA + "/transactions?from=2026-11-20T00:00&to=2026-11-21T00:00")
	if code != http.StatusOK || strings.Contains(body, "Дизелово гориво") {
		t.Errorf("transactions of a period without any: %d, shows one", code)
	}
	if code, body = c.get("/sites/" + siteA + "/events"); code != http.StatusOK || !strings.Contains(body, "отворена кутия") {
		t.Errorf("events page: %d", code)
	}
	code, body = c.get("/sites/" + siteA + "/points/" + pointA + "?span=6h")
	if code != http.StatusOK || !strings.Contains(body, "chart.svg?") || !strings.Contains(body, "tag=FLOW") || !strings.Contains(body, "tag=GOV_TOTAL") {
		t.Errorf("point page: %d\n%.500s", code, body)
	}
	if code, _ = c.get("/sites/" + siteA + "/points/" + pointB); code != http.StatusNotFound {
		t.Errorf("another site's point under this site: %d", code)
	}
	if code, _ = c.get("/sites/" + siteA + "/transactions?point=" + pointB); code != http.StatusNotFound {
		t.Errorf("another site's point as a filter: %d", code)
	}
}

// TestChart: the chart is well-formed SVG with a line of the period's readings, thinned to its buckets;
// a period without readings says so.
func TestChart(t *testing.T) {
	x := newTestServer(t)
	c := x.client("operator").login()
	req, _ := http.NewRequest(http.MethodGet, x.ts.URL+"/sites/"+siteA+"/points/"+pointA+"/chart.svg?tag=GOV_TOTAL&span=3h", nil)
	resp, err := c.c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("content type %q", ct)
	}
	var svg struct {
		XMLName  xml.Name `xml:"svg"`
		Polyline struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
		Texts []string `xml:"text"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&svg); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	n := len(strings.Fields(svg.Polyline.Points))
	if n < 60 || n > 2*chartBuckets {
		t.Errorf("%d points for 120 readings", n)
	}
	if !strings.Contains(strings.Join(svg.Texts, " "), "L") {
		t.Errorf("no unit among the labels %q", svg.Texts)
	}
	_, body := c.get("/sites/" + siteA + "/points/" + pointA + "/chart.svg?tag=GOV_TOTAL&from=2026-01-01T00:00&to=2026-01-02T00:00")
	if !strings.Contains(body, "Няма данни за периода") {
		t.Errorf("empty chart: %.300s", body)
	}
}

func TestSeriesThinning(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSeries(from, from.Add(24*time.Hour))
	for i := range 100000 {
		v := float64(i)
		if i == 50000 {
			v = -1e6 // a spike must survive the thinning
		}
		s.add(from.Add(time.Duration(i)*864*time.Millisecond), v)
	}
	pts := s.points()
	if len(pts) > 2*chartBuckets {
		t.Fatalf("%d points", len(pts))
	}
	found := false
	for _, p := range pts {
		found = found || p.v == -1e6
	}
	if !found {
		t.Error("the spike was lost")
	}
	var b bytes.Buffer
	must(t, s.writeSVG(&b, "t", "L", i18n.BG))
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Errorf("not XML: %v", err)
	}
	for raw, want := range map[float64]float64{0.7: 1, 3: 5, 12: 20, 0.013: 0.02, 0: 1} {
		if got := niceStep(raw); got != want {
			t.Errorf("niceStep(%g) = %g, want %g", raw, got, want)
		}
	}
}

// TestExports: every table exports as CSV (Excel's Bulgarian dialect) and XLSX, with the rows the page
// shows.
func TestExports(t *testing.T) {
	x := newTestServer(t)
	c := x.client("admin").login()
	for _, tc := range []struct{ path, want string }{
		{"/sites/" + siteA + "/export/transactions/csv?span=24h", "30000,0"},
		{"/sites/" + siteA + "/export/events/csv?span=24h", "отворена кутия"},
		{"/sites/" + siteA + "/export/readings/csv?span=24h&point=" + pointA, "1005950,5"},
		{"/sites/" + siteA + "/export/alarms/csv?span=24h", "отворена"},
		{"/sites/" + siteA + "/export/incidents/csv?span=24h", "ИКУНК"},
		{"/export/sites/csv", siteB},
		{"/alarms/export/csv", siteB},
		{"/audit?format=csv", "Потребител"},
	} {
		code, body := c.get(tc.path)
		if code != http.StatusOK || !strings.HasPrefix(body, "\uFEFF") || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want a CSV with %q\n%.300s", tc.path, code, tc.want, body)
		}
	}
	if code, _ := c.get("/sites/" + siteA + "/export/readings/csv"); code != http.StatusNotFound {
		t.Errorf("readings without a point: %d", code)
	}
	if code, _ := c.get("/sites/" + siteA + "/export/nothing/csv"); code != http.StatusNotFound {
		t.Errorf("unknown table: %d", code)
	}
	if code, _ := c.get("/sites/" + siteA + "/export/transactions/pdf"); code != http.StatusNotFound {
		t.Errorf("unknown format: %d", code)
	}
	code, body := c.get("/sites/" + siteA + "/export/transactions/xlsx?span=24h")
	if code != http.StatusOK {
		t.Fatalf("xlsx: %d", code)
	}
	f, err := excelize.OpenReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("xlsx does not open: %v", err)
	}
	defer f.Close()
	found := false
	for _, sh := range f.GetSheetList() {
		rows, _ := f.GetRows(sh)
		for _, r := range rows {
			found = found || strings.Contains(strings.Join(r, "|"), "Дизелово гориво")
		}
	}
	if !found {
		t.Error("the xlsx lacks the transaction")
	}
}

// TestAlarmInbox: the inbox lists open alarms, an alarm is acknowledged with a comment, then closed; the
// history and the audit log show both.
func TestAlarmInbox(t *testing.T) {
	x := newTestServer(t)
	c := x.client("officer").login()
	_, body := c.get("/alarms")
	if !strings.Contains(body, siteA) || !strings.Contains(body, "отворена") {
		t.Fatalf("inbox: %.500s", body)
	}
	id := strconv.FormatInt(x.alarmA, 10)
	if code, _ := c.post("/alarms/"+id+"/ack", map[string][]string{"comment": {"Изпратен е екип"}}); code != http.StatusSeeOther {
		t.Fatalf("ack: %d", code)
	}
	if code, _ := c.post("/alarms/"+id+"/close", map[string][]string{"comment": {"Вратата е затворена и пломбирана"}}); code != http.StatusSeeOther {
		t.Fatalf("close: %d", code)
	}
	_, body = c.get("/alarms/" + id)
	for _, want := range []string{"Изпратен е екип", "Вратата е затворена и пломбирана", "закрита", "Иван Митничаров", `id="explain"`, "чл. 36"} {
		if !strings.Contains(body, want) {
			t.Errorf("alarm page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="ack"`) {
		t.Error("a closed alarm still has the form")
	}
	if _, body = c.get("/alarms"); strings.Contains(body, `href="/alarms/`+id+`"`) {
		t.Error("the closed alarm is still in the open inbox")
	}
	if _, body = c.get("/alarms?state=closed"); !strings.Contains(body, `href="/alarms/`+id+`"`) {
		t.Error("the closed alarm is not among the closed ones")
	}
}

// templateKeyRE finds the catalogue keys templates name literally: .T "key", $.T "key", $p.T "key".
var templateKeyRE = regexp.MustCompile(`\.T\s+"([a-z][a-z0-9_]*\.[a-z0-9_.-]+)"`)

// TestTemplateKeys: every key a template names exists in both languages, so that no page shows a key.
func TestTemplateKeys(t *testing.T) {
	n := 0
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, p)
		if err != nil {
			return err
		}
		for _, m := range templateKeyRE.FindAllStringSubmatch(string(b), -1) {
			n++
			for _, l := range i18n.Langs {
				if !i18n.Has(l, m[1]) {
					t.Errorf("%s names %q, which the %s catalogue lacks", p, m[1], l)
				}
			}
		}
		return nil
	})
	must(t, err)
	if n < 50 {
		t.Fatalf("found only %d keys: the pattern is broken", n)
	}
	// The keys the code builds from a name (states, events, roles, directions, alarm states) exist too.
	for _, k := range append(append([]string{}, siteStates...), "silent") {
		if !i18n.Has(i18n.EN, "web.state."+k) || !i18n.Has(i18n.BG, "web.state."+k) {
			t.Errorf("no text for state %q", k)
		}
	}
	for _, k := range []string{"web.role.operator", "web.role.officer", "web.role.admin", "web.lang.bg", "web.lang.en",
		"web.alarm_state.open", "web.alarm_state.acknowledged", "web.alarm_state.closed", "web.verdict.accepted", "web.verdict.refused"} {
		if !i18n.Has(i18n.BG, k) || !i18n.Has(i18n.EN, k) {
			t.Errorf("no text %q", k)
		}
	}
}

// TestSitesStatus: a site with an open alarm is "alarm", one whose silence alarm is open is "silent";
// the state filter finds them.
func TestSitesStatus(t *testing.T) {
	x := newTestServer(t)
	c := x.client("admin").login()
	_, body := c.get("/sites?state=alarm")
	if !strings.Contains(body, siteA) || !strings.Contains(body, `state-alarm`) {
		t.Errorf("alarm filter:\n%.300s", body)
	}
	_, _, err := x.st.OpenAlarm(context.Background(), store.Alarm{Kind: store.AlarmLateSite, Site: siteB, Opened: fixedNow},
		store.AlarmEntry{Who: "engine", Role: "engine", Action: store.AlarmOpened})
	must(t, err)
	_, body = c.get("/sites?state=silent")
	if !strings.Contains(body, siteB) || strings.Contains(body, siteA) || !strings.Contains(body, "state-silent") {
		t.Errorf("silent filter:\n%s", body[strings.Index(body, "<main>"):])
	}
	if _, body = c.get("/sites?q=русе"); !strings.Contains(body, siteB) || strings.Contains(body, ">"+siteA+"<") {
		t.Error("search by name (any case) failed")
	}
}

// TestPeopleAdmin: an administrator adds a person with its certificate, who can then log in; a bad
// certificate or a missing scope is refused with a message and nothing stored; a person is disabled and
// enabled again, but not oneself.
func TestPeopleAdmin(t *testing.T) {
	x := newTestServer(t)
	c := x.client("admin").login()
	before, _ := x.st.People(context.Background())
	cert := newCert(t, "Нов Служител", fixedNow.AddDate(-1, 0, 0), fixedNow.AddDate(1, 0, 0))
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})
	for name, tc := range map[string]struct {
		fields map[string]string
		file   []byte
	}{
		"no office":  {map[string]string{"name": "X", "role": "officer"}, pemCert},
		"bad EIK":    {map[string]string{"name": "X", "role": "operator", "operator": "123"}, pemCert},
		"no cert":    {map[string]string{"name": "X", "role": "admin"}, nil},
		"bad cert":   {map[string]string{"name": "X", "role": "admin"}, []byte("not a certificate")},
		"taken cert": {map[string]string{"name": "X", "role": "admin"}, x.people["officer"].cert.Leaf.Raw},
	} {
		files := map[string][]byte{}
		if tc.file != nil {
			files["cert"] = tc.file
		}
		if code, body := c.postFiles("/people", tc.fields, files); code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="problem"`) {
			t.Errorf("%s: %d", name, code)
		}
	}
	if after, _ := x.st.People(context.Background()); len(after) != len(before) {
		t.Fatalf("refused forms stored people: %d → %d", len(before), len(after))
	}
	code, body := c.postFiles("/people", map[string]string{"name": "Нов Служител", "role": "officer", "office": officeB, "operator": "ignored"},
		map[string][]byte{"cert": pemCert})
	if code != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", code, body)
	}
	x.people["new"] = &testPerson{cert: cert}
	nc := x.client("new").login()
	if _, body := nc.get("/sites"); !strings.Contains(body, siteB) || strings.Contains(body, ">"+siteA+"<") {
		t.Error("the new officer does not see exactly its office's site")
	}
	p, _, err := x.st.PersonByCertificate(context.Background(), store.Fingerprint(cert.Leaf.Raw))
	must(t, err)
	if p.Operator != "" || p.Office != officeB {
		t.Errorf("stored person %+v", p)
	}
	id := strconv.FormatInt(p.ID, 10)
	if code, _ := c.post("/people/"+id+"/disable", nil); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if code, _ := nc.get("/sites"); code != http.StatusSeeOther {
		t.Errorf("a disabled person's session: %d", code)
	}
	if code, _ := c.post("/people/"+id+"/enable", nil); code != http.StatusSeeOther {
		t.Fatalf("enable: %d", code)
	}
	self := strconv.FormatInt(x.people["admin"].ID, 10)
	if code, _ := c.post("/people/"+self+"/disable", nil); code != http.StatusUnprocessableEntity {
		t.Errorf("disable oneself: %d", code)
	}
	log, _ := x.st.Audit(context.Background(), store.AuditFilter{})
	actions := map[string]bool{}
	for _, e := range log {
		actions[e.Action] = true
	}
	for _, a := range []string{"person.add", "person.disable", "person.enable"} {
		if !actions[a] {
			t.Errorf("audit lacks %s", a)
		}
	}
}

// FuzzParseCertificate: any upload is a certificate or an error, never a panic.
func FuzzParseCertificate(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCertificate(b)
	})
}

// TestAlarmDetail: the facts package watch keeps with an alarm are shown in the catalogue's words
// (watch.DetailLines, the same as in the alarms' exports), in Bulgarian by default: labels, an event's
// kind, times in Sofia's time with the zone, a limit in minutes and seconds, a point's class of чл.
// 30(13), an incident's kind, numbers grouped — never key=value.
func TestAlarmDetail(t *testing.T) {
	bg := i18n.For(i18n.BG)
	got := func(kind store.AlarmKind, d map[string]string) string {
		var b strings.Builder
		for _, l := range watch.DetailLines(bg, store.Alarm{Kind: kind, Detail: d}) {
			b.WriteString(l.Label + ": " + l.Value + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		kind   store.AlarmKind
		detail map[string]string
		want   string
	}{
		{store.AlarmLatePoint, map[string]string{"last": "2026-11-22T09:58:00Z", "limit": "10m30s", "class": "road"},
			"Последни данни: 22.11.2026 11:58:00 EET\nДопустим интервал: 10 мин 30 с\nВид на точката за контрол (чл. 30, ал. 13): автоналивна естакада (т. 1)\n"},
		{store.AlarmLateSite, map[string]string{"last": "2026-07-01T09:00:00Z", "limit": "1h15m0s"},
			"Последни данни: 01.07.2026 12:00:00 EEST\nДопустим интервал: 1 ч 15 мин\n"},
		{store.AlarmIncident, map[string]string{"incident": "gap", "first": "5", "last": "12000", "detail": "seq 5 after 3"},
			"Инцидент: липсващи записи\nОт пореден №: 5\nДо пореден №: 12\u00a0000\nПодробности: seq 5 after 3\n"},
		{store.AlarmDoorOpened, map[string]string{"event": "door-opened", "tag": "door", "time": "2026-11-22T11:30:00Z", "seq": "123", "zz": "q"},
			"Събитие: отворена кутия\nТаг: door\nВреме на записа: 22.11.2026 13:30:00 EET\nПореден № на записа: 123\nzz: q\n"},
	} {
		if g := got(tc.kind, tc.detail); g != tc.want {
			t.Errorf("%s %v:\n%s\nwant\n%s", tc.kind, tc.detail, g, tc.want)
		}
	}
	// On the page, in English when asked.
	x := newTestServer(t)
	c := x.client("officer").login()
	_, body := c.get("/alarms/" + strconv.FormatInt(x.alarmA, 10))
	if !strings.Contains(body, `<dt>Таг</dt><dd class="detail-tag">door</dd>`) {
		t.Errorf("alarm page detail:\n%s", body[strings.Index(body, "<main>"):])
	}
	c.header = http.Header{"Accept-Language": {"en"}}
	if _, body = c.get("/alarms/" + strconv.FormatInt(x.alarmA, 10)); !strings.Contains(body, `<dt>Tag</dt>`) || !strings.Contains(body, "the system") {
		t.Errorf("alarm page in English:\n%s", body[strings.Index(body, "<main>"):])
	}
}

// TestFormats: numbers, times and dates as a Bulgarian (or an English) reader writes them (the cases
// of each format are tested where it is written: i18n.Number, watch.FormatTime; here that the pages use
// them).
func TestFormats(t *testing.T) {
	if got := formatNum("1005950.5", i18n.BG); got != "1\u00a0005\u00a0950,5" {
		t.Errorf("formatNum(1005950.5, bg) = %q", got)
	}
	winter, summer := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC), time.Date(2026, 7, 15, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		l    i18n.Lang
		want string
	}{
		{winter, i18n.BG, "15.01.2026 12:00:00 EET"},
		{summer, i18n.BG, "15.07.2026 13:00:00 EEST"},
		{summer, i18n.EN, "2026-07-15 13:00:00 EEST"},
		{time.Time{}, i18n.BG, ""},
	} {
		if got := formatTime(tc.t, tc.l); got != tc.want {
			t.Errorf("formatTime(%v, %s) = %q, want %q", tc.t, tc.l, got, tc.want)
		}
	}
	p := &Page{Lang: i18n.BG}
	if got := p.Date("2026-12-02"); got != "02.12.2026" {
		t.Errorf("Date = %q", got)
	}
	if got := p.Date("soon"); got != "soon" {
		t.Errorf("Date of a non-date = %q", got)
	}
}

// TestSecurityHeaders: every answer — a page, the login page, a chart, an export, a style sheet, an
// error — forbids framing, sniffing and any script but the console's own files.
func TestSecurityHeaders(t *testing.T) {
	x := newTestServer(t)
	c := x.client("officer").login()
	for _, path := range []string{"/sites", "/login", "/sites/" + siteA + "/points/" + pointA + "/chart.svg?tag=FLOW",
		"/sites/" + siteA + "/export/transactions/csv", "/static/console.css", "/sites/" + siteB, "/nothing"} {
		req, _ := http.NewRequest(http.MethodGet, x.ts.URL+path, nil)
		resp, err := c.c.Do(req)
		must(t, err)
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy allows inline code: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Content-Type-Options %q, X-Frame-Options %q", path, h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"))
		}
		if cc := h.Get("Cache-Control"); strings.Contains(path, "/export/") && !strings.Contains(cc, "no-store") || path == "/sites" && cc != "no-store" {
			t.Errorf("%s: Cache-Control %q: a page or a file of a site's data is not to be kept", path, cc)
		}
	}
}

// TestXSS: what people and boxes write (a site's name, an alarm's comment, a tag asked for in a chart)
// is text on every page and in every chart, never markup.
func TestXSS(t *testing.T) {
	x := newTestServer(t)
	ctx := context.Background()
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	s, err := x.st.Site(ctx, siteA)
	must(t, err)
	s.Name = "Склад " + evil
	must(t, x.st.PutSite(ctx, s))
	c := x.client("officer").login()
	if code, _ := c.post("/alarms/"+strconv.FormatInt(x.alarmA, 10)+"/note", url.Values{"comment": {evil}}); code != http.StatusSeeOther {
		t.Fatalf("note: %d", code)
	}
	for _, path := range []string{"/sites", "/sites/" + siteA, "/alarms/" + strconv.FormatInt(x.alarmA, 10), "/sites/" + siteA + "/lifecycle",
		"/sites/" + siteA + "/points/" + pointA + "?tag=" + url.QueryEscape(evil),
		"/sites/" + siteA + "/points/" + pointA + "/chart.svg?tag=" + url.QueryEscape(evil),
		"/sites/" + siteA + "/points/" + pointA + "/chart.svg?span=1h&tag=" + url.QueryEscape(evil)} {
		code, body := c.get(path)
		if code != http.StatusOK {
			t.Errorf("%s: %d", path, code)
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s carries the markup unescaped", path)
		}
	}
	if _, body := c.get("/sites/" + siteA); !strings.Contains(body, "Склад &#34;&gt;&lt;script&gt;") {
		t.Error("the site's name is not shown as text")
	}
}

// TestAuditExportAddresses: the clients' addresses in a site's audit log are for administrators; the
// site's operator exports the entries without them.
func TestAuditExportAddresses(t *testing.T) {
	x := newTestServer(t)
	officer := x.client("officer").login()
	if code, _ := officer.post("/alarms/"+strconv.FormatInt(x.alarmA, 10)+"/note", url.Values{"comment": {"Проверка"}}); code != http.StatusSeeOther {
		t.Fatalf("note: %d", code)
	}
	x.clock.Add(time.Second) // the export's period ends now, before which the note was made
	for who, want := range map[string]bool{"operator": false, "officer": false, "admin": true} {
		_, body := x.client(who).login().get("/sites/" + siteA + "/export/audit/csv")
		if !strings.Contains(body, "Проверка") {
			t.Errorf("%s: the export lacks the entry\n%s", who, body)
		}
		if got := strings.Contains(body, "127.0.0.1"); got != want {
			t.Errorf("%s: the export shows the address: %v, want %v\n%s", who, got, want, body)
		}
	}
}

// TestCodeNames: every code the console shows in the catalogue's words has its words in both
// languages — the kinds of events and incidents, the roles and quality flags of values, the kinds of
// comparisons, the audit's actions of the console itself — so that no code shows raw. (An alarm's detail
// is package watch's words, checked by its TestCatalogueHasTheMadeKeys.)
func TestCodeNames(t *testing.T) {
	var keys []string
	for _, k := range core.EventKinds {
		keys = append(keys, "watch.event."+string(k))
	}
	for _, r := range core.Roles {
		keys = append(keys, "web.value_role."+string(r))
	}
	for _, q := range []core.Quality{core.QualityLow, core.QualityHigh, core.QualityTest, core.QualityStale, core.QualityError, core.QualityInvalid} {
		keys = append(keys, "web.quality."+string(q))
	}
	for _, k := range []store.IncidentKind{store.IncidentGap, store.IncidentReplay, store.IncidentReorder, store.IncidentAltered,
		store.IncidentBadSignature, store.IncidentUnknownCertificate, store.IncidentExpiredCertificate, store.IncidentWrongDevice,
		store.IncidentWrongOperator, store.IncidentMalformed} {
		keys = append(keys, "web.incident."+string(k))
	}
	for _, k := range []store.ComparisonKind{store.ComparisonThreeWay, store.ComparisonTestData} {
		keys = append(keys, "web.comparison."+string(k))
	}
	for _, k := range store.AlarmKinds {
		keys = append(keys, "watch.kind."+string(k))
	}
	for _, k := range []string{"session.login", "session.logout", "alarm.acknowledged", "alarm.closed", "alarm.noted",
		"site.move", "site.commissioning", "config.upload", "notice.given", "comparison.three-way", "person.add", "person.disable",
		"person.enable", "person.cert.add", "person.cert.remove"} {
		keys = append(keys, "web.audit_action."+k)
	}
	keys = append(keys, "web.notice_change.added", "web.notice_change.removed", "web.role.engine")
	for _, k := range keys {
		for _, l := range i18n.Langs {
			if !i18n.Has(l, k) {
				t.Errorf("the %s catalogue lacks %q", l, k)
			}
		}
	}
}

// TestEmptyTimes: what has not happened is not shown as an empty time: an open alarm has no „restored“
// or „closed“ line, a site without data says so, and the watch engine's entries are the system's.
func TestEmptyTimes(t *testing.T) {
	x := newTestServer(t)
	ctx := context.Background()
	must(t, x.st.PutSite(ctx, store.Site{Warehouse: "BGNCA00009001", Operator: eikA, Name: "Нов склад", CustomsOffice: officeA, State: store.SiteDraft}))
	c := x.client("officer").login()
	_, body := c.get("/alarms/" + strconv.FormatInt(x.alarmA, 10))
	for _, bad := range []string{"<dt>Закрита</dt>", "<dt>Условието отпадна</dt>", ">engine"} {
		if strings.Contains(body, bad) {
			t.Errorf("an open alarm's page shows %q", bad)
		}
	}
	if !strings.Contains(body, "<td>системата</td>") {
		t.Error("the engine's entry is not the system's")
	}
	if _, body = c.get("/sites"); !regexp.MustCompile(`BGNCA00009001</a></td>(?s:.*?)<span class="muted">няма данни</span>`).MatchString(body) {
		t.Errorf("a site without data:\n%s", body[strings.Index(body, "<main>"):])
	}
	if _, body = c.get("/sites/BGNCA00009001"); !strings.Contains(body, "<dd>няма данни</dd>") {
		t.Error("the site page of a site without data does not say so")
	}
}
