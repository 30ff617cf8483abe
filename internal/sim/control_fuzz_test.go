package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzControlFault feeds arbitrary bodies to POST /faults: the API answers 201 or 400, never fails, and
// whatever it accepts the simulation can apply.
func FuzzControlFault(f *testing.F) {
	for _, s := range []string{
		`{"kind":"delay","unit":1,"ms":500,"for":"30s"}`, `{"kind":"door"}`, `{"kind":"power","for":"1m"}`,
		`{"kind":"error-bits","point":1,"bits":5}`, `{"kind":"totalizer-backwards","point":2,"amount":10}`,
		`{"kind":"exception","code":6,"rate":0.5}`, `{"kind":"drop","unit":3}`, `{}`, `[]`, `{"for":12}`,
	} {
		f.Add(s)
	}
	sc, err := LoadFile("../../examples/fuel-depot/scenario.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, err := New(sc, Options{Seed: 1, Start: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.ControlHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/faults", strings.NewReader(body)))
		if rec.Code != http.StatusCreated && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		for i := 0; i < 3; i++ {
			if err := s.Step(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
