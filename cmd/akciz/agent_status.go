package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/agent/deliver"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

// agentStatus is status.json: what the running agent writes for `akciz agent status`, atomically, every
// statusEvery and when it stops.
type agentStatus struct {
	Written  time.Time               `json:"written"`
	PID      int                     `json:"pid"`
	Running  bool                    `json:"running"`
	Started  time.Time               `json:"started"`
	Device   string                  `json:"device"`
	Config   string                  `json:"config"`
	Server   string                  `json:"server"`
	Delivery deliver.Status          `json:"delivery"`
	Journal  journal.Stats           `json:"journal"`
	Appended uint64                  `json:"appended"` // records appended since start
	PollErr  string                  `json:"pollError,omitempty"`
	Readings map[string]pointReading `json:"readings"` // last reading per control point
}

func (a *agentProc) status(running bool) agentStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := agentStatus{Written: time.Now().UTC(), PID: os.Getpid(), Running: running, Started: a.started.UTC(),
		Device: a.device, Config: a.hash, Server: a.set.Server, Appended: a.appended, PollErr: a.pollErr,
		Readings: map[string]pointReading{}}
	for k, v := range a.readings {
		st.Readings[k] = v
	}
	st.Journal = a.j.Stats()
	if a.sender != nil {
		st.Delivery = a.sender.Status()
	}
	return st
}

func (a *agentProc) writeStatusFile(running bool) {
	b, err := json.MarshalIndent(a.status(running), "", "  ")
	if err == nil {
		err = deliver.WriteFileAtomic(filepath.Join(a.set.State, statusFile), b)
	}
	if err != nil {
		a.log.Warn("status not written", "err", err)
	}
}

func (a *agentProc) writeStatus() { a.writeStatusFile(false) }

func (a *agentProc) writeStatusLoop(ctx context.Context) {
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	for {
		a.writeStatusFile(true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handler serves the loopback endpoints: /metrics (Prometheus text format), /status (status.json live)
// and /export (a signed batch of the journal, for `akciz agent export` while the agent runs).
func (a *agentProc) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, a.status(true))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a.status(true))
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		from, err1 := time.Parse(time.RFC3339, r.URL.Query().Get("from"))
		to, err2 := time.Parse(time.RFC3339, r.URL.Query().Get("to"))
		if err1 != nil || err2 != nil {
			http.Error(w, "from and to must be RFC 3339 times", http.StatusBadRequest)
			return
		}
		body, err := exportBatch(a.j, a.device, a.key, from, to)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.akciz.batch+gzip")
		w.Write(body)
	})
	return mux
}

// writeMetrics writes the Prometheus text exposition format (version 0.0.4) by hand.
func writeMetrics(w io.Writer, st agentStatus) {
	g := func(name, help, typ string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", name, help, name, typ, name, v)
	}
	ts := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixMilli()) / 1000
	}
	d := st.Delivery
	g("akciz_agent_backlog_records", "Records kept in the journal and not yet acknowledged by the server.", "gauge", float64(d.Backlog))
	age := 0.0
	if !d.OldestUnacked.IsZero() {
		age = time.Since(d.OldestUnacked).Seconds()
	}
	g("akciz_agent_oldest_unacked_age_seconds", "Age of the oldest unacknowledged record (0: none).", "gauge", age)
	g("akciz_agent_journal_last_seq", "Sequence number of the last record appended.", "gauge", float64(st.Journal.Last))
	g("akciz_agent_journal_acked_seq", "Sequence number of the last record acknowledged.", "gauge", float64(st.Journal.Acked))
	g("akciz_agent_journal_bytes", "Bytes of the journal's segment files.", "gauge", float64(st.Journal.Bytes))
	g("akciz_agent_journal_max_bytes", "Size limit of the journal.", "gauge", float64(st.Journal.MaxBytes))
	g("akciz_agent_records_appended_total", "Records appended since the agent started.", "counter", float64(st.Appended))
	g("akciz_agent_batches_delivered_total", "Batches acknowledged since the agent started.", "counter", float64(d.Batches))
	g("akciz_agent_records_delivered_total", "Records acknowledged since the agent started.", "counter", float64(d.Records))
	g("akciz_agent_delivery_failures_total", "Failed delivery attempts since the agent started.", "counter", float64(d.Failures))
	up := 0.0
	if d.Link == deliver.LinkUp {
		up = 1
	}
	g("akciz_agent_link_up", "1 when the last attempt reached the server and was not refused.", "gauge", up)
	g("akciz_agent_last_delivery_timestamp_seconds", "When the last batch was acknowledged (Unix time).", "gauge", ts(d.LastDelivery))
	g("akciz_agent_checkpoint_size", "Size of the last verified checkpoint of the server's log.", "gauge", float64(d.TreeSize))
	polling := 1.0
	if st.PollErr != "" {
		polling = 0
	}
	g("akciz_agent_polling", "1 while polling works (0: stopped, e.g. journal full).", "gauge", polling)
	fmt.Fprintf(w, "# HELP akciz_agent_alarm Alarms that need a person, by code.\n# TYPE akciz_agent_alarm gauge\n")
	for _, al := range d.Alarms {
		fmt.Fprintf(w, "akciz_agent_alarm{code=%q} 1\n", al.Code)
	}
	if st.PollErr != "" {
		// A full journal (or disk) stops polling: an alarm like the sender's, so that one alert rule on
		// akciz_agent_alarm covers everything that needs a person.
		fmt.Fprintf(w, "akciz_agent_alarm{code=%q} 1\n", alarmPollingStopped)
	}
}

// alarmPollingStopped is the alarm code of a poll stopped by a full journal or disk, in metrics.
const alarmPollingStopped = "polling-stopped"

func runAgentStatus(_ context.Context, env *environment, args []string) int {
	fs := flag.NewFlagSet("agent status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	setPath := fs.String("settings", "", "")
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("agentcmd.status.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.bad_flag", err.Error()))
		return 2
	}
	if *setPath == "" {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.need_settings"))
		return 2
	}
	set, err := loadSettings(*setPath)
	if err != nil {
		printAgentError(env, err)
		return 2
	}
	path := filepath.Join(set.State, statusFile)
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.status.none", path, err.Error()))
		return 1
	}
	var st agentStatus
	if err := json.Unmarshal(b, &st); err != nil {
		fmt.Fprintln(env.stderr, env.p.T("agentcmd.status.bad", path, err.Error()))
		return 1
	}
	if *asJSON {
		env.stdout.Write(b)
		fmt.Fprintln(env.stdout)
		return 0
	}
	printStatus(env, st, time.Now())
	if len(st.Delivery.Alarms) > 0 || st.PollErr != "" {
		return 3
	}
	return 0
}

func printStatus(env *environment, st agentStatus, now time.Time) {
	p, w := env.p, env.stdout
	state := p.T("agentcmd.status.stopped")
	if st.Running && now.Sub(st.Written) < 5*statusEvery {
		state = p.T("agentcmd.status.running", st.PID, st.Started.Local().Format("2006-01-02 15:04:05"))
	} else if st.Running {
		state = p.T("agentcmd.status.stale", st.Written.Local().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintln(w, p.T("agentcmd.status.agent", st.Device, state))
	d := st.Delivery
	link := map[deliver.Link]string{deliver.LinkUp: p.T("agentcmd.link.up"), deliver.LinkDown: p.T("agentcmd.link.down"),
		deliver.LinkRefused: p.T("agentcmd.link.refused")}[d.Link]
	if link == "" {
		link = p.T("agentcmd.link.unknown")
	}
	fmt.Fprintln(w, p.T("agentcmd.status.link", link, st.Server))
	if d.LastError != "" {
		fmt.Fprintln(w, p.T("agentcmd.status.last_error", d.LastError))
	}
	if !d.LastDelivery.IsZero() {
		fmt.Fprintln(w, p.T("agentcmd.status.last_delivery", d.LastDelivery.Local().Format("2006-01-02 15:04:05")))
	}
	if d.Backlog == 0 {
		fmt.Fprintln(w, p.T("agentcmd.status.backlog_none", st.Journal.Acked))
	} else {
		fmt.Fprintln(w, p.T("agentcmd.status.backlog", d.Backlog, now.Sub(d.OldestUnacked).Round(time.Second).String(), st.Journal.Acked))
	}
	fmt.Fprintln(w, p.T("agentcmd.status.journal", st.Journal.Bytes>>20, st.Journal.MaxBytes>>20, st.Journal.Segments))
	if st.PollErr != "" {
		fmt.Fprintln(w, p.T("agentcmd.status.poll_error", st.PollErr))
	}
	if len(d.Alarms) == 0 {
		fmt.Fprintln(w, p.T("agentcmd.status.no_alarms"))
	}
	for _, al := range d.Alarms {
		fmt.Fprintln(w, p.T("agentcmd.status.alarm", alarmTitle(p, al.Code), al.Code, al.Since.Local().Format("2006-01-02 15:04:05"), al.Detail))
	}
	points := make([]string, 0, len(st.Readings))
	for k := range st.Readings {
		points = append(points, k)
	}
	sort.Strings(points)
	for _, pt := range points {
		r := st.Readings[pt]
		fmt.Fprintln(w, p.T("agentcmd.status.reading", pt, r.Time.Local().Format("2006-01-02 15:04:05"), strings.Join(r.Values, "; ")))
	}
}

// alarmTitle names an alarm in the reader's language: a protocol code by its title, the agent's own
// alarms from this command's catalogue.
func alarmTitle(p *i18n.Printer, code string) string {
	if key := "wire.code." + code; i18n.Has(p.Lang(), key) {
		return wire.Code(code).Title(p)
	}
	if key := "agentcmd.alarm." + code; i18n.Has(p.Lang(), key) {
		return p.T(key)
	}
	return code
}

// buildVersion is the module version and revision, for the agent-started event.
func buildVersion() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
	}
	return v
}
