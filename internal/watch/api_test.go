package watch_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// apiServer serves the watch API; the client's operator is the X-Test-EIK header (the mTLS identity is
// ingest's, tested there; cmd/akciz's test runs the whole server with certificates).
func apiServer(t *testing.T, f *fixture) *httptest.Server {
	api := watch.NewAPI(f.st, func(r *http.Request) (string, error) {
		if eik := r.Header.Get("X-Test-EIK"); eik != "" {
			return eik, nil
		}
		return "", errors.New("no client certificate")
	}, decode, f.clock, nil)
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, eik, lang, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if eik != "" {
		req.Header.Set("X-Test-EIK", eik)
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// The operator's API: its own sites only, alarms with their actions, readings as JSON and CSV, the
// test data of чл. 27, and problems in the client's language.
func TestAPI(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	e := f.engine(nil)
	now := f.clock.Now()
	f.send(reading(point1, now, vol("12.5")), event("", now, core.Event{Kind: core.EventPowerLost}))
	f.tick(e)
	srv := apiServer(t, f)

	if code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites", "", "", ""); code != http.StatusForbidden || !strings.Contains(body, "urn:akciz:problem:forbidden") {
		t.Errorf("without a certificate: %d %s", code, body)
	}
	code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites", opEIK, "", "")
	if code != 200 || !strings.Contains(body, `"warehouse":"BGNCA00005001"`) {
		t.Errorf("sites: %d %s", code, body)
	}
	if _, body, _ := call(t, srv, "GET", "/api/v1/watch/sites", otherOp, "", ""); strings.TrimSpace(body) != "[]" {
		t.Errorf("another operator's sites: %s", body)
	}

	code, body, _ = call(t, srv, "GET", "/api/v1/watch/alarms?state=open", opEIK, "bg", "")
	var alarms []struct {
		ID       int64  `json:"ID"`
		Kind     string `json:"Kind"`
		KindText string `json:"kindText"`
	}
	if err := json.Unmarshal([]byte(body), &alarms); err != nil || code != 200 || len(alarms) != 1 || alarms[0].KindText != "Отпаднало захранване" {
		t.Fatalf("alarms: %d %s %v", code, body, err)
	}
	id := alarms[0].ID
	path := "/api/v1/watch/alarms/" + itoa(id)
	if code, body, _ := call(t, srv, "POST", path+"/acknowledge", otherOp, "en", `{"comment":"x"}`); code != 404 || !strings.Contains(body, "no access") {
		t.Errorf("another operator acknowledges: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "POST", path+"/acknowledge", opEIK, "", `{"comment":"UPS работи"}`); code != 200 || !strings.Contains(body, `"acknowledged"`) {
		t.Errorf("acknowledge: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "POST", path+"/close", opEIK, "bg", `{"comment":"готово"}`); code != 403 || !strings.Contains(body, "още е активна") {
		t.Errorf("close an ongoing alarm: %d %s", code, body)
	}
	if code, _, _ := call(t, srv, "POST", path+"/acknowledge", opEIK, "", `{"comment":1}`); code != 400 {
		t.Errorf("bad JSON: %d", code)
	}
	if code, body, _ := call(t, srv, "GET", path, opEIK, "", ""); code != 200 || !strings.Contains(body, `"history"`) {
		t.Errorf("alarm: %d %s", code, body)
	}

	from, to := now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)
	q := "?from=" + from + "&to=" + to
	code, body, _ = call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/readings"+q, opEIK, "", "")
	var rows []watch.ReadingRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil || code != 200 || len(rows) != 1 || rows[0].Value != "12.5" {
		t.Errorf("readings: %d %s %v", code, body, err)
	}
	code, body, h := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/readings"+q+"&format=csv", opEIK, "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(body, "12,5") {
		t.Errorf("readings csv: %d %s", code, body)
	}
	if code, _, h := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/events"+q+"&format=xlsx", opEIK, "", ""); code != 200 || !strings.Contains(h.Get("Content-Type"), "spreadsheetml") {
		t.Errorf("events xlsx: %d", code)
	}
	if code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/readings"+q, otherOp, "", ""); code != 404 {
		t.Errorf("another operator's readings: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/readings?from=yesterday&to="+to, opEIK, "en", ""); code != 400 || !strings.Contains(body, "parameter from") {
		t.Errorf("bad time: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/totals"+q+"&period=month", opEIK, "", ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("totals: %d %s", code, body)
	}

	testData := "point;time;tag;value\n" + point1 + ";" + now.Format(time.RFC3339) + ";p1_total_volume;12.50\n"
	code, body, _ = call(t, srv, "POST", "/api/v1/watch/sites/"+site+"/test-data", opEIK, "", testData)
	var cmp store.Comparison
	if err := json.Unmarshal([]byte(body), &cmp); err != nil || code != 201 || cmp.Matches != 1 {
		t.Fatalf("test data: %d %s %v", code, body, err)
	}
	code, body, h = call(t, srv, "GET", "/api/v1/watch/comparisons/"+itoa(cmp.ID)+"?format=pdf", opEIK, "", "")
	if code != 200 || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
		t.Errorf("comparison pdf: %d %.40q", code, body)
	}
	if code, body, _ := call(t, srv, "POST", "/api/v1/watch/sites/"+site+"/test-data", opEIK, "en", "point;time;tag;value\nx;y;z;w\n"); code != 400 || !strings.Contains(body, "line 2") {
		t.Errorf("bad test data: %d %s", code, body)
	}

	// Lifecycle through the API: an operator cannot suspend its own site.
	if code, body, _ := call(t, srv, "POST", "/api/v1/watch/sites/"+site+"/moves", opEIK, "", `{"to":"suspended","reason":"x"}`); code != 403 {
		t.Errorf("operator suspends: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "POST", "/api/v1/watch/sites/"+site+"/configs", opEIK, "", string(exampleConfig(t))); code != 201 || !strings.Contains(body, `"accepted"`) {
		t.Errorf("config upload: %d %.200s", code, body)
	}
}

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The alarms list pages with limit and offset; a bad number is refused naming the parameter.
func TestAPIAlarmsPaging(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	now := f.clock.Now()
	f.send(event("", now, core.Event{Kind: core.EventPowerLost}), event("", now.Add(time.Second), core.Event{Kind: core.EventDoorOpened}),
		event("", now.Add(2*time.Second), core.Event{Kind: core.EventUnsentTooLong}))
	f.tick(f.engine(nil))
	srv := apiServer(t, f)
	kinds := func(q string) []string {
		t.Helper()
		code, body, _ := call(t, srv, "GET", "/api/v1/watch/alarms"+q, opEIK, "", "")
		var as []struct{ Kind string }
		if err := json.Unmarshal([]byte(body), &as); code != 200 || err != nil {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.Kind)
		}
		return out
	}
	if got := strings.Join(kinds("?limit=2"), " "); got != "unsent-too-long door-opened" {
		t.Errorf("limit 2: %s", got)
	}
	if got := strings.Join(kinds("?limit=2&offset=2"), " "); got != "power-loss" {
		t.Errorf("limit 2 offset 2: %s", got)
	}
	for _, q := range []string{"?limit=0", "?limit=10001", "?offset=-1", "?limit=x"} {
		if code, body, _ := call(t, srv, "GET", "/api/v1/watch/alarms"+q, opEIK, "en", ""); code != 400 || !strings.Contains(body, "parameter ") {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
}

// A JSON body over its bound, with an unknown field, or with a second value is refused as invalid input,
// and the message says which.
func TestAPIBadJSONBodies(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	srv := apiServer(t, f)
	path := "/api/v1/watch/sites/" + site + "/moves"
	for name, tc := range map[string]struct{ body, want string }{
		"too large":     {`{"to":"closed","reason":"` + strings.Repeat("я", watch.MaxJSONBody) + `"}`, "larger than 65536 bytes"},
		"unknown field": {`{"to":"closed","why":"x"}`, `unknown field \"why\"`},
		"two values":    {`{"to":"closed","reason":"x"} {}`, "more than one JSON value"},
		"not JSON":      {`to=closed`, "invalid character"},
	} {
		code, body, _ := call(t, srv, "POST", path, opEIK, "en", tc.body)
		if code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %.200s, want 400 with %q", name, code, body, tc.want)
		}
	}
	if ms, _ := f.st.SiteMoves(f.ctx, site); len(ms) != 0 {
		t.Errorf("a bad body moved the site: %+v", ms)
	}
}
