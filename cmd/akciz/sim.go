package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/akciz/akciz/examples"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/sim"
)

func init() {
	register(&command{name: "sim", summary: "sim.summary", run: runSim})
}

// defaultSimTCP is where the simulator serves Modbus TCP when no transport is given: loopback, and an
// unprivileged port instead of 502.
const defaultSimTCP = "127.0.0.1:5020"

type simFlags struct {
	tcp, rtu, rtuOverTCP string
	baud, dataBits, stop int
	parity               string
	truth                string
	seed                 string
	speed                float64
	fast                 bool
	limit                time.Duration
	start                string
	control              string
	lang                 string
	list                 bool
}

func runSim(ctx context.Context, env *environment, args []string) int {
	p := env.p
	var f simFlags
	set := flag.NewFlagSet("sim", flag.ContinueOnError)
	set.SetOutput(io.Discard)
	set.StringVar(&f.tcp, "tcp", "", "")
	set.StringVar(&f.rtu, "rtu", "", "")
	set.StringVar(&f.rtuOverTCP, "rtu-over-tcp", "", "")
	set.IntVar(&f.baud, "baud", 19200, "")
	set.IntVar(&f.dataBits, "data-bits", 8, "")
	set.StringVar(&f.parity, "parity", "E", "")
	set.IntVar(&f.stop, "stop", 1, "")
	set.StringVar(&f.truth, "truth", "", "")
	set.StringVar(&f.seed, "seed", "", "")
	set.Float64Var(&f.speed, "speed", 1, "")
	set.BoolVar(&f.fast, "fast", false, "")
	set.DurationVar(&f.limit, "for", 0, "")
	set.StringVar(&f.start, "start", "", "")
	set.StringVar(&f.control, "control", "", "")
	set.StringVar(&f.lang, "lang", "", "")
	set.BoolVar(&f.list, "list", false, "")
	help := false
	set.BoolVar(&help, "help", false, "")
	set.BoolVar(&help, "h", false, "")

	// Flags may come before or after the scenario.
	var positional []string
	rest := args
	for {
		if err := set.Parse(rest); err != nil {
			if f.lang != "" {
				p = i18n.For(i18n.Parse(f.lang))
			}
			fmt.Fprintf(env.stderr, "akciz sim: %s\n", err)
			fmt.Fprintln(env.stderr, p.T("sim.try_help"))
			return 2
		}
		rest = set.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	if f.lang != "" {
		p = i18n.For(i18n.Parse(f.lang))
	}
	if help {
		fmt.Fprintln(env.stdout, p.T("sim.help", defaultSimTCP, strings.Join(sampleNames(), ", ")))
		return 0
	}
	if f.list {
		for _, n := range sampleNames() {
			sc, err := loadScenario(n)
			if err != nil {
				continue
			}
			fmt.Fprintf(env.stdout, "%-16s %s (%s)\n", n, sc.Title, sc.Warehouse)
		}
		return 0
	}
	usageErr := func(key string, a ...any) int {
		fmt.Fprintf(env.stderr, "akciz sim: %s\n", p.T(key, a...))
		fmt.Fprintln(env.stderr, p.T("sim.try_help"))
		return 2
	}
	if len(positional) != 1 {
		return usageErr("sim.need_scenario")
	}
	sc, err := loadScenario(positional[0])
	if err != nil {
		var se *sim.Error
		if errors.As(err, &se) {
			fmt.Fprintf(env.stderr, "akciz sim: %s\n", se.Localize(p))
		} else if errors.Is(err, fs.ErrNotExist) {
			return usageErr("sim.no_scenario", positional[0], strings.Join(sampleNames(), ", "))
		} else {
			fmt.Fprintf(env.stderr, "akciz sim: %v\n", err)
		}
		return 1
	}
	opts := sim.Options{Seed: sc.Seed}
	if f.seed != "" {
		v, err := strconv.ParseUint(f.seed, 10, 64)
		if err != nil {
			return usageErr("sim.bad_flag", "--seed", f.seed)
		}
		opts.Seed = v
	}
	if f.start != "" {
		t, err := time.Parse(time.RFC3339, f.start)
		if err != nil {
			return usageErr("sim.bad_flag", "--start", f.start)
		}
		opts.Start = t
	}
	if f.speed <= 0 || f.speed > 1e6 {
		return usageErr("sim.bad_flag", "--speed", strconv.FormatFloat(f.speed, 'g', -1, 64))
	}
	if f.limit < 0 {
		return usageErr("sim.bad_flag", "--for", f.limit.String())
	}
	if f.tcp == "" && f.rtu == "" && f.rtuOverTCP == "" {
		f.tcp = defaultSimTCP
	}
	if f.control != "" && !loopback(f.control) {
		return usageErr("sim.control_loopback", f.control)
	}

	// Open everything that can fail before the first tick, so that a mistake costs no simulated time.
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	listen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		return l, nil
	}
	var tcpLn, rtuTCPLn, ctlLn net.Listener
	if f.tcp != "" {
		if tcpLn, err = listen(f.tcp); err != nil {
			fmt.Fprintf(env.stderr, "akciz sim: %s\n", p.T("sim.listen", f.tcp, err))
			return 1
		}
	}
	if f.rtuOverTCP != "" {
		if rtuTCPLn, err = listen(f.rtuOverTCP); err != nil {
			closeAll()
			fmt.Fprintf(env.stderr, "akciz sim: %s\n", p.T("sim.listen", f.rtuOverTCP, err))
			return 1
		}
	}
	if f.control != "" {
		if ctlLn, err = listen(f.control); err != nil {
			closeAll()
			fmt.Fprintf(env.stderr, "akciz sim: %s\n", p.T("sim.listen", f.control, err))
			return 1
		}
	}
	var truthFile *os.File
	if f.truth != "" {
		truthFile, err = os.OpenFile(f.truth, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			closeAll()
			fmt.Fprintf(env.stderr, "akciz sim: %s\n", p.T("sim.truth_open", f.truth, err))
			return 1
		}
		defer truthFile.Close()
		opts.Truth = truthFile
	}
	s, err := sim.New(sc, opts)
	if err != nil {
		closeAll()
		fmt.Fprintf(env.stderr, "akciz sim: %v\n", err)
		return 1
	}

	serveCtx, stopServing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	failed := make(chan error, 4)
	goServe := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && serveCtx.Err() == nil {
				failed <- err
			}
		}()
	}
	tcpSrv := &modbus.Server{Handler: s.Handler(), IdleTimeout: 10 * time.Minute}
	var units []byte
	for _, d := range sc.Devices {
		units = append(units, d.Unit)
	}
	serialSrv := &modbus.Server{Handler: s.SerialHandler(), Units: units}
	if tcpLn != nil {
		goServe(func() error { return tcpSrv.ServeTCP(serveCtx, tcpLn) })
	}
	if rtuTCPLn != nil {
		goServe(func() error { return serialSrv.ServeRTUOverTCP(serveCtx, rtuTCPLn) })
	}
	if f.rtu != "" {
		cfg := modbus.SerialConfig{Baud: f.baud, DataBits: f.dataBits, Parity: f.parity, StopBits: f.stop}
		goServe(func() error { return serialSrv.ServeSerial(serveCtx, f.rtu, cfg) })
	}
	var ctlSrv *http.Server
	if ctlLn != nil {
		ctlSrv = &http.Server{Handler: s.ControlHandler(), ReadHeaderTimeout: 5 * time.Second}
		goServe(func() error {
			if err := ctlSrv.Serve(ctlLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}

	banner(env.stdout, p, sc, opts.Seed, f, tcpLn, rtuTCPLn, ctlLn)

	runCtx, stopRun := context.WithCancel(ctx)
	var runErr error
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		pacer := sim.RealTime(f.speed)
		if f.fast {
			pacer = sim.Fast()
		}
		runErr = s.Run(runCtx, pacer, f.limit)
	}()
	code := 0
	select {
	case <-runDone:
	case err := <-failed:
		fmt.Fprintf(env.stderr, "akciz sim: %v\n", err)
		code = 1
		stopRun()
		<-runDone
	}
	stopRun()
	// The tick in progress has finished: stop serving, then write the end of the truth.
	stopServing()
	if ctlSrv != nil {
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = ctlSrv.Shutdown(shut)
		cancel()
	}
	wg.Wait()
	if runErr != nil {
		fmt.Fprintf(env.stderr, "akciz sim: %v\n", runErr)
		code = 1
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(env.stderr, "akciz sim: %s\n", p.T("sim.truth_write", f.truth, err))
		code = 1
	}
	fmt.Fprintln(env.stdout, p.T("sim.stopped", s.Elapsed().String(), s.Now().Format(time.RFC3339)))
	if f.truth != "" && code == 0 {
		fmt.Fprintln(env.stdout, p.T("sim.truth_written", f.truth))
	}
	return code
}

// loadScenario reads a scenario file, or, for a bare name that is no file, the embedded sample of that
// name.
func loadScenario(arg string) (*sim.Scenario, error) {
	if _, err := os.Stat(arg); err == nil || strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".xml") {
		return sim.LoadFile(arg)
	}
	b, err := fs.ReadFile(examples.Scenarios, arg+"/scenario.xml")
	if err != nil {
		return nil, fs.ErrNotExist
	}
	return sim.Parse(arg+"/scenario.xml", b)
}

func sampleNames() []string {
	var out []string
	entries, _ := fs.ReadDir(examples.Scenarios, ".")
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// mbpollHint is an mbpoll command that reads the first register of the first point, so the banner
// teaches how the map's types and word orders translate into mbpoll's options (mbpoll reads 32-bit
// values low word first unless given -B).
func mbpollHint(sc *sim.Scenario, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || len(sc.Devices) == 0 || len(sc.Devices[0].Points) == 0 {
		return ""
	}
	d := sc.Devices[0]
	r := d.Points[0].Registers[0]
	table := map[sim.Table]string{sim.Coils: "0", sim.DiscreteInputs: "1", sim.InputRegisters: "3", sim.HoldingRegisters: "4"}[r.Table]
	word := ""
	switch r.Type {
	case modbus.Float32:
		table += ":float"
	case modbus.Int32, modbus.Uint32:
		table += ":int"
	}
	if r.Type.Registers() == 2 && r.Order == modbus.ABCD {
		word = " -B"
	}
	return fmt.Sprintf("mbpoll -m tcp -p %s -a %d -r %d -c 1 -t %s%s -1 %s", port, d.Unit, int(r.Address)+1, table, word, host)
}

// loopback reports whether addr's host is a loopback address: the control API has no authentication.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func banner(w io.Writer, p *i18n.Printer, sc *sim.Scenario, seed uint64, f simFlags, tcpLn, rtuTCPLn, ctlLn net.Listener) {
	fmt.Fprintln(w, p.T("sim.banner.title", sc.Name, sc.Title))
	fmt.Fprintln(w, p.T("sim.banner.site", sc.Warehouse, sc.Box))
	if tcpLn != nil {
		fmt.Fprintln(w, p.T("sim.banner.tcp", tcpLn.Addr().String()))
	}
	if tcpLn != nil {
		if hint := mbpollHint(sc, tcpLn.Addr().String()); hint != "" {
			fmt.Fprintln(w, p.T("sim.banner.mbpoll", hint))
		}
	}
	if rtuTCPLn != nil {
		fmt.Fprintln(w, p.T("sim.banner.rtu_over_tcp", rtuTCPLn.Addr().String()))
	}
	if f.rtu != "" {
		fmt.Fprintln(w, p.T("sim.banner.rtu", f.rtu, fmt.Sprintf("%d %d%s%d", f.baud, f.dataBits, strings.ToUpper(f.parity), f.stop)))
	}
	for _, d := range sc.Devices {
		var pts []string
		for _, pt := range d.Points {
			pts = append(pts, fmt.Sprintf("%03d %s", pt.Number, pt.Name))
		}
		fmt.Fprintln(w, p.T("sim.banner.unit", int(d.Unit), d.Name))
		for _, s := range pts {
			fmt.Fprintln(w, "      "+s)
		}
	}
	pace := p.T("sim.banner.speed", strconv.FormatFloat(f.speed, 'g', -1, 64))
	if f.fast {
		pace = p.T("sim.banner.fast")
	}
	fmt.Fprintln(w, p.T("sim.banner.run", seed, pace))
	if f.truth != "" {
		fmt.Fprintln(w, p.T("sim.banner.truth", f.truth))
	}
	if ctlLn != nil {
		fmt.Fprintln(w, p.T("sim.banner.control", "http://"+ctlLn.Addr().String()))
	}
	fmt.Fprintln(w, p.T("sim.banner.stop"))
}
