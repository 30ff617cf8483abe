package ingest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// The paths of the API besides wire.BatchesPath (docs/protocol.md, "Transport"; docs/openapi.yaml).
const (
	TipPath         = "/api/v1/devices/{device}/tip"
	CheckpointPath  = "/api/v1/checkpoint"
	ConsistencyPath = "/api/v1/proof/consistency"
	ReceiptPath     = "/api/v1/receipts/{device}/{first}"
	BatchPath       = "/api/v1/batches/{device}/{first}"
	LogKeyPath      = "/api/v1/log/key"
)

// Codes of answers to the read endpoints, beside the protocol's batch codes.
const (
	CodeNotFound    wire.Code = "not-found"   // 404: no such batch
	CodeUnavailable wire.Code = "unavailable" // 503: overloaded or shutting down; retry after Retry-After
	CodeInternal    wire.Code = "internal"    // 500: the server failed; retry later
)

// Handler gives the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.BatchesPath, s.postBatch)
	mux.HandleFunc("GET "+TipPath, s.getTip)
	mux.HandleFunc("GET "+CheckpointPath, s.getCheckpoint)
	mux.HandleFunc("GET "+ConsistencyPath, s.getConsistency)
	mux.HandleFunc("GET "+ReceiptPath, s.getReceipt)
	mux.HandleFunc("GET "+BatchPath, s.getBatch)
	mux.HandleFunc("GET "+LogKeyPath, s.getLogKey)
	return mux
}

// printer picks the language of problem documents: English when Accept-Language starts with "en",
// Bulgarian otherwise (the protocol's default).
func printer(r *http.Request) *i18n.Printer {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language"))), "en") {
		return i18n.For(i18n.EN)
	}
	return i18n.For(i18n.BG)
}

// answer is a refusal: the protocol error, the device and the next seq the server expects.
type answer struct {
	err      error
	device   string
	expected uint64
	status   int   // overrides the code's status when not 0
	incident int64 // the incident the refusal was kept as, when one
}

// problemDoc is the problem document with the members the intake adds to wire.Problem: the incident a
// refusal was kept as (RFC 9457's instance names it too), so that an operator and an officer speak of
// the same one.
type problemDoc struct {
	wire.Problem
	Instance string `json:"instance,omitempty"` // urn:akciz:incident:<id>
	Incident int64  `json:"incident,omitempty"`
}

func (s *Server) problem(w http.ResponseWriter, r *http.Request, a answer) {
	p := printer(r)
	var pd wire.Problem
	var e *wire.Error
	switch {
	case errors.As(a.err, &e) && (e.Code == CodeNotFound || e.Code == CodeUnavailable || e.Code == CodeInternal):
		pd = wire.Problem{Type: "urn:akciz:problem:" + string(e.Code), Title: codeTitle(p, e.Code),
			Detail: p.Msg(e.Msg), Code: e.Code, Seq: e.Seq, Device: a.device}
		pd.Status = map[wire.Code]int{CodeNotFound: http.StatusNotFound, CodeUnavailable: http.StatusServiceUnavailable,
			CodeInternal: http.StatusInternalServerError}[e.Code]
	default:
		pd = wire.ProblemFor(a.err, a.device, p)
	}
	if a.status != 0 {
		pd.Status = a.status
	}
	if pd.Code == wire.CodeGap || pd.Code == wire.CodeReplay {
		pd.Expected = a.expected
	}
	if pd.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	doc := problemDoc{Problem: pd}
	if a.incident > 0 {
		doc.Incident, doc.Instance = a.incident, "urn:akciz:incident:"+strconv.FormatInt(a.incident, 10)
	}
	w.Header().Set("Content-Type", wire.ProblemType)
	w.Header().Set("Content-Language", string(p.Lang()))
	w.WriteHeader(pd.Status)
	json.NewEncoder(w).Encode(doc)
}

func errorf(code wire.Code, seq uint64, key string, args ...any) *wire.Error {
	return &wire.Error{Code: code, Seq: seq, Msg: i18n.M(key, args...)}
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, device string, err error) {
	s.logger.Printf("%s %s: %v", r.Method, r.URL.Path, err)
	s.problem(w, r, answer{err: errorf(CodeInternal, 0, "ingest.internal"), device: device})
}

// tolerate logs a checkpoint that was made but not stored (notStoredError) and lets the request go on
// with it; other errors it gives back.
func (s *Server) tolerate(err error) error {
	var ns *notStoredError
	if errors.As(err, &ns) {
		s.logger.Printf("%v (the checkpoint was answered; it is made again from the same tree)", err)
		return nil
	}
	return err
}

// Identify gives the EIK of the operator whose TLS client certificate made r, checked as a batch's is
// (chain, validity, revocation, registration). The other parts of the API (submissions, queries) use it
// so that one certificate means one operator everywhere. A refusal is a *wire.Error.
func (s *Server) Identify(r *http.Request) (string, error) { return s.client(r.Context(), r) }

// client identifies the operator of the TLS client certificate.
func (s *Server) client(ctx context.Context, r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", errorf(wire.CodeUnknownCertificate, 0, "ingest.client.no_cert")
	}
	certs := r.TLS.PeerCertificates
	inter := make([][]byte, 0, len(certs)-1)
	for _, c := range certs[1:] {
		inter = append(inter, c.Raw)
	}
	return s.cfg.Trust.Identify(ctx, certs[0], inter, s.now())
}

// owns checks that the client's operator owns the device (wrong-device, 403, otherwise) and gives the
// device's operator.
func (s *Server) owns(ctx context.Context, client, device string) (string, error) {
	op, err := s.deviceOperator(ctx, device)
	if errors.Is(err, store.ErrNotFound) {
		return "", errorf(wire.CodeWrongDevice, 0, "ingest.device.unknown", device)
	}
	if err != nil {
		return "", err
	}
	if op != client {
		return "", errorf(wire.CodeWrongDevice, 0, "ingest.device.not_owned", device, client)
	}
	return op, nil
}

// isProtocol reports whether err is a protocol refusal (as opposed to a failure of the server).
func isProtocol(err error) bool {
	var e *wire.Error
	return errors.As(err, &e)
}

// intake is one batch on its way in: what the header check learnt.
type intake struct {
	client   string    // the operator of the TLS client certificate, once the header is read
	device   string    // the header's device, once the client is known to own it
	created  time.Time // the header's created
	head     store.Head
	leaf     *x509.Certificate
	operator string
}

// busy answers a batch the gate refused: 503 with Retry-After, saying which bound.
func (s *Server) busy(w http.ResponseWriter, r *http.Request, client string, why busyReason) {
	var e *wire.Error
	switch why {
	case busyClient:
		e = errorf(CodeUnavailable, 0, "ingest.busy_client", client, s.gate.maxClientBatches)
	case busyBytes, busyClientBy:
		e = errorf(CodeUnavailable, 0, "ingest.busy_bytes")
	default:
		e = errorf(CodeUnavailable, 0, "ingest.busy")
	}
	s.problem(w, r, answer{err: e})
}

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The client first (a cached look-up for a known certificate): the bounds are per operator.
	client, err := s.client(ctx, r)
	if err != nil {
		s.refuse(w, r, answer{err: err}, nil)
		return
	}
	lim := s.cfg.Limits
	// A body is counted at its Content-Length (Go's server never reads past it) or, without one, at the
	// most it may be; one byte over the limit lets the decoder tell "too large" from "exactly the limit".
	reserve := lim.MaxCompressed + 1
	if r.ContentLength >= 0 && r.ContentLength < reserve {
		reserve = r.ContentLength
	}
	if why := s.gate.take(client, reserve); why != notBusy {
		s.busy(w, r, client, why)
		return
	}
	defer s.gate.put(client, reserve)
	if s.gateHook != nil {
		s.gateHook(client, true)
		defer s.gateHook(client, false)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != wire.BatchType {
		s.problem(w, r, answer{err: errorf(wire.CodeMalformed, 0, "ingest.body.type", r.Header.Get("Content-Type"), wire.BatchType),
			status: http.StatusUnsupportedMediaType})
		return
	}
	from, _ := strconv.ParseInt(r.Header.Get(wire.TreeSizeHeader), 10, 64)
	body := http.MaxBytesReader(w, r.Body, lim.MaxCompressed+1)

	// The compressed body is read first (bounded), so that a slow link holds a connection and its bytes,
	// not a verification slot; then it is decoded and verified as a stream in one of the slots, of which
	// there are as many as processors, so that the store's committer is never starved of CPU.
	raw, err := io.ReadAll(io.LimitReader(body, lim.MaxCompressed+1))
	if err != nil {
		var mb *http.MaxBytesError
		if !errors.As(err, &mb) {
			return // the client went away
		}
	}
	select {
	case s.verify <- struct{}{}:
	case <-ctx.Done():
		return
	}
	var in intake
	var rows []store.Row
	var arena arena
	var config string
	h, err := wire.DecodeBatch(bytes.NewReader(raw), wire.DecodeOptions{Limits: lim,
		Header: func(h *wire.Header) error {
			if err := s.admit(ctx, client, h, &in); err != nil {
				return err
			}
			rows = make([]store.Row, 0, h.Count) // Count is within lim.MaxRecords
			return nil
		},
	}, func(e *wire.Entry) error {
		// The signer chooses created, and the certificate is judged at it: a batch dated before a record
		// it carries is backdated (perhaps into an expired certificate's validity).
		if e.Record.Time.After(in.created) {
			return errorf(wire.CodeMalformed, e.Seq, "ingest.created.before_record", e.Seq,
				e.Record.Time.UTC().Format(time.RFC3339Nano), in.created.UTC().Format(time.RFC3339Nano))
		}
		rows = append(rows, store.Row{Device: e.Record.Device, Seq: int64(e.Seq), Hash: store.Hash(e.Hash),
			Kind: e.Record.Kind, Time: e.Record.Time, Point: e.Record.Point, Test: e.Record.Test, Bytes: arena.copy(e.Raw)})
		if e.Record.Config != "" {
			config = e.Record.Config
		}
		return nil
	})
	<-s.verify
	if err != nil {
		if !isProtocol(err) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.internal(w, r, in.device, err)
			return
		}
		s.refuse(w, r, answer{err: err, device: in.device, expected: uint64(in.head.Seq) + 1}, &in)
		return
	}
	header, err := headerLine(raw, lim.MaxLine, h)
	if err != nil {
		s.internal(w, r, h.Device, err)
		return
	}
	b := &store.Batch{Device: h.Device, First: int64(h.First), Last: int64(h.Last), Digest: store.Hash(h.Digest()),
		PrevChain: store.Hash(h.PrevChain), LastChain: store.Hash(h.LastChain), PrevBatch: store.Hash(h.PrevBatch),
		Created: h.Created, Signature: h.Sig, Signer: store.Fingerprint(in.leaf.Raw), Config: config,
		ReceivedAt: core.Stamp(s.now()), Header: header, Records: rows}
	res, err := s.committer.Commit(ctx, b)
	if err != nil {
		s.commitFailed(w, r, h, &in, err)
		return
	}
	if res.Duplicate && res.Digest != b.Digest {
		// The same records signed again as another batch: not a retry of the stored one
		// (docs/protocol.md, "POST /api/v1/batches"); the agent fetches the stored batch's receipt.
		s.refuse(w, r, answer{err: errorf(wire.CodeReplay, h.First, "ingest.resigned", h.First, h.Last),
			device: h.Device, expected: uint64(in.head.Seq) + 1}, &in)
		return
	}
	if err := s.cfg.Trust.learn(ctx, in.leaf, in.operator); err != nil {
		s.logger.Printf("register certificate %s: %v", store.Fingerprint(in.leaf.Raw), err)
	}
	stored := store.StoredBatch{Device: b.Device, First: b.First, Last: b.Last, Digest: res.Digest,
		ReceivedAt: res.Received, Index: res.Index}
	rc, err := s.cfg.Log.receipt(ctx, s.cfg.Store, stored, from, s.now())
	// The batch is committed: a checkpoint not stored must not turn its receipt into a 500.
	if err = s.tolerate(err); err != nil {
		s.internal(w, r, h.Device, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	writeReceipt(w, status, rc)
}

// admit checks a batch's header before any record is decoded: its time, its signature (the one
// signature verification of the batch), the signer's certificate and operator, the device's owner, and
// the device's head.
func (s *Server) admit(ctx context.Context, client string, h *wire.Header, in *intake) error {
	in.client, in.created = client, h.Created
	// Ownership first: until the client is known to own the device, a refusal is the client's, not the
	// device's, and no incident is filed against a device (perhaps another operator's) on its say-so.
	owner, err := s.owns(ctx, client, h.Device)
	if err != nil {
		if isProtocol(err) {
			return &statusError{err: err, status: http.StatusForbidden}
		}
		return err
	}
	in.device = h.Device
	if h.Created.After(s.now().Add(s.cfg.Skew)) {
		return errorf(wire.CodeMalformed, 0, "ingest.created.future", h.Created.Format(time.RFC3339Nano))
	}
	leaf, err := h.Verify(wire.VerifyOptions{})
	if err != nil {
		return err
	}
	in.leaf = leaf
	signer, err := s.cfg.Trust.Identify(ctx, leaf, h.Certs[1:], h.Created)
	if err != nil {
		return err
	}
	if signer != owner {
		return errorf(wire.CodeWrongOperator, 0, "ingest.operator.mismatch", signer, h.Device, owner)
	}
	in.operator = signer
	head, err := s.cfg.Store.DeviceHead(ctx, h.Device)
	if err != nil {
		return err
	}
	in.head = head
	tip := wire.Tip{Seq: uint64(head.Seq), Chain: wire.Hash(head.Chain), Batch: wire.Hash(head.Batch)}
	if err := tip.Check(h); err != nil {
		var e *wire.Error
		if errors.As(err, &e) && e.Code == wire.CodeReplay {
			// Maybe a retry of a stored batch: the store tells a duplicate (answered with its receipt)
			// from a replay or an alteration once the records are read.
			return nil
		}
		return err
	}
	// New evidence may not be dated before the device's previous batch: without this lower bound a
	// signer could backdate created into the validity of an expired certificate (the upper bound is the
	// server's clock). A retry of a stored batch (answered above) keeps its own created.
	if !head.Created.IsZero() && h.Created.Before(head.Created) {
		return errorf(wire.CodeMalformed, 0, "ingest.created.before_previous",
			h.Created.UTC().Format(time.RFC3339Nano), head.Created.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// statusError carries a protocol error answered with another status than its code's (wrong-device is
// 403 when the client does not own the device).
type statusError struct {
	err    error
	status int
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// commitFailed classifies a refusal of the store.
func (s *Server) commitFailed(w http.ResponseWriter, r *http.Request, h *wire.Header, in *intake, err error) {
	var se *store.SeqError
	switch {
	case errors.As(err, &se) && errors.Is(err, store.ErrAltered):
		s.refuse(w, r, answer{err: errorf(wire.CodeAltered, uint64(se.Seq), "ingest.stored.altered", se.Seq),
			device: h.Device}, in)
	case errors.As(err, &se) && errors.Is(err, store.ErrReplay):
		s.refuse(w, r, answer{err: errorf(wire.CodeReplay, uint64(se.Seq), "ingest.stored.replay", se.Seq),
			device: h.Device, expected: uint64(in.head.Seq) + 1}, in)
	case errors.Is(err, store.ErrConflict):
		// Another batch of the device was stored since the header was admitted: classify against the
		// head as it is now.
		head, herr := s.cfg.Store.DeviceHead(r.Context(), h.Device)
		if herr != nil {
			s.internal(w, r, h.Device, herr)
			return
		}
		in.head = head
		tip := wire.Tip{Seq: uint64(head.Seq), Chain: wire.Hash(head.Chain), Batch: wire.Hash(head.Batch)}
		if cerr := tip.Check(h); cerr != nil {
			s.refuse(w, r, answer{err: cerr, device: h.Device, expected: uint64(head.Seq) + 1}, in)
			return
		}
		s.problem(w, r, answer{err: errorf(CodeUnavailable, 0, "ingest.busy"), device: h.Device})
	case errors.Is(err, store.ErrNotFound):
		s.refuse(w, r, answer{err: errorf(wire.CodeWrongDevice, 0, "ingest.device.unknown", h.Device),
			device: h.Device, status: http.StatusForbidden}, in)
	case errors.Is(err, context.Canceled):
	default:
		s.internal(w, r, h.Device, err)
	}
}

// incidentKinds are the refusals kept as incidents (store.AddIncident) when the device is known.
var incidentKinds = map[wire.Code]store.IncidentKind{
	wire.CodeGap:                store.IncidentGap,
	wire.CodeReplay:             store.IncidentReplay,
	wire.CodeReorder:            store.IncidentReorder,
	wire.CodeAltered:            store.IncidentAltered,
	wire.CodeBadSignature:       store.IncidentBadSignature,
	wire.CodeUnknownCertificate: store.IncidentUnknownCertificate,
	wire.CodeExpiredCertificate: store.IncidentExpiredCertificate,
	wire.CodeWrongDevice:        store.IncidentWrongDevice,
	wire.CodeWrongOperator:      store.IncidentWrongOperator,
	wire.CodeMalformed:          store.IncidentMalformed,
}

// refuse answers a refused batch and, once its header is read, keeps an incident: against the device
// when the client owns it, else against no device, naming the client's operator.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, a answer, in *intake) {
	var se *statusError
	if errors.As(a.err, &se) {
		a.status = se.status
	}
	var e *wire.Error
	if in != nil && (in.device != "" || in.client != "") && errors.As(a.err, &e) {
		if kind, ok := incidentKinds[e.Code]; ok {
			detail := e.Error()
			if in.device == "" {
				detail = "client operator " + in.client + ": " + detail
			}
			inc := store.Incident{Kind: kind, Device: in.device, First: int64(e.Seq), Last: int64(e.Seq),
				Detail: detail, Time: core.Stamp(s.now())}
			// The incident outlives the request: a client that hangs up must not erase it.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
			id, err := s.cfg.Store.AddIncident(ctx, inc)
			if err != nil {
				s.logger.Printf("incident %s %s: %v", kind, in.device, err)
			}
			a.incident = id
			cancel()
		}
	}
	s.problem(w, r, a)
}

func writeReceipt(w http.ResponseWriter, status int, rc *wire.Receipt) {
	b, err := json.Marshal(rc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", wire.ReceiptType)
	w.WriteHeader(status)
	w.Write(b)
}

// tipAnswer is the JSON of GET …/tip.
type tipAnswer struct {
	Seq   uint64    `json:"seq"`
	Chain wire.Hash `json:"chain"`
	Batch wire.Hash `json:"batch"`
	// Created is the created time of the device's last accepted batch (absent when there is none): the
	// floor below which the next batch is refused, so that an agent that lost it (a receipt lost in a
	// crash, a clock stepped back) dates its next batch after it instead of being refused.
	Created time.Time `json:"created,omitzero"`
}

func (s *Server) getTip(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	device := r.PathValue("device")
	if err := s.authorize(ctx, r, device); err != nil {
		s.refuseRead(w, r, device, err)
		return
	}
	head, err := s.cfg.Store.DeviceHead(ctx, device)
	if err != nil {
		s.internal(w, r, device, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(tipAnswer{Seq: uint64(head.Seq), Chain: wire.Hash(head.Chain), Batch: wire.Hash(head.Batch),
		Created: head.Created.UTC()})
}

// authorize checks that the client owns the device (for the device's tip and receipts).
func (s *Server) authorize(ctx context.Context, r *http.Request, device string) error {
	if !core.ValidDeviceID(device) {
		return errorf(wire.CodeMalformed, 0, "ingest.device.bad_id", device)
	}
	client, err := s.client(ctx, r)
	if err != nil {
		return err
	}
	if _, err := s.owns(ctx, client, device); err != nil {
		if isProtocol(err) {
			return &statusError{err: err, status: http.StatusForbidden}
		}
		return err
	}
	return nil
}

func (s *Server) refuseRead(w http.ResponseWriter, r *http.Request, device string, err error) {
	if !isProtocol(err) {
		s.internal(w, r, device, err)
		return
	}
	a := answer{err: err, device: device}
	var se *statusError
	if errors.As(err, &se) {
		a.status = se.status
	}
	s.problem(w, r, a)
}

// readBatch is the stored batch a GET of /api/v1/batches/{device}/{first}… names, for the device's
// operator only; when it is not ok the refusal has been answered.
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request) (store.StoredBatch, string, bool) {
	ctx := r.Context()
	device := r.PathValue("device")
	if err := s.authorize(ctx, r, device); err != nil {
		s.refuseRead(w, r, device, err)
		return store.StoredBatch{}, device, false
	}
	first, err := strconv.ParseInt(r.PathValue("first"), 10, 64)
	if err != nil || first < 1 {
		s.problem(w, r, answer{err: errorf(wire.CodeMalformed, 0, "ingest.bad_seq", r.PathValue("first")), device: device,
			status: http.StatusBadRequest})
		return store.StoredBatch{}, device, false
	}
	b, err := s.cfg.Store.BatchAt(ctx, device, first)
	if errors.Is(err, store.ErrNotFound) {
		s.problem(w, r, answer{err: errorf(CodeNotFound, uint64(first), "ingest.no_batch", device, first), device: device})
		return store.StoredBatch{}, device, false
	}
	if err != nil {
		s.internal(w, r, device, err)
		return store.StoredBatch{}, device, false
	}
	return b, device, true
}

func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, device, ok := s.readBatch(w, r)
	if !ok {
		return
	}
	from, _ := strconv.ParseInt(r.Header.Get(wire.TreeSizeHeader), 10, 64)
	rc, err := s.cfg.Log.receipt(ctx, s.cfg.Store, b, from, s.now())
	if err = s.tolerate(err); err != nil {
		s.internal(w, r, device, err)
		return
	}
	writeReceipt(w, http.StatusOK, rc)
}

func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := s.cfg.Log.checkpoint(r.Context(), s.cfg.Store, 0, s.now())
	if err = s.tolerate(err); err != nil {
		s.internal(w, r, "", err)
		return
	}
	// The latest made may lag the tree: a reader asking for the checkpoint wants the tree as it is now.
	if size, err := s.cfg.Store.TreeSize(r.Context()); err == nil && size > cp.size {
		if cp, err = s.cfg.Log.checkpoint(r.Context(), s.cfg.Store, size, s.now()); s.tolerate(err) != nil {
			s.internal(w, r, "", err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp.note)
}

// consistencyAnswer is the JSON of GET /api/v1/proof/consistency.
type consistencyAnswer struct {
	From       int64       `json:"from"`
	Checkpoint string      `json:"checkpoint"`
	Proof      []wire.Hash `json:"proof"`
}

func (s *Server) getConsistency(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	from, err := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	if err != nil || from < 1 {
		s.problem(w, r, answer{err: errorf(wire.CodeMalformed, 0, "ingest.bad_from", r.URL.Query().Get("from")),
			status: http.StatusBadRequest})
		return
	}
	size, err := s.cfg.Store.TreeSize(ctx)
	if err != nil {
		s.internal(w, r, "", err)
		return
	}
	if from > size {
		s.problem(w, r, answer{err: errorf(wire.CodeMalformed, 0, "ingest.from_beyond", from, size),
			status: http.StatusBadRequest})
		return
	}
	cp, err := s.cfg.Log.checkpoint(ctx, s.cfg.Store, size, s.now())
	if err = s.tolerate(err); err != nil {
		s.internal(w, r, "", err)
		return
	}
	proof := []wire.Hash{}
	if from < cp.size {
		p, err := tlog.ProveTree(cp.size, from, store.HashReader(ctx, s.cfg.Store))
		if err != nil {
			s.internal(w, r, "", err)
			return
		}
		proof = wire.Hashes(p)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(consistencyAnswer{From: from, Checkpoint: string(cp.note), Proof: proof})
}

func (s *Server) getLogKey(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, s.cfg.Log.VerifierKey())
}

// Close stores the latest checkpoint (call after the HTTP server has shut down).
func (s *Server) Close(ctx context.Context) error { return s.cfg.Log.flush(ctx, s.cfg.Store) }

// arena copies record bytes into large shared blocks: one allocation per 256 KiB instead of one per
// record.
type arena struct{ buf []byte }

func (a *arena) copy(b []byte) []byte {
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(len(b), 256<<10))
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

func codeTitle(p *i18n.Printer, c wire.Code) string {
	switch c {
	case CodeNotFound:
		return p.T("ingest.code.not_found")
	case CodeUnavailable:
		return p.T("ingest.code.unavailable")
	}
	return p.T("ingest.code.internal")
}
