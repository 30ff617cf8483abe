package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/akciz/akciz/internal/agent"
	"github.com/akciz/akciz/internal/agent/deliver"
	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/signer"
	"github.com/akciz/akciz/internal/wire"
)

func init() {
	register(&command{name: "agent", summary: "agentcmd.summary", run: runAgent})
}

// The files of the state directory.
const (
	stateFile  = "agent-state.json" // the poller's state and the configuration's hash, after every poll
	statusFile = "status.json"      // what `akciz agent status` shows, every statusEvery
)

const (
	statusEvery = 2 * time.Second
	pollTick    = 100 * time.Millisecond // Poll reads only what is due; this is the scheduling resolution
)

func runAgent(ctx context.Context, env *environment, args []string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return runAgentStatus(ctx, env, args[1:])
		case "export":
			return runAgentExport(ctx, env, args[1:])
		}
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	cfgPath := fs.String("config", "", "")
	setPath := fs.String("settings", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("agentcmd.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.bad_flag", err.Error()))
		return 2
	}
	if *cfgPath == "" || *setPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.need_config"))
		return 2
	}
	a, err := openAgent(env, *cfgPath, *setPath, true)
	if err != nil {
		printAgentError(env, err)
		return 1
	}
	defer a.close()
	if err := a.run(ctx); err != nil {
		a.log.Error("agent stopped on an error", "err", err)
		return 1
	}
	return 0
}

func printAgentError(env *environment, err error) {
	var se *settingsError
	if errors.As(err, &se) {
		fmt.Fprintln(env.stderr, se.text(env.p))
		return
	}
	var me *msgError
	if errors.As(err, &me) {
		fmt.Fprintln(env.stderr, me.msg)
		return
	}
	fmt.Fprintln(env.stderr, env.p.T("agentcmd.failed", err.Error()))
}

// msgError carries a message for a person.
type msgError struct {
	msg string
	err error
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.err }

// agentProc is a running akciz agent: settings, configuration, journal, key, poller and sender.
type agentProc struct {
	set    *agentSettings
	cfg    *config.Config
	hash   string // SHA-256 of automation_config.xml, hex
	device string
	log    *slog.Logger
	j      *journal.Journal
	rec    *journal.Recovery
	key    *signer.Key
	sender *deliver.Sender
	poller *agent.Poller

	buf []*core.Record // the records of the poll in progress (pollLoop's goroutine only)

	prev     savedState        // the state file of the last run, as read at start
	reissued *journal.Reissued // what the start did about records lost in the journal, if anything

	appendMu  sync.Mutex     // one commit at a time
	pending   []*core.Record // records in the state file, not yet appended
	lastState []byte         // the poller's state last saved

	mu       sync.Mutex
	readings map[string]pointReading // last reading per control point
	appended uint64                  // records appended since start
	pollErr  string
	started  time.Time
}

type pointReading struct {
	Time   time.Time `json:"time"`
	Seq    uint64    `json:"seq"`
	Values []string  `json:"values"` // "tag=value unit"
}

// openAgent loads everything the agent needs; withSender false is for export (no server needed).
func openAgent(env *environment, cfgPath, setPath string, withSender bool) (*agentProc, error) {
	set, err := loadSettings(setPath)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, &msgError{msg: env.p.T("agentcmd.config_read", cfgPath, err.Error()), err: err}
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		var ds config.Diagnostics
		if errors.As(err, &ds) {
			var b strings.Builder
			for _, d := range ds {
				fmt.Fprintln(&b, d.Format(env.p))
			}
			return nil, &msgError{msg: strings.TrimSpace(b.String()), err: err}
		}
		return nil, err
	}
	sum := sha256.Sum256(data)
	a := &agentProc{set: set, cfg: cfg, hash: hex.EncodeToString(sum[:]), device: fmt.Sprintf("%s%03d", cfg.Site.ID(), cfg.Box.Number),
		readings: map[string]pointReading{}, started: time.Now()}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[set.LogLevel]
	ho := &slog.HandlerOptions{Level: level}
	if set.LogFormat == "json" {
		a.log = slog.New(slog.NewJSONHandler(env.stderr, ho))
	} else {
		a.log = slog.New(slog.NewTextHandler(env.stderr, ho))
	}
	a.log = a.log.With("device", a.device)
	for _, d := range []string{set.Journal, set.State} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		// The state file holds records not yet in the journal: its directory's entry must survive a power
		// cut after the first start as much as the file does (the journal's Open does the same for its own).
		if err := (journal.OSFS{}).SyncDir(filepath.Dir(d)); err != nil {
			return nil, err
		}
	}
	pin := ""
	if set.PINFile != "" {
		b, err := os.ReadFile(set.PINFile)
		if err != nil {
			return nil, &msgError{msg: env.p.T("agentcmd.pin_read", set.PINFile, err.Error()), err: err}
		}
		pin = strings.TrimRight(string(b), "\r\n")
	}
	if a.key, err = signer.Open(set.Signer, set.SignerCert, pin); err != nil {
		return nil, &msgError{msg: env.p.T("agentcmd.signer", err.Error()), err: err}
	}
	if !withSender {
		return a, nil
	}
	if err := a.openJournal(); err != nil {
		a.close()
		if errors.Is(err, journal.ErrLocked) {
			return nil, &msgError{msg: env.p.T("agentcmd.locked", set.Journal), err: err}
		}
		var me *msgError
		if errors.As(err, &me) {
			return nil, err
		}
		return nil, &msgError{msg: env.p.T("agentcmd.journal", set.Journal, err.Error()), err: err}
	}
	if err := a.openSender(env); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// openJournal opens the journal: it finishes a reissue a crash interrupted, recovers what a crash left
// (journal.Open), appends the records of the last poll that did not make it (recoverState) and reissues the
// journal when recovery found records lost to disk damage (reissue).
func (a *agentProc) openJournal() error {
	if err := journal.FinishReissue(a.set.Journal, nil); err != nil {
		return err
	}
	var err error
	if a.j, a.rec, err = journal.Open(a.set.Journal, journal.Options{Device: a.device, MaxSize: a.set.JournalMax}); err != nil {
		return err
	}
	if err := a.recoverState(); err != nil {
		if !errors.Is(err, journal.ErrFull) {
			return &msgError{msg: err.Error(), err: err}
		}
		// A full journal must not keep the agent from starting: delivery frees room, and pollLoop appends
		// the waiting records (they stay in the state file until then) before it polls again.
		a.log.Error("journal full at start; the records of the last poll wait in the state file", "count", len(a.pending))
	}
	if len(a.rec.Lost) > 0 {
		if len(a.pending) > 0 {
			// The reissue rewrites the state file without the records it holds; with records still waiting
			// (a full journal, which leaves no room for a reissue anyway) it waits for the next start.
			a.log.Error("journal lost records but is full; reissue left to the next start", "lost", a.rec.Lost)
			return nil
		}
		return a.reissue()
	}
	return nil
}

// recoverState reads the state file the last run left and appends the records a crash kept from being
// appended (recoverPending). It runs before anything else touches the journal.
func (a *agentProc) recoverState() error {
	if b, err := os.ReadFile(filepath.Join(a.set.State, stateFile)); err == nil {
		if err := json.Unmarshal(b, &a.prev); err != nil {
			a.log.Warn("agent state unreadable; starting without it", "err", err)
			a.prev = savedState{}
		}
	}
	a.lastState = a.prev.Poller
	return a.recoverPending(a.prev)
}

// reissue rewrites a journal that lost records to disk damage in the middle (journal.Reissue): a
// records-lost event in place of each lost range and the intact records after it renumbered, so that the
// server receives the loss declared in an unbroken chain instead of a hole it cannot close. The records of
// the state file are in the journal by now (recoverState); the state file is written without them first,
// since their seqs change.
func (a *agentProc) reissue() error {
	if err := a.saveState(0); err != nil {
		return err
	}
	if err := a.j.Close(); err != nil {
		return err
	}
	a.j = nil
	j, _, done, err := journal.Reissue(a.set.Journal, journal.Options{Device: a.device, MaxSize: a.set.JournalMax},
		deliver.Reissuer{Device: a.device, Config: a.hash, Test: a.set.Test, Inflight: deliver.InflightRecords(a.set.State)})
	if err != nil {
		return err
	}
	a.j, a.reissued = j, done
	if done == nil {
		return nil
	}
	if done.Err != nil {
		a.log.Error("journal lost records and could not be reissued; delivery stops at the hole", "lost", a.rec.Lost, "err", done.Err)
		return nil
	}
	a.log.Error("journal lost records to disk damage; records-lost declared in their place", "lost", done.Declared,
		"from", done.From, "renumbered", done.Renumbered, "restored_from_batch_in_flight", done.Restored)
	return nil
}

func (a *agentProc) openSender(env *environment) error {
	set := a.set
	keyText := set.LogKey
	if strings.Count(keyText, "+") != 2 {
		b, err := os.ReadFile(keyText)
		if err != nil {
			return &msgError{msg: env.p.T("agentcmd.log_key", err.Error()), err: err}
		}
		keyText = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(keyText)
	if err != nil {
		return &msgError{msg: env.p.T("agentcmd.log_key", err.Error()), err: err}
	}
	pemCA, err := os.ReadFile(set.CA)
	roots := x509.NewCertPool()
	if err != nil || !roots.AppendCertsFromPEM(pemCA) {
		return &msgError{msg: env.p.T("agentcmd.ca", set.CA), err: err}
	}
	var cert tls.Certificate
	if set.ClientCert != "" {
		if cert, err = tls.LoadX509KeyPair(set.ClientCert, set.ClientKey); err != nil {
			return &msgError{msg: env.p.T("agentcmd.client_cert", err.Error()), err: err}
		}
	} else {
		for _, c := range a.key.Chain {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
		cert.PrivateKey, cert.Leaf = a.key.Signer, a.key.Chain[0]
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: deliver.ClientTLS(roots, set.ServerName, cert), ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 20 * time.Second, ResponseHeaderTimeout: 50 * time.Second, IdleConnTimeout: 90 * time.Second}}
	a.sender, err = deliver.New(deliver.Options{URL: set.Server, Client: client, Journal: a.j, Device: a.device,
		Signer: a.key.Signer, Chain: a.key.Chain, LogKeys: note.VerifierList(v), StateDir: set.State,
		MaxRecords: set.MaxRecords, MaxBytes: set.MaxBytes, MaxWait: waitSetting(set.MaxWait), MaxBackoff: set.RetryMax,
		SlowRetry: set.SlowRetry, UnsentAlarm: set.UnsentAlarm, Event: a.event, Logger: a.log.With("part", "deliver")})
	return err
}

// waitSetting maps batch-max-wait = 0 (send at once) to the sender's negative value.
func waitSetting(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func (a *agentProc) close() {
	if a.poller != nil {
		a.poller.Close()
	}
	if a.j != nil {
		a.j.Close()
	}
	if a.key != nil {
		a.key.Close()
	}
}

// Emit is the poller's sink. A poll's records are collected and committed together with the poller's
// state after the poll (commit), so that a crash can neither lose them nor make them twice.
func (a *agentProc) Emit(_ context.Context, r *core.Record) error {
	a.buf = append(a.buf, r)
	return nil
}

// event appends an event of the box itself.
func (a *agentProc) event(_ context.Context, e core.Event) error {
	ev := e
	return a.commit([]*core.Record{{Kind: core.KindEvent, Time: core.Stamp(time.Now()), Device: a.device, Config: a.hash,
		Test: a.set.Test, Event: &ev}}, nil)
}

// savedState is agent-state.json of the state directory: the poller's state after its last poll, and
// the records of that poll (and any not yet appended before it), written before they are appended to the
// journal. The journal's next seq at that moment says, after a crash, how many of them made it: the rest
// are appended at start. So the poller's state and the journal never disagree: no record of a poll is
// lost when the agent dies before appending it, and none is made again by a poller restored to a state
// from before it.
type savedState struct {
	Config  string          `json:"config"`        // the configuration's hash at the last poll
	Time    time.Time       `json:"time,omitzero"` // the wall clock when it was written: a start behind it saw the clock go back
	Poller  json.RawMessage `json:"poller,omitempty"`
	Next    uint64          `json:"next,omitempty"` // the journal's next seq when Pending was written
	Pending []*core.Record  `json:"pending,omitempty"`
}

// commit writes the state (nil: the last one) with the records waiting and recs, then appends them to the
// journal and syncs. Every append goes through it, one at a time, so Next in the state file is exact.
//
// The journal is synced before its next seq goes into the state file: Next must never count a record that a
// power cut could still take away, or recoverPending would take that record for kept and drop it from
// Pending. When an Append fails (journal full) the state file written here stays as it is: it holds every
// record not yet durable, and recoverPending counts how many of them made it.
//
// A record that cannot be encoded (it fails Validate, or is over wire.MaxRecordSize) is replaced by a
// record-not-kept event saying why, so that one bad record never blocks those after it. Any error but
// journal.ErrFull is one the agent cannot go on after (a failed fsync poisons the journal until it is
// reopened); see pollLoop.
func (a *agentProc) commit(recs []*core.Record, state []byte) error {
	a.appendMu.Lock()
	defer a.appendMu.Unlock()
	if state != nil {
		a.lastState = state
	}
	a.pending = append(a.pending, recs...)
	if err := a.j.Sync(); err != nil {
		return err
	}
	if err := a.saveState(a.j.Stats().Next); err != nil {
		return err
	}
	var stand *core.Record // the last record-not-kept made here: if even it fails, give up
	for len(a.pending) > 0 {
		r := a.pending[0]
		var buildErr error
		seq, _, err := a.j.Append(func(seq uint64, prev [32]byte) ([]byte, error) {
			b, err := wire.EncodeRecord(seq, prev, r)
			buildErr = err
			return b, err
		})
		if err != nil && r != stand && (buildErr != nil || errors.Is(err, journal.ErrTooLarge)) {
			a.log.Error("record cannot be kept; a record-not-kept event stands in for it", "kind", r.Kind, "point", r.Point, "err", err)
			stand = a.notKept(r, err)
			a.pending[0] = stand
			continue
		}
		if err != nil {
			// Journal full: the rest wait in the state file written above, and are tried again.
			return err
		}
		a.pending = a.pending[1:]
		a.noteRecord(seq, r)
	}
	if err := a.j.Sync(); err != nil {
		return err
	}
	if a.sender != nil {
		a.sender.Notify()
	}
	return nil
}

// maxNotKeptDetail bounds what a record-not-kept event says, so that it always fits a record.
const maxNotKeptDetail = 1024

// notKept makes the record-not-kept event that stands in for r, which could not be encoded because of err.
func (a *agentProc) notKept(r *core.Record, err error) *core.Record {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	bound := func(s string) string {
		s = strings.ToValidUTF8(s, "\uFFFD")
		if len(s) > maxNotKeptDetail {
			s = strings.ToValidUTF8(s[:maxNotKeptDetail], "")
		}
		return s
	}
	return &core.Record{Kind: core.KindEvent, Time: core.Stamp(t), Device: a.device, Config: a.hash, Test: a.set.Test,
		Event: &core.Event{Kind: core.EventRecordNotKept, Tag: bound(string(r.Kind)), Value: bound(r.Point), Detail: bound(err.Error())}}
}

func (a *agentProc) saveState(next uint64) error {
	b, err := json.Marshal(savedState{Config: a.hash, Time: time.Now().UTC(), Poller: a.lastState, Next: next, Pending: a.pending})
	if err != nil {
		return err
	}
	return deliver.WriteFileAtomic(filepath.Join(a.set.State, stateFile), b)
}

// recoverPending appends the records a crash kept from being appended, from the saved state.
func (a *agentProc) recoverPending(prev savedState) error {
	if len(prev.Pending) == 0 {
		return nil
	}
	next := a.j.Stats().Next
	done := 0
	if next >= prev.Next {
		done = int(min(next-prev.Next, uint64(len(prev.Pending))))
	}
	if done == len(prev.Pending) {
		return nil
	}
	a.log.Info("appending the records of the last poll before the crash", "count", len(prev.Pending)-done)
	return a.commit(prev.Pending[done:], nil)
}

func (a *agentProc) noteRecord(seq uint64, r *core.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.appended++
	if r.Kind == core.KindReading && r.Reading != nil {
		pr := pointReading{Time: r.Time, Seq: seq}
		for _, v := range r.Reading.Values {
			pr.Values = append(pr.Values, strings.TrimSpace(v.Tag+"="+string(v.Value)+" "+v.Unit))
		}
		a.readings[r.Point] = pr
	}
}

func (a *agentProc) run(ctx context.Context) error {
	prev := a.prev
	// Start events, in this order: what recovery found, a clock behind the last run's, whether the
	// configuration changed, and the start.
	if r := a.rec; r != nil && (r.TruncatedBytes > 0 || r.Damaged()) {
		detail := fmt.Sprintf("truncated %d bytes", r.TruncatedBytes)
		if r.Damaged() {
			detail += fmt.Sprintf("; damaged: skipped %d ranges, lost %v, header errors %d, ack error %v",
				len(r.Skipped), r.Lost, len(r.HeaderErrors), r.AckError)
			if d := a.reissued; d != nil && d.Err == nil {
				detail += fmt.Sprintf("; records-lost declared for %v from seq %d, %d records renumbered; restored from the batch in flight %v",
					d.Declared, d.From, d.Renumbered, d.Restored)
			} else if d != nil {
				detail += "; not reissued: " + d.Err.Error()
			}
			a.log.Error("journal damaged", "detail", detail)
		}
		if err := a.event(ctx, core.Event{Kind: core.EventJournalRecovered, Value: fmt.Sprint(r.TruncatedBytes), Detail: detail}); err != nil {
			return err
		}
	}
	if e, ok := clockBehind(time.Now(), prev.Time, a.sender.Status().LastCreated); ok {
		a.log.Warn("the clock is behind the time kept by the last run", "step_ms", e.Value, "previous", e.Previous)
		if err := a.event(ctx, e); err != nil {
			return err
		}
	}
	if prev.Config != "" && prev.Config != a.hash {
		if err := a.event(ctx, core.Event{Kind: core.EventConfigChanged, Previous: prev.Config, Value: a.hash}); err != nil {
			return err
		}
	}
	if err := a.event(ctx, core.Event{Kind: core.EventAgentStarted, Detail: "akciz " + buildVersion()}); err != nil {
		return err
	}
	var err error
	a.poller, err = agent.New(a.cfg, a, agent.Options{ConfigHash: a.hash, Test: a.set.Test, Logger: a.log.With("part", "poll")})
	if err != nil {
		return err
	}
	if len(prev.Poller) > 0 {
		if err := a.poller.Restore(prev.Poller); err != nil {
			a.log.Warn("poller state not restored", "err", err)
		}
	}
	a.log.Info("agent started", "config", a.hash, "journal", a.set.Journal, "server", a.set.Server,
		"acked", a.j.Stats().Acked, "last", a.j.Stats().Last)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := a.sender.Run(runCtx); err != nil {
			errc <- err
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		a.writeStatusLoop(runCtx)
	}()
	var srv *http.Server
	if a.set.Metrics != "" {
		ln, err := net.Listen("tcp", a.set.Metrics)
		if err != nil {
			a.log.Error("metrics listener", "err", err)
		} else {
			srv = &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln)
		}
	}
	perr := a.pollLoop(runCtx)
	if perr != nil {
		a.log.Error("journal failed; stopping so that a restart recovers it", "err", perr)
	}
	cancel()
	wg.Wait()
	if srv != nil {
		srv.Close()
	}
	// agent-stopped goes into the journal; it is sent with the next run's first batch.
	if err := a.event(context.Background(), core.Event{Kind: core.EventAgentStopped}); err != nil {
		a.log.Error("agent-stopped not kept", "err", err)
	}
	a.writeStatus()
	a.log.Info("agent stopped")
	if perr != nil {
		return perr
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// clockStepTolerance is how far the clock may be behind a time the last run kept before the start
// counts as a clock step (the poller's own ClockStep, agent.Options, is the same 2 s within a run).
const clockStepTolerance = 2 * time.Second

// clockBehind gives the clock-stepped event of a start whose clock (now) is behind the latest time the
// agent kept in an earlier run: the state file's time, or the last accepted batch's created. Within a run
// the poller sees steps against the monotonic clock; across a restart only these kept times can show one.
// Value is the step in milliseconds (negative: back), Previous the kept time.
func clockBehind(now time.Time, kept ...time.Time) (core.Event, bool) {
	var last time.Time
	for _, t := range kept {
		if t.After(last) {
			last = t
		}
	}
	if last.IsZero() || !now.Before(last.Add(-clockStepTolerance)) {
		return core.Event{}, false
	}
	return core.Event{Kind: core.EventClockStepped, Value: fmt.Sprint(now.Sub(last).Milliseconds()),
		Previous: core.Stamp(last).Format(time.RFC3339Nano),
		Detail:   "at start the clock is behind the last time this agent kept (state file or accepted batch)"}, true
}

// pollLoop polls until ctx ends and commits each poll's records with the poller's state. A journal that is
// full does not end the agent: delivery goes on and frees room, the records wait in the state file, and
// committing is tried again every 10 s before polling resumes; status shows the alarm. Any other failure of
// commit (a failed fsync, which the journal keeps failing on until it is reopened) is returned: the agent
// exits, systemd starts it again, and the journal's recovery and recoverPending take over.
func (a *agentProc) pollLoop(ctx context.Context) error {
	var last []byte
	t := time.NewTicker(pollTick)
	defer t.Stop()
	for {
		var err, cerr error
		a.appendMu.Lock()
		waiting := len(a.pending) > 0
		a.appendMu.Unlock()
		if waiting {
			cerr = a.commit(nil, nil)
		} else {
			err = a.poller.Poll(ctx)
			recs := a.buf
			a.buf = nil
			if st, serr := a.poller.State(); serr != nil {
				a.log.Error("poller state", "err", serr)
			} else if len(recs) > 0 || string(st) != string(last) {
				// Committed even when ctx ended during the poll: what was detected is kept.
				if cerr = a.commit(recs, st); cerr == nil {
					last = st
				}
			}
		}
		if cerr != nil {
			if !errors.Is(cerr, journal.ErrFull) {
				return cerr
			}
			err = cerr
		}
		if ctx.Err() != nil {
			return nil
		}
		a.mu.Lock()
		a.pollErr = ""
		if err != nil {
			a.pollErr = err.Error()
		}
		a.mu.Unlock()
		wait := t.C
		if err != nil {
			a.log.Error("polling stopped", "err", err)
			wait = time.After(10 * time.Second)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
		}
	}
}
