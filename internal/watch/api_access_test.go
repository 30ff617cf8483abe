package watch_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// An operator never sees another operator's site, by any route, path or parameter: every endpoint of the
// API is tried by a second operator (who has a site of its own) against the first one's site, its alarm,
// its comparison, its points and devices. Each answer is 404 (exactly as for a site that does not exist,
// so that warehouse numbers cannot be probed), 400 for a parameter naming another site's place under
// one's own site, or a list without the other site; and nothing of the first site changed.
func TestAPINoOtherOperatorsSite(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	const mySite = "BGNCA00005002"
	myDevice := mySite + "001"
	f.must(f.st.PutSite(f.ctx, store.Site{Warehouse: mySite, Operator: otherOp, Name: "Друг склад", CustomsOffice: office,
		State: store.SiteLive}))
	f.must(f.st.PutDevice(f.ctx, store.Device{ID: myDevice}))
	f.must(f.st.PutPoint(f.ctx, store.Point{ID: myDevice + "001"}))

	// The first operator's site has data, an alarm, a configuration and a comparison.
	now := f.clock.Now()
	f.send(reading(point1, now, vol("12.5")), event("", now, core.Event{Kind: core.EventPowerLost}),
		transaction(point1, now, "A95E10", core.DirectionOut, "10", "7.5"))
	f.accept()
	f.tick(f.engine(nil))
	alarm := f.open(store.AlarmPowerLoss)[""]
	values, err := watch.ParseTestValues(strings.NewReader("point;time;tag;value\n" + point1 + ";" +
		now.Format(time.RFC3339) + ";p1_total_volume;12.5\n"))
	f.must(err)
	cmp, err := watch.NewComparisons(f.st, decode, f.clock).TestData(f.ctx, operator, site, values)
	f.must(err)
	historyBefore := len(f.history(alarm.ID))

	srv := apiServer(t, f)
	period := "from=" + now.Add(-time.Hour).Format(time.RFC3339) + "&to=" + now.Add(time.Hour).Format(time.RFC3339)
	testData := "point;time;tag;value\n" + point1 + ";" + now.Format(time.RFC3339) + ";p1_total_volume;12.5\n"
	cfg := string(exampleConfig(t))
	type try struct {
		method, path, body string
		want               int // 404, 400, or 200 for a list that must not name the site
	}
	tries := map[string][]try{
		"GET /api/v1/watch/sites": {{"GET", "/sites", "", 200}},
		"GET /api/v1/watch/alarms": {
			{"GET", "/alarms", "", 200},
			{"GET", "/alarms?site=" + site, "", 200},
			{"GET", "/alarms?point=" + point1, "", 200},
			{"GET", "/alarms?format=csv&site=" + site, "", 200},
		},
		"GET /api/v1/watch/alarms/{id}": {{"GET", "/alarms/" + itoa(alarm.ID), "", 404}},
		"POST /api/v1/watch/alarms/{id}/{action}": {
			{"POST", "/alarms/" + itoa(alarm.ID) + "/acknowledge", `{"comment":"x"}`, 404},
			{"POST", "/alarms/" + itoa(alarm.ID) + "/note", `{"comment":"x"}`, 404},
			{"POST", "/alarms/" + itoa(alarm.ID) + "/close", `{"comment":"x"}`, 404},
		},
		"GET /api/v1/watch/sites/{site}/moves":   {{"GET", "/sites/" + site + "/moves", "", 404}},
		"POST /api/v1/watch/sites/{site}/moves":  {{"POST", "/sites/" + site + "/moves", `{"to":"closed","reason":"x"}`, 404}},
		"GET /api/v1/watch/sites/{site}/configs": {{"GET", "/sites/" + site + "/configs", "", 404}},
		"POST /api/v1/watch/sites/{site}/configs": {
			{"POST", "/sites/" + site + "/configs", cfg, 404},
			{"POST", "/sites/" + mySite + "/configs", cfg, 422}, // another site's file under one's own: refused
		},
		"GET /api/v1/watch/sites/{site}/notices": {{"GET", "/sites/" + site + "/notices", "", 404}},
		"GET /api/v1/watch/sites/{site}/readings": {
			{"GET", "/sites/" + site + "/readings?" + period, "", 404},
			{"GET", "/sites/" + site + "/readings?format=csv&" + period, "", 404},
			{"GET", "/sites/" + mySite + "/readings?point=" + point1 + "&" + period, "", 400},
			{"GET", "/sites/" + mySite + "/readings?device=" + device + "&" + period, "", 400},
		},
		"GET /api/v1/watch/sites/{site}/transactions": {
			{"GET", "/sites/" + site + "/transactions?" + period, "", 404},
			{"GET", "/sites/" + site + "/transactions?format=xlsx&" + period, "", 404},
			{"GET", "/sites/" + mySite + "/transactions?point=" + point1 + "&" + period, "", 400},
		},
		"GET /api/v1/watch/sites/{site}/events": {
			{"GET", "/sites/" + site + "/events?" + period, "", 404},
			{"GET", "/sites/" + mySite + "/events?device=" + device + "&" + period, "", 400},
		},
		"GET /api/v1/watch/sites/{site}/totals": {
			{"GET", "/sites/" + site + "/totals?" + period, "", 404},
			{"GET", "/sites/" + site + "/totals?format=csv&" + period, "", 404},
			{"GET", "/sites/" + mySite + "/totals?point=" + point1 + "&" + period, "", 400},
		},
		"POST /api/v1/watch/sites/{site}/test-data": {
			{"POST", "/sites/" + site + "/test-data", testData, 404},
			{"POST", "/sites/" + mySite + "/test-data", testData, 400},
		},
		"GET /api/v1/watch/sites/{site}/comparisons": {{"GET", "/sites/" + site + "/comparisons", "", 404}},
		"GET /api/v1/watch/comparisons/{id}": {
			{"GET", "/comparisons/" + itoa(cmp.ID), "", 404},
			{"GET", "/comparisons/" + itoa(cmp.ID) + "?format=pdf", "", 404},
		},
	}
	for _, pattern := range watch.RoutePatterns() {
		list, ok := tries[pattern]
		if !ok {
			t.Errorf("%s: no access test; add one here", pattern)
			continue
		}
		for _, tr := range list {
			code, body, _ := call(t, srv, tr.method, watch.Prefix[:len(watch.Prefix)-1]+tr.path, otherOp, "en", tr.body)
			if code != tr.want {
				t.Errorf("%s %s: %d %.300s, want %d", tr.method, tr.path, code, body, tr.want)
			}
			if tr.want == 200 && (strings.Contains(body, site) || strings.Contains(body, "BGNCA00005001")) {
				t.Errorf("%s %s names the other operator's site: %.300s", tr.method, tr.path, body)
			}
			if strings.Contains(body, "12.5") || strings.Contains(body, "12,5") {
				t.Errorf("%s %s shows the other operator's data: %.300s", tr.method, tr.path, body)
			}
			if tr.want == 404 {
				// The same answer as for a warehouse number that does not exist.
				ghost := strings.ReplaceAll(tr.path, site, "BGNCA00009999")
				ghost = strings.ReplaceAll(ghost, "/"+itoa(alarm.ID), "/999999")
				ghost = strings.ReplaceAll(ghost, "/"+itoa(cmp.ID), "/999999")
				gcode, gbody, _ := call(t, srv, tr.method, watch.Prefix[:len(watch.Prefix)-1]+ghost, otherOp, "en", tr.body)
				norm := func(s string) string {
					for _, x := range []string{site, "BGNCA00009999", itoa(alarm.ID), itoa(cmp.ID), "999999"} {
						s = strings.ReplaceAll(s, x, "…")
					}
					return s
				}
				if gcode != code || norm(gbody) != norm(body) {
					t.Errorf("%s %s: %d %s; for a site that does not exist: %d %s", tr.method, tr.path, code, body, gcode, gbody)
				}
			}
		}
	}
	// Nothing of the first site changed.
	if n := len(f.history(alarm.ID)); n != historyBefore {
		t.Errorf("alarm history grew from %d to %d entries", historyBefore, n)
	}
	if ms, _ := f.st.SiteMoves(f.ctx, site); len(ms) != 0 {
		t.Errorf("moves %+v", ms)
	}
	if vs, _ := f.st.ConfigVersions(f.ctx, site); len(vs) != 1 {
		t.Errorf("%d configuration versions, want the one accepted", len(vs))
	}
	if cs, _ := f.st.Comparisons(f.ctx, site); len(cs) != 1 {
		t.Errorf("%d comparisons, want 1", len(cs))
	}
	// The operator itself does see its site through the same routes (the test is not vacuous).
	if code, body, _ := call(t, srv, "GET", "/api/v1/watch/alarms/"+itoa(alarm.ID), opEIK, "", ""); code != http.StatusOK {
		t.Errorf("own alarm: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/readings?"+period, opEIK, "", ""); code != http.StatusOK || !strings.Contains(body, "12.5") {
		t.Errorf("own readings: %d %s", code, body)
	}
}
