package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// maxControlBody bounds a request to the control API; a fault is a few dozen bytes.
const maxControlBody = 64 << 10

// ControlHandler is the run-time control API (docs/simulator.md): POST /faults injects a fault given as
// JSON, DELETE /faults clears every fault, DELETE /faults/{id} one, GET /faults lists those in force, GET
// /state gives a snapshot of the plant. It has no authentication: serve it on loopback only.
func (s *Sim) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", s.postFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		s.Clear(-1)
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "clearing all faults at the next tick"})
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault id must be a positive integer"})
			return
		}
		s.Clear(id)
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "clearing at the next tick", "id": id})
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.State().Faults)
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	return mux
}

func (s *Sim) postFault(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	var f Fault
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("fault: %v", err)})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault: one JSON object per request"})
		return
	}
	id, err := s.Inject(f)
	if err != nil {
		var se *Error
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Msg.String()
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "fault": f})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
