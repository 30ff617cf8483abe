package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/akciz/akciz/internal/agent/deliver"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/signer"
	"github.com/akciz/akciz/internal/wire"
)

// maxExport bounds an exported batch (the protocol's record limit).
var maxExport = wire.DefaultLimits.MaxRecords

var errNothing = errors.New("no records in the journal between these times")

// errNeedsRecovery is what noRepairFS answers when journal.Open would repair the journal.
var errNeedsRecovery = errors.New("the journal needs recovery; export does not repair it")

// noRepairFS is the operating system's filesystem for export's journal.Open: it refuses what recovery
// does to repair a journal after a crash (cutting a torn tail, removing a half-made or trimmed segment).
// Export runs while the agent is stopped; if it repaired the journal, the agent's next start would find
// nothing to report, and the journal-recovered event, the evidence of the crash, would never be made. The
// journal is left for the agent, which repairs it and records what it found.
type noRepairFS struct{ journal.OSFS }

func (f noRepairFS) OpenFile(name string, flag int, perm fs.FileMode) (journal.File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noRepairFile{file}, nil
}

func (noRepairFS) Remove(name string) error { return errNeedsRecovery }

func (noRepairFS) Rename(oldpath, newpath string) error { return errNeedsRecovery }

type noRepairFile struct{ journal.File }

func (noRepairFile) Truncate(int64) error { return errNeedsRecovery }

// exportBatch signs the records of the journal j whose time is within [from, to] as one batch: the run of
// consecutive records from the first at or after from to the last at or before to. The batch stands alone
// (prevBatch is zero): it is evidence of what the box holds, for the comparison of чл. 20, not a part of
// the chain of batches the server keeps.
func exportBatch(j *journal.Journal, device string, key *signer.Key, from, to time.Time) ([]byte, error) {
	var recs [][]byte
	var lastIn int
	stop := errors.New("stop")
	err := j.ReadFrom(j.Stats().First, func(seq uint64, data []byte) error {
		e, err := wire.DecodeRecord(data)
		if err != nil {
			return fmt.Errorf("journal record %d: %w", seq, err)
		}
		t := e.Record.Time
		if len(recs) == 0 && t.Before(from) {
			return nil
		}
		if t.After(to) {
			if len(recs) == 0 {
				return stop
			}
			// Keep reading: a record stamped later may be followed by one within the range (a clock step).
		} else {
			lastIn = len(recs) + 1
		}
		if len(recs) >= maxExport {
			return stop
		}
		recs = append(recs, bytes.Clone(data))
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, err
	}
	recs = recs[:lastIn]
	if len(recs) == 0 {
		return nil, errNothing
	}
	h, err := wire.NewBatch(device, wire.ZeroHash, core.Stamp(time.Now()), recs)
	if err != nil {
		return nil, err
	}
	if err := h.Sign(key.Signer, key.Chain); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := wire.WriteBatch(&buf, h, recs); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func runAgentExport(_ context.Context, env *environment, args []string) int {
	fs := flag.NewFlagSet("agent export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	cfgPath := fs.String("config", "", "")
	setPath := fs.String("settings", "", "")
	fromS := fs.String("from", "", "")
	toS := fs.String("to", "", "")
	out := fs.String("out", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("agentcmd.export.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.bad_flag", err.Error()))
		return 2
	}
	if *cfgPath == "" || *setPath == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.export.usage"))
		return 2
	}
	from, err1 := parseExportTime(*fromS, time.Time{})
	to, err2 := parseExportTime(*toS, time.Now())
	if err1 != nil || err2 != nil || to.Before(from) {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.export.bad_time"))
		return 2
	}
	a, err := openAgent(env, *cfgPath, *setPath, false)
	if err != nil {
		printAgentError(env, err)
		return 1
	}
	defer a.close()
	var body []byte
	j, _, err := journal.Open(a.set.Journal, journal.Options{Device: a.device, MaxSize: a.set.JournalMax, FS: noRepairFS{}})
	switch {
	case errors.Is(err, errNeedsRecovery):
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.export.needs_recovery", a.set.Journal))
		return 1
	case errors.Is(err, journal.ErrLocked):
		// The running agent holds the journal: ask it, over its loopback listener.
		if a.set.Metrics == "" {
			fmt.Fprintln(env.stderr, env.p.T("agentcmd.export.locked", a.set.Journal))
			return 1
		}
		body, err = exportFromAgent(a.set.Metrics, from, to)
	case err != nil:
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.journal", a.set.Journal, err.Error()))
		return 1
	default:
		body, err = exportBatch(j, a.device, a.key, from, to)
		j.Close()
	}
	if errors.Is(err, errNothing) {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.export.nothing"))
		return 1
	}
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.failed", err.Error()))
		return 1
	}
	if err := deliver.WriteFileAtomic(*out, body); err != nil {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.failed", err.Error()))
		return 1
	}
	h, err := wire.DecodeBatch(bytes.NewReader(body), wire.DecodeOptions{}, nil)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.failed", err.Error()))
		return 1
	}
	fmt.Fprintln(env.stdout, env.p.T("agentcmd.export.done", *out, h.Device, h.First, h.Last, h.Count))
	return 0
}

// parseExportTime reads RFC 3339 or "2006-01-02 15:04" in local time; empty is def.
func parseExportTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

func exportFromAgent(addr string, from, to time.Time) ([]byte, error) {
	u := "http://" + addr + "/export?from=" + url.QueryEscape(from.UTC().Format(time.RFC3339Nano)) +
		"&to=" + url.QueryEscape(to.UTC().Format(time.RFC3339Nano))
	c := &http.Client{Timeout: 5 * time.Minute}
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, wire.DefaultLimits.MaxCompressed+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if bytes.Contains(body, []byte(errNothing.Error())) {
			return nil, errNothing
		}
		return nil, fmt.Errorf("agent at %s: %s", addr, bytes.TrimSpace(body))
	}
	return body, nil
}
