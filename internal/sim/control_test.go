package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestControlAPI(t *testing.T) {
	s, buf := newSim(t, "fuel-depot", 1)
	srv := httptest.NewServer(s.ControlHandler())
	defer srv.Close()
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := do("POST", "/faults", `{"kind":"delay","unit":1,"ms":500,"for":"30s"}`)
	if code != http.StatusCreated || m["id"] != 1.0 {
		t.Fatalf("POST delay: %d %v", code, m)
	}
	for _, bad := range []string{`{"kind":"delay","unit":1}`, `{"kind":"flood"}`, `{"kind":"door","colour":"red"}`, `{"kind":"door","for":"soon"}`, `not json`, `{"kind":"door"} {"kind":"door"}`} {
		if code, m := do("POST", "/faults", bad); code != http.StatusBadRequest || m["error"] == "" {
			t.Errorf("POST %s: %d %v", bad, code, m)
		}
	}
	if code, _ := do("POST", "/faults", `{"kind":"door"}`); code != http.StatusCreated {
		t.Fatalf("POST door: %d", code)
	}
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	code, m = do("GET", "/state", "")
	if code != http.StatusOK || m["door_open"] != true || len(m["faults"].([]any)) != 2 || len(m["points"].([]any)) != 5 {
		t.Fatalf("GET /state: %d %v", code, m)
	}
	if code, _ := do("DELETE", "/faults/2", ""); code != http.StatusAccepted {
		t.Fatalf("DELETE /faults/2: %d", code)
	}
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	if _, m := do("GET", "/state", ""); m["door_open"] != false || len(m["faults"].([]any)) != 1 {
		t.Fatalf("after DELETE /faults/2: %v", m)
	}
	if code, _ := do("DELETE", "/faults", ""); code != http.StatusAccepted {
		t.Fatalf("DELETE /faults: %d", code)
	}
	if err := s.Step(); err != nil {
		t.Fatal(err)
	}
	if _, m := do("GET", "/state", ""); len(m["faults"].([]any)) != 0 {
		t.Fatalf("after DELETE /faults: %v", m)
	}
	// Every injection and clearing is in the truth.
	n := 0
	for _, r := range records(t, buf.Bytes()) {
		if r["type"] == "fault" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d fault records, want 4 (2 injected, 2 cleared)", n)
	}
}
