// Package deliver is the delivering half of akciz agent: it reads the journal from the acknowledged mark,
// cuts batches, signs each with the operator's key (one signature a batch, чл. 37, т. 8), sends them over
// HTTPS to the Customs Agency's server, checks the server's receipts (inclusion in the transparency log,
// the checkpoint's signature, consistency with the checkpoint kept before) and only then trims the journal.
//
// What it does with each answer of the server follows docs/protocol.md, "What the agent does with an
// answer"; how it is run and watched is in docs/agent-operations.md.
package deliver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

// Journal is what the sender needs of the agent's journal (*journal.Journal).
type Journal interface {
	ReadFrom(from uint64, fn func(seq uint64, data []byte) error) error
	Trim(through uint64, receipt []byte) error
	Acked() (seq uint64, hash [32]byte, receipt []byte)
	Stats() journal.Stats
}

// Options configure a Sender.
type Options struct {
	// URL is the server's base URL, e.g. https://akciz.customs.bg; the protocol's paths are added to it.
	URL string
	// Client sends the requests. The caller configures TLS 1.3 with the client certificate and the
	// server's trust anchors on it; nil is http.DefaultClient (tests only).
	Client *http.Client
	// Journal holds the records; Device is the device whose records they are.
	Journal Journal
	Device  string
	// Signer and Chain (leaf first) sign every batch.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// LogKeys verify the server's checkpoints (the note verifier key the agency publishes).
	LogKeys note.Verifiers
	// StateDir holds the batch in flight (inflight.akb), so that a batch sent before a crash is sent again
	// byte for byte after it and the server answers with its receipt instead of a replay, and the created
	// time of the last accepted batch (last-created), below which no later batch is dated.
	StateDir string

	// MaxRecords, MaxBytes and MaxWait say when a batch is cut: at MaxRecords records (default 1000),
	// at MaxBytes bytes of records (default 4 MiB), or when the oldest record waiting has waited MaxWait
	// (default 5 s; 0 keeps the default, a negative value cuts at once).
	MaxRecords int
	MaxBytes   int
	MaxWait    time.Duration
	// Backoff is the first pause after a failed attempt, doubled up to MaxBackoff (defaults 1 s, 5 min), with
	// jitter. SlowRetry is the pause after a refusal that needs a person (certificate, altered batch,
	// unverifiable receipt): default 15 min.
	Backoff, MaxBackoff, SlowRetry time.Duration
	// UnsentAlarm is how long a record may stay unacknowledged before the unsent-too-long alarm (default
	// 24 h).
	UnsentAlarm time.Duration
	// Event appends an event record of the box to the journal (the unsent-too-long alarm); nil drops it. It
	// is called once per crossing and its error is only logged, so it must keep the event even when the
	// journal is full, as the agent's does (the event waits in its state file with the records of the last
	// poll until delivery makes room: cmd/akciz TestUnsentEventJournalFull).
	Event func(ctx context.Context, e core.Event) error
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger receives what happens; nil discards it.
	Logger *slog.Logger
}

// Link is the state of the connection to the server, as status shows it.
type Link string

// The link states.
const (
	LinkUnknown Link = "unknown" // nothing sent yet
	LinkUp      Link = "up"      // the last attempt got an answer
	LinkDown    Link = "down"    // the last attempt failed to reach the server (or it was busy)
	LinkRefused Link = "refused" // the server refuses: a person must act (see Alarms)
)

// Alarm is a condition that needs a person, shown by akciz agent status.
type Alarm struct {
	Code   string    `json:"code"` // a wire.Code, "unsent-too-long" or "server-behind"
	Since  time.Time `json:"since"`
	Detail string    `json:"detail,omitempty"`
}

// Status is the sender's state at one moment.
type Status struct {
	Link          Link      `json:"link"`
	LastError     string    `json:"lastError,omitempty"`
	LastAttempt   time.Time `json:"lastAttempt,omitzero"`
	LastDelivery  time.Time `json:"lastDelivery,omitzero"`
	Sent          uint64    `json:"sentSeq"`  // the last seq the server holds, as far as the agent knows
	Acked         uint64    `json:"ackedSeq"` // the journal's acknowledged mark
	Backlog       uint64    `json:"backlog"`  // records kept but not acknowledged
	OldestUnacked time.Time `json:"oldestUnacked,omitzero"`
	TreeSize      int64     `json:"treeSize,omitempty"` // size of the last verified checkpoint
	Batches       uint64    `json:"batches"`            // batches acknowledged since start
	Records       uint64    `json:"records"`            // records acknowledged since start
	Failures      uint64    `json:"failures"`           // failed attempts since start
	Alarms        []Alarm   `json:"alarms,omitempty"`
	// LastCreated is the created time of the last batch the server accepted (kept across restarts in
	// StateDir): no later batch is dated before it.
	LastCreated time.Time `json:"lastCreated,omitzero"`
}

// Sender delivers the journal's records. Run must not be called concurrently; Notify and Status may be
// called at any time.
type Sender struct {
	o    Options
	log  *slog.Logger
	wake chan struct{}

	tip      wire.Tip         // where the server's chain of the device stands, as far as we know
	cp       *wire.Checkpoint // the last verified checkpoint
	needTip  bool             // ask the server's tip before the next batch
	inflight *inflight        // the batch being sent
	maxRec   int              // MaxRecords, halved by too-large answers
	failures int              // consecutive failed attempts
	pending  time.Time        // when records were first seen waiting, for MaxWait
	unsent   bool             // the unsent-too-long alarm was raised for the present backlog
	created  time.Time        // the created time of the last batch cut in this run
	accepted time.Time        // the created time of the last batch the server accepted, in any run

	mu sync.Mutex
	st Status
}

type inflight struct {
	h    *wire.Header
	body []byte
}

// New makes a Sender, continuing from the journal's acknowledged mark: the receipt kept with the mark
// gives the previous batch's digest (the batch chain) and the last checkpoint verified.
func New(o Options) (*Sender, error) {
	if o.Journal == nil || o.Signer == nil || len(o.Chain) == 0 || o.URL == "" || o.LogKeys == nil {
		return nil, errors.New("deliver: journal, signer, certificate chain, URL and log keys are required")
	}
	if !core.ValidDeviceID(o.Device) {
		return nil, fmt.Errorf("deliver: device %q is not an ИКУНК id", o.Device)
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 1000
	}
	o.MaxRecords = min(o.MaxRecords, wire.DefaultLimits.MaxRecords)
	if o.MaxBytes <= 0 {
		o.MaxBytes = 4 << 20
	}
	if o.MaxWait == 0 {
		o.MaxWait = 5 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.SlowRetry <= 0 {
		o.SlowRetry = 15 * time.Minute
	}
	if o.UnsentAlarm <= 0 {
		o.UnsentAlarm = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sender{o: o, log: o.Logger, wake: make(chan struct{}, 1), maxRec: o.MaxRecords}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.st.Link = LinkUnknown
	seq, hash, rcpt := o.Journal.Acked()
	s.tip = wire.Tip{Seq: seq, Chain: hash}
	switch {
	case len(rcpt) > 0:
		r, err := wire.ParseReceipt(rcpt)
		if err == nil {
			var cp wire.Checkpoint
			if cp, err = wire.OpenCheckpoint([]byte(r.Checkpoint), o.LogKeys); err == nil {
				s.tip.Batch, s.cp = r.Batch, &cp
			}
		}
		if err != nil {
			// The kept receipt was verified when it was kept; if it no longer reads (another log key), ask the
			// server where the chain stands instead.
			s.log.Warn("kept receipt unreadable; asking the server's tip", "err", err)
			s.needTip = true
		}
	case seq > 0:
		s.needTip = true // a journal that starts at an origin, or whose ack file was damaged
	}
	if o.StateDir != "" {
		s.loadCreated()
		s.loadInflight()
	}
	s.setTip(s.tip, s.cp)
	s.refresh()
	return s, nil
}

// Notify tells the sender that records were kept; it never blocks.
func (s *Sender) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Status returns the sender's state.
func (s *Sender) Status() Status {
	s.refresh()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Alarms = append([]Alarm(nil), s.st.Alarms...)
	return st
}

func (s *Sender) refresh() {
	js := s.o.Journal.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Acked = js.Acked
	if js.Durable > js.Acked {
		s.st.Backlog = js.Durable - js.Acked
	} else {
		s.st.Backlog = 0
	}
	s.st.OldestUnacked = js.OldestUnacked
}

// setTip moves the tip (and the checkpoint, when cp is not nil); Status reads them under the lock.
func (s *Sender) setTip(t wire.Tip, cp *wire.Checkpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tip = t
	s.st.Sent = t.Seq
	if cp != nil {
		s.cp = cp
		s.st.TreeSize = cp.Size
	}
}

func (s *Sender) setAlarm(code, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range s.st.Alarms {
		if a.Code == code {
			s.st.Alarms[i].Detail = detail
			return
		}
	}
	s.st.Alarms = append(s.st.Alarms, Alarm{Code: code, Since: s.o.Now().UTC(), Detail: detail})
}

func (s *Sender) clearAlarms(keep func(code string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.st.Alarms[:0]
	for _, a := range s.st.Alarms {
		if keep(a.Code) {
			out = append(out, a)
		}
	}
	s.st.Alarms = out
}

// Run delivers until ctx ends; it returns nil then. Errors of the journal (a failed Trim) are returned.
func (s *Sender) Run(ctx context.Context) error {
	for {
		wait, err := s.Step(ctx)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-s.wake:
				if s.failures > 0 {
					// A failing link is retried on its back-off, not on every new record.
					select {
					case <-ctx.Done():
					case <-t.C:
					}
				}
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// idle is how long Run sleeps when nothing waits, unless Notify wakes it.
const idle = time.Second

// Step makes one attempt: it checks the unsent alarm, and sends one batch if one is due. It returns how
// long to wait before the next Step. An error means the journal failed (the agent stops).
func (s *Sender) Step(ctx context.Context) (time.Duration, error) {
	s.checkUnsent(ctx)
	if s.needTip {
		if d, ok := s.resync(ctx); !ok {
			return d, nil
		}
	}
	if s.inflight == nil {
		b, wait, err := s.cut()
		if err != nil {
			return 0, err
		}
		if b == nil {
			return wait, nil
		}
		s.inflight = b
		s.saveInflight()
	}
	return s.send(ctx)
}

// checkUnsent raises unsent-too-long once when the oldest unacknowledged record crosses UnsentAlarm; the
// event goes into the journal at once and so reaches the server with the backlog when the link returns.
func (s *Sender) checkUnsent(ctx context.Context) {
	js := s.o.Journal.Stats()
	if js.OldestUnacked.IsZero() || s.o.Now().Sub(js.OldestUnacked) < s.o.UnsentAlarm {
		if s.unsent {
			s.unsent = false
			s.clearAlarms(func(c string) bool { return c != alarmUnsent })
		}
		return
	}
	if s.unsent {
		return
	}
	s.unsent = true
	oldest := strconv.FormatUint(js.Acked+1, 10)
	s.setAlarm(alarmUnsent, "oldest unsent seq "+oldest+" since "+js.OldestUnacked.UTC().Format(time.RFC3339))
	s.log.Warn("records unsent too long", "seq", oldest, "since", js.OldestUnacked)
	if s.o.Event != nil {
		if err := s.o.Event(ctx, core.Event{Kind: core.EventUnsentTooLong, Value: oldest}); err != nil {
			s.log.Error("unsent-too-long event not kept", "err", err)
		}
	}
}

const (
	alarmUnsent         = string(core.EventUnsentTooLong)
	alarmServerBehind   = "server-behind"
	alarmJournalDamaged = "journal-damaged"
)

var errStop = errors.New("stop")

// cut reads the records after the tip and makes a signed batch, or says how long to wait for one.
func (s *Sender) cut() (*inflight, time.Duration, error) {
	js := s.o.Journal.Stats()
	from := s.tip.Seq + 1
	if js.Durable < from {
		s.pending = time.Time{}
		return nil, idle, nil
	}
	now := s.o.Now()
	if s.pending.IsZero() {
		s.pending = now
	}
	waiting := js.Durable - from + 1
	if s.o.MaxWait > 0 && waiting < uint64(s.maxRec) {
		if d := s.o.MaxWait - now.Sub(s.pending); d > 0 {
			return nil, d, nil
		}
	}
	var recs [][]byte
	size := 0
	var lost error
	err := s.o.Journal.ReadFrom(from, func(seq uint64, data []byte) error {
		if seq != from+uint64(len(recs)) {
			if len(recs) > 0 {
				return errStop // send what comes before the hole first
			}
			lost = fmt.Errorf("records %d-%d are lost in the journal (disk damage)", from, seq-1)
			return errStop
		}
		if len(recs) > 0 && (len(recs) >= s.maxRec || size+len(data) > s.o.MaxBytes) {
			return errStop
		}
		recs = append(recs, bytes.Clone(data))
		size += len(data) + 1
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		if errors.Is(err, journal.ErrTrimmed) {
			return nil, 0, fmt.Errorf("deliver: records from %d already trimmed: %w", from, err)
		}
		return nil, 0, err
	}
	if lost != nil {
		// They can never be sent, and the server cannot accept what follows them. The agent's start reissues
		// such a journal with a records-lost declaration in the hole (journal.Reissue, Reissuer); a hole
		// here means that could not be done (a full disk): an officer must look at it, or a restart with
		// room on the disk reissues it. Checked again every SlowRetry.
		s.setAlarm(alarmJournalDamaged, lost.Error())
		s.log.Error("cannot deliver past lost records", "err", lost)
		return nil, s.o.SlowRetry, nil
	}
	if len(recs) == 0 {
		return nil, idle, nil
	}
	created := s.batchTime(now, recs)
	h, err := wire.NewBatch(s.o.Device, s.tip.Batch, created, recs)
	if err != nil {
		// Send what comes before the first record that does not decode.
		for i, r := range recs {
			if _, derr := wire.DecodeRecord(r); derr != nil {
				if i > 0 {
					recs = recs[:i]
					h, err = wire.NewBatch(s.o.Device, s.tip.Batch, created, recs)
				}
				break
			}
		}
	}
	if err != nil {
		// A record the journal holds but that does not decode (written by a buggy version, or damaged in a
		// way its checksum did not catch) can never be sent, and nothing after it can be either: like lost
		// records, an officer must look. The agent goes on polling and keeping records meanwhile; stopping
		// it would only make it crash-loop on the same record.
		detail := fmt.Sprintf("records %d-%d cannot be sent: %v", from, from+uint64(len(recs))-1, err)
		s.setAlarm(alarmJournalDamaged, detail)
		s.log.Error("cannot deliver a record of the journal", "err", detail)
		return nil, s.o.SlowRetry, nil
	}
	if h.PrevChain != s.tip.Chain && s.tip.Seq > 0 {
		// The journal's record after the tip does not link to it (disk damage: docs/journal.md, Recovery.Lost).
		// The server would refuse it as altered; say so clearly.
		s.log.Error("journal record does not link to the last sent one", "seq", from)
	}
	if err := h.Sign(s.o.Signer, s.o.Chain); err != nil {
		return nil, 0, fmt.Errorf("deliver: signing batch %d-%d: %w", h.First, h.Last, err)
	}
	s.created = h.Created
	var buf bytes.Buffer
	if err := wire.WriteBatch(&buf, h, recs); err != nil {
		return nil, 0, err
	}
	if h.Last >= js.Durable {
		// Records left behind by a full batch have waited since pending already.
		s.pending = time.Time{}
	}
	return &inflight{h: h, body: buf.Bytes()}, 0, nil
}

// batchTime dates a batch: the clock, but never before the previous batch this run cut, the last batch
// the server accepted (also in an earlier run: saveCreated; or as the server's tip says: raiseFloor), nor
// before any of the batch's own records, all of which the server refuses (docs/protocol.md, verification
// step 5). A clock stepped back by NTP, also across a restart, would otherwise make the agent's own
// batches unacceptable.
func (s *Sender) batchTime(now time.Time, recs [][]byte) time.Time {
	t := core.Stamp(now)
	if s.created.After(t) {
		t = s.created
	}
	if s.accepted.After(t) {
		t = s.accepted
	}
	for _, r := range recs {
		if e, err := wire.DecodeRecord(r); err == nil && e.Record.Time.After(t) {
			t = e.Record.Time
		}
	}
	return core.Stamp(t)
}

// answer is what one POST got.
type answer struct {
	status  int
	body    []byte
	problem *wire.Problem
	retry   time.Duration // Retry-After
}

// send posts the batch in flight and acts on the answer.
func (s *Sender) send(ctx context.Context) (time.Duration, error) {
	b := s.inflight
	now := s.o.Now()
	s.mu.Lock()
	s.st.LastAttempt = now.UTC()
	s.mu.Unlock()
	a, err := s.post(ctx, b)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return s.fail(LinkDown, err.Error(), 0), nil
	}
	switch {
	case a.status == http.StatusOK || a.status == http.StatusCreated:
		return s.receipt(b, a.body)
	case a.problem == nil && (a.status == http.StatusTooManyRequests || a.status >= 500):
		return s.fail(LinkDown, fmt.Sprintf("HTTP %d", a.status), a.retry), nil
	case a.problem == nil:
		s.setAlarm("unexpected-answer", fmt.Sprintf("HTTP %d", a.status))
		return s.fail(LinkRefused, fmt.Sprintf("HTTP %d", a.status), s.o.SlowRetry), nil
	}
	p := a.problem
	detail := fmt.Sprintf("%s (seq %d): %s", p.Code, p.Seq, p.Detail)
	s.log.Warn("batch refused", "first", b.h.First, "last", b.h.Last, "status", a.status, "code", p.Code, "seq", p.Seq, "detail", p.Detail)
	switch p.Code {
	case wire.CodeGap, wire.CodeReplay, wire.CodeReorder:
		// Ask the server's tip and go on from there. This counts as a failure with its back-off: if the tip
		// and the batch answers keep disagreeing (a server bug), the agent must not knock in a tight loop.
		s.dropInflight()
		s.needTip = true
		return s.fail(LinkUp, detail, s.o.Backoff), nil
	case wire.CodeTooLarge:
		s.dropInflight()
		if b.h.Count <= 1 {
			// One record the server will not take: nothing smaller can be sent, and sending it again changes
			// nothing. A person must look (the server's limit, or the record); retried every SlowRetry.
			s.setAlarm(string(p.Code), detail)
			return s.fail(LinkRefused, detail, s.o.SlowRetry), nil
		}
		s.maxRec = max(1, int(b.h.Count)/2)
		return s.fail(LinkUp, detail, 0), nil
	case wire.CodeUnknownCertificate, wire.CodeExpiredCertificate, wire.CodeWrongOperator:
		// Keep everything; a renewed or registered certificate needs a restart with the new key, so the
		// batch is signed again then.
		s.dropInflight()
		s.setAlarm(string(p.Code), detail)
		return s.fail(LinkRefused, detail, s.o.SlowRetry), nil
	}
	if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
		return s.fail(LinkDown, detail, a.retry), nil
	}
	if p.Code == wire.CodeMalformed && s.createdRefused(ctx, b.h.Created) {
		// Dated before the server's last accepted batch, whose created this agent lost (its receipt lost
		// in a crash before last-created was saved, with the clock stepped back since): the tip's created
		// is now the floor, so the batch is cut and signed anew and sent after the back-off, not after
		// SlowRetry, and no person is needed.
		s.dropInflight()
		s.created = s.accepted
		return s.fail(LinkUp, detail, 0), nil
	}
	// altered, bad-signature, malformed, wrong-device, unsupported-version, or a code this agent does not
	// know: a bug or tampering on the box. The records stay in the journal; the batch is not sent again
	// unchanged (it is signed anew, with a new time, after SlowRetry). A refused batch sets no floor for
	// the next one's created: it may have been refused for a created in the server's future.
	s.dropInflight()
	s.created = s.accepted
	s.setAlarm(string(p.Code), detail)
	return s.fail(LinkRefused, detail, s.o.SlowRetry), nil
}

// createdRefused tells whether a batch dated created was refused for being dated before the device's last
// accepted batch: the server's tip says that batch's created (and fetchTip takes it as the floor). A tip
// that cannot be read counts as no: the refusal is then treated as one that needs a person.
func (s *Sender) createdRefused(ctx context.Context, created time.Time) bool {
	t, err := s.fetchTip(ctx)
	if err != nil {
		s.log.Warn("tip not read after a malformed answer", "err", err)
		return false
	}
	return t.Created.After(created)
}

func (s *Sender) post(ctx context.Context, b *inflight) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.URL+wire.BatchesPath, bytes.NewReader(b.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", wire.BatchType)
	req.Header.Set("Accept-Language", "en")
	if s.cp != nil {
		req.Header.Set(wire.TreeSizeHeader, strconv.FormatInt(s.cp.Size, 10))
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, wire.MaxReceiptSize+1))
	if err != nil {
		return nil, err
	}
	a := &answer{status: resp.StatusCode, body: body}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 && n < 86400 {
			a.retry = time.Duration(n) * time.Second
		}
	}
	if resp.StatusCode >= 400 && len(body) <= wire.MaxReceiptSize {
		var p wire.Problem
		if json.Unmarshal(body, &p) == nil && p.Code != "" {
			a.problem = &p
		}
	}
	return a, nil
}

// receipt checks the server's receipt and, only when it verifies, trims the journal through the batch.
func (s *Sender) receipt(b *inflight, body []byte) (time.Duration, error) {
	r, err := wire.ParseReceipt(body)
	var cp wire.Checkpoint
	if err == nil {
		cp, err = r.Verify(s.o.LogKeys, b.h, s.cp)
	}
	if err != nil {
		// Keep the records and do not build further batches on this one (docs/protocol.md): the same batch
		// is sent again after SlowRetry, and the server answers with its receipt again.
		code := string(wire.CodeBadReceipt)
		var we *wire.Error
		if errors.As(err, &we) {
			code = string(we.Code)
		}
		s.setAlarm(code, err.Error())
		s.log.Error("receipt does not verify; journal kept", "first", b.h.First, "last", b.h.Last, "err", err)
		return s.fail(LinkRefused, err.Error(), s.o.SlowRetry), nil
	}
	// The accepted batch's created is the server's lower bound for the next one: kept before the trim, so
	// that a restart with a clock stepped back still dates its batches after it.
	s.saveCreated(b.h.Created)
	if err := s.o.Journal.Trim(b.h.Last, body); err != nil {
		return 0, fmt.Errorf("deliver: trim through %d: %w", b.h.Last, err)
	}
	s.setTip(s.tip.Next(b.h), &cp)
	s.dropInflight()
	s.failures = 0
	now := s.o.Now().UTC()
	s.mu.Lock()
	s.st.Link, s.st.LastError, s.st.LastDelivery = LinkUp, "", now
	s.st.Batches++
	s.st.Records += b.h.Count
	s.mu.Unlock()
	s.clearAlarms(func(c string) bool { return c == alarmUnsent })
	s.maxRec = min(s.o.MaxRecords, s.maxRec*2)
	s.log.Info("batch delivered", "first", b.h.First, "last", b.h.Last, "index", r.Index, "tree", cp.Size)
	s.refresh()
	return 0, nil
}

func (s *Sender) setLink(l Link, lastErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Link, s.st.LastError = l, lastErr
}

// fail records a failed attempt and gives the pause before the next: at least floor (Retry-After or
// SlowRetry), else exponential back-off with jitter.
func (s *Sender) fail(l Link, msg string, floor time.Duration) time.Duration {
	s.failures++
	s.mu.Lock()
	s.st.Link, s.st.LastError = l, msg
	s.st.Failures++
	s.mu.Unlock()
	d := s.o.Backoff
	for i := 1; i < s.failures && d < s.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.o.MaxBackoff)
	// Full jitter in [d/2, d): many boxes coming back after one outage do not all knock at once.
	d = d/2 + rand.N(d/2+1)
	if floor > d {
		d = floor
	}
	if s.failures == 1 || s.failures%10 == 0 {
		s.log.Warn("delivery failed", "attempt", s.failures, "retry", d, "err", msg)
	}
	return d
}

// tipAnswer is the server's GET …/tip answer.
type tipAnswer struct {
	Seq   uint64    `json:"seq"`
	Chain wire.Hash `json:"chain"`
	Batch wire.Hash `json:"batch"`
	// Created is the created time of the device's last accepted batch (zero when there is none, or from
	// a server that does not send it): the server refuses a next batch dated before it.
	Created time.Time `json:"created,omitzero"`
}

func (t tipAnswer) tip() wire.Tip { return wire.Tip{Seq: t.Seq, Chain: t.Chain, Batch: t.Batch} }

// fetchTip asks the server where the device's chain stands, and takes the created time of the device's
// last accepted batch as the floor of the next batch's created (raiseFloor): the agent may have lost it
// (a receipt lost in a crash before last-created was saved, a state directory lost) while its clock
// stepped back.
func (s *Sender) fetchTip(ctx context.Context) (tipAnswer, error) {
	var t tipAnswer
	u := s.o.URL + "/api/v1/devices/" + url.PathEscape(s.o.Device) + "/tip"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return t, err
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil || resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("tip: HTTP %d %v", resp.StatusCode, err)
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return t, fmt.Errorf("tip: %w", err)
	}
	s.raiseFloor(t.Created)
	return t, nil
}

// raiseFloor takes t, the created time of a batch the server accepted, as the floor of the next batch's
// created when it is later than the one the agent knows.
func (s *Sender) raiseFloor(t time.Time) {
	if t.After(s.accepted) {
		s.log.Info("dating batches after the server's last accepted batch", "created", t.UTC(), "was", s.accepted)
		s.saveCreated(t)
	}
}

// resync asks the server where the device's chain stands and continues from there, after checking that
// the server's last record is the journal's record at that seq. The records up to the server's tip are
// trimmed with the next verified receipt: it proves a batch whose prevChain is that record's hash.
func (s *Sender) resync(ctx context.Context) (time.Duration, bool) {
	t, err := s.fetchTip(ctx)
	if err != nil {
		return s.fail(LinkDown, err.Error(), 0), false
	}
	js := s.o.Journal.Stats()
	ackSeq, ackHash, _ := s.o.Journal.Acked()
	behind := func(detail string) (time.Duration, bool) {
		s.setAlarm(alarmServerBehind, detail)
		s.log.Error("server's chain does not match the journal", "detail", detail)
		return s.fail(LinkRefused, detail, s.o.SlowRetry), false
	}
	switch {
	case t.Seq < ackSeq:
		return behind(fmt.Sprintf("server tip %d is below the acknowledged %d", t.Seq, ackSeq))
	case t.Seq > js.Durable:
		return behind(fmt.Sprintf("server tip %d is beyond the journal's last kept record %d", t.Seq, js.Durable))
	case t.Seq == ackSeq && t.Seq > 0:
		if t.Chain != ackHash && ackHash != ([32]byte{}) {
			return behind(fmt.Sprintf("server's record %d differs from the acknowledged one", t.Seq))
		}
	case t.Seq > 0:
		var h wire.Hash
		found := false
		err := s.o.Journal.ReadFrom(t.Seq, func(seq uint64, data []byte) error {
			if seq == t.Seq {
				h, found = wire.ChainHash(data), true
			}
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return s.fail(LinkDown, err.Error(), 0), false
		}
		if !found || h != t.Chain {
			return behind(fmt.Sprintf("server's record %d differs from the journal's", t.Seq))
		}
	}
	s.log.Info("continuing from the server's tip", "seq", t.Seq, "was", s.tip.Seq)
	s.setTip(t.tip(), nil)
	s.needTip = false
	s.dropInflight()
	if err := s.catchUp(ctx, t.tip()); err != nil {
		// Not fatal: the next verified receipt trims through these records too.
		s.log.Warn("receipts of the records already on the server not fetched", "err", err)
	}
	s.clearAlarms(func(c string) bool { return c != alarmServerBehind })
	s.setLink(LinkUp, "")
	s.refresh()
	return 0, true
}

// catchUp fetches the receipts of the batches the server holds beyond the journal's acknowledged mark
// (sent before a crash that lost their receipts), verifies each against the last checkpoint and trims
// through it. The server's tip was checked to be the journal's record, so the chain covers the rest.
func (s *Sender) catchUp(ctx context.Context, t wire.Tip) error {
	for {
		acked, _, _ := s.o.Journal.Acked()
		if acked >= t.Seq {
			return nil
		}
		first := acked + 1
		u := s.o.URL + "/api/v1/receipts/" + url.PathEscape(s.o.Device) + "/" + strconv.FormatUint(first, 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		if s.cp != nil {
			req.Header.Set(wire.TreeSizeHeader, strconv.FormatInt(s.cp.Size, 10))
		}
		resp, err := s.o.Client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, wire.MaxReceiptSize+1))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("receipt of the batch at %d: HTTP %d", first, resp.StatusCode)
		}
		r, err := wire.ParseReceipt(body)
		if err != nil {
			return err
		}
		cp, err := r.Verify(s.o.LogKeys, nil, s.cp)
		if err != nil {
			return err
		}
		if r.Device != s.o.Device || r.First != first || r.Last > t.Seq || r.Last == t.Seq && r.Batch != t.Batch {
			return fmt.Errorf("receipt of the batch at %d is for %s %d-%d", first, r.Device, r.First, r.Last)
		}
		if err := s.o.Journal.Trim(r.Last, body); err != nil {
			return err
		}
		s.setTip(t, &cp)
		s.log.Info("receipt fetched after a restart", "first", r.First, "last", r.Last)
	}
}

// createdFile, in StateDir, holds the created time of the last batch the server accepted.
const createdFile = "last-created"

// saveCreated keeps t, the created time of an accepted batch, as the floor of every later batch's created.
// Only accepted batches count: the server judges the next batch against the last one it accepted, and a
// batch it refused (dated in its future by a clock that was wrong) must not hold the floor up.
func (s *Sender) saveCreated(t time.Time) {
	if t.After(s.accepted) {
		s.accepted = t
	}
	s.mu.Lock()
	if t.After(s.st.LastCreated) {
		s.st.LastCreated = t.UTC()
	}
	s.mu.Unlock()
	if s.o.StateDir == "" {
		return
	}
	if err := WriteFileAtomic(filepath.Join(s.o.StateDir, createdFile), []byte(t.UTC().Format(time.RFC3339Nano)+"\n")); err != nil {
		s.log.Warn("created time of the last batch not saved", "err", err)
	}
}

// loadCreated reads the floor kept by saveCreated in an earlier run.
func (s *Sender) loadCreated() {
	b, err := os.ReadFile(filepath.Join(s.o.StateDir, createdFile))
	if err != nil {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, string(bytes.TrimSpace(b)))
	if err != nil {
		s.log.Warn("created time of the last batch unreadable", "err", err)
		return
	}
	s.accepted = t.UTC()
	s.st.LastCreated = t.UTC()
}

// inflightFile, in StateDir, holds the batch in flight.
const inflightFile = "inflight" + wire.BatchFileExt

func (s *Sender) inflightPath() string {
	return filepath.Join(s.o.StateDir, inflightFile)
}

// saveInflight keeps the batch before it is sent: after a crash the same bytes go again, and the server
// answers 200 with the receipt it gave before.
func (s *Sender) saveInflight() {
	if s.o.StateDir == "" {
		return
	}
	if err := WriteFileAtomic(s.inflightPath(), s.inflight.body); err != nil {
		s.log.Warn("batch in flight not saved", "err", err)
	}
}

func (s *Sender) dropInflight() {
	s.inflight = nil
	if s.o.StateDir != "" {
		if err := os.Remove(s.inflightPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("batch in flight not removed", "err", err)
		}
	}
}

// loadInflight takes the batch a previous run was sending, if it continues from the tip and is signed
// with the present key.
func (s *Sender) loadInflight() {
	body, err := os.ReadFile(s.inflightPath())
	if err != nil {
		return
	}
	h, err := wire.DecodeBatch(bytes.NewReader(body), wire.DecodeOptions{}, nil)
	if err == nil && !s.needTip && h.Device == s.o.Device && h.First == s.tip.Seq+1 && h.PrevBatch == s.tip.Batch &&
		h.PrevChain == s.tip.Chain && len(h.Certs) > 0 && bytes.Equal(h.Certs[0], s.o.Chain[0].Raw) {
		s.inflight = &inflight{h: h, body: body}
		s.log.Info("resending the batch in flight before the restart", "first", h.First, "last", h.Last)
		return
	}
	s.dropInflight()
}

// WriteFileAtomic writes data to path through a temporary file, fsyncs it, renames it into place and
// fsyncs the directory, so that a reader sees the old or the new content, never a mix.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ClientTLS is the TLS configuration of the agent's connection to the server (docs/protocol.md,
// "Transport"): TLS 1.3 only, the server's certificate verified against roots and never the system store,
// serverName sent as SNI (empty: the URL's host), cert as the client certificate. cert.PrivateKey may be a
// crypto.Signer on a PKCS#11 token.
func ClientTLS(roots *x509.CertPool, serverName string, cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, ServerName: serverName,
		Certificates: []tls.Certificate{cert}}
}
