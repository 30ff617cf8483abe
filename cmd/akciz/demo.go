package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
)

// `akciz demo` (docs/demo.md): the simulator, the agent and the server with its console in one process,
// for a newcomer's machine. Each part is the code of its own command (akciz sim's package, runAgent,
// runServer, and the registry commands of akciz server and akciz console); this file only composes them.
func init() {
	register(&command{name: "demo", summary: "demo.summary", run: runDemo})
}

// The defaults of `akciz demo`: the console on this machine only, the data in ./akciz-demo (beside
// akciz server's ./akciz-data), the plant an hour a minute.
const (
	defaultDemoHTTP  = "127.0.0.1:8080"
	defaultDemoDir   = "akciz-demo"
	defaultDemoSpeed = 60
	// maxDemoSpeed keeps a loading long enough for an agent that reads its indicator once a second.
	maxDemoSpeed = 120
)

// The parts of the demo directory.
const (
	demoServerDir = "server" // akciz server --dir
	demoAgentDir  = "agent"  // automation_config.xml, agent.conf, journal, state
	demoPlantDir  = "plant"  // the simulator's plant.json and ground truth
)

// demoWatchEvery is how often the demo's watching engine looks at new records (akciz server's default
// is 30 s): an alarm follows its event within seconds.
const demoWatchEvery = 2 * time.Second

// demoReady, when set (by the tests), is called once the demo runs.
var demoReady func(d *demoRun)

// demoRun is one run of `akciz demo`.
type demoRun struct {
	env   *environment
	speed float64
	http  string // --http

	dir, serverDir, agentDir, plantDir string

	certs   *demoCerts
	cfg     *config.Config
	cfgPath string
	st      store.Store // the demo's own handle on the server's database: registry and progress
	where   string      // the database, for people
	logKey  string      // the transparency log's verifier key file, for the agent

	console string // the console's URL
	intake  string // the intake's host:port
	modbus  string // the simulator's host:port

	server, agent *demoPart
	plant         *demoPlant
	plantState    plantState   // where the plant stopped last time
	plantLn       net.Listener // the plant's Modbus listener, until the plant owns it
}

func runDemo(ctx context.Context, env *environment, args []string) int {
	env = langFirst(env, args)
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	httpAddr := fs.String("http", defaultDemoHTTP, "")
	dir := fs.String("dir", defaultDemoDir, "")
	speed := fs.Float64("speed", defaultDemoSpeed, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("demo.help", defaultDemoHTTP, defaultDemoDir, defaultDemoSpeed, demoP12Password))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("demo.bad_flag", err.Error()))
		return 2
	}
	usage := func(key string, a ...any) int {
		fmt.Fprintln(env.stderr, env.p.T(key, a...))
		return 2
	}
	if fs.NArg() > 0 {
		return usage("demo.bad_arg", fs.Arg(0))
	}
	if *speed <= 0 || *speed > maxDemoSpeed {
		return usage("demo.bad_speed", strconv.FormatFloat(*speed, 'g', -1, 64))
	}
	host, port, err := net.SplitHostPort(*httpAddr)
	if err != nil {
		return usage("demo.bad_http", *httpAddr, err.Error())
	}
	// The console's address is the one a person chose: a port in use is said before anything is made.
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("demo.http_busy", *httpAddr, err.Error()))
		return 1
	}
	ln.Close()

	d := &demoRun{env: env, speed: *speed, http: *httpAddr}
	// A console on every interface is reached here as localhost; a named host or address as itself,
	// and the server's certificate must name it.
	var hosts []string
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		d.console = "https://" + net.JoinHostPort("localhost", port)
	} else {
		d.console = "https://" + *httpAddr
		hosts = append(hosts, host)
	}
	defer d.close()
	if err := d.prepare(ctx, *dir, hosts); err != nil {
		printAgentError(env, err)
		return 1
	}
	if err := d.start(ctx); err != nil {
		printAgentError(env, err)
		return 1
	}
	if demoReady != nil {
		demoReady(d)
	}
	return d.wait(ctx)
}

// say prints a progress line of the catalogue.
func (d *demoRun) say(key string, a ...any) { fmt.Fprintln(d.env.stdout, d.env.p.T(key, a...)) }

// failed is an error for a person, from the catalogue.
func (d *demoRun) failed(err error, key string, a ...any) error {
	return &msgError{msg: d.env.p.T(key, a...), err: err}
}

// prepare makes everything the parts need, in dir: the directories, the certificates, the agent's
// configuration and the server's registry.
func (d *demoRun) prepare(ctx context.Context, dir string, hosts []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return d.failed(err, "demo.dir", dir, err.Error())
	}
	d.dir = abs
	d.serverDir, d.agentDir, d.plantDir = filepath.Join(abs, demoServerDir), filepath.Join(abs, demoAgentDir), filepath.Join(abs, demoPlantDir)
	for _, p := range []string{abs, d.serverDir, d.agentDir, d.plantDir} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return d.failed(err, "demo.dir", p, err.Error())
		}
	}
	if _, err := os.Stat(filepath.Join(d.serverDir, serverDBFile)); errors.Is(err, os.ErrNotExist) {
		d.say("demo.start_new", abs)
	} else {
		d.say("demo.start_again", abs)
	}

	if d.certs, err = openDemoCerts(filepath.Join(abs, demoCertDir), hosts); err != nil {
		return d.failed(err, "demo.certs_failed", err.Error())
	}
	if len(d.certs.made) > 0 {
		d.say("demo.certs_made", d.certs.dir)
	} else {
		d.say("demo.certs_reused", d.certs.dir)
	}

	// The plant's Modbus listener first: the agent's configuration names its address.
	if d.plantState, err = readPlantState(d.plantDir); err != nil {
		return d.failed(err, "demo.plant_failed", err.Error())
	}
	if d.plantLn, err = listenPlant(d.plantState.Modbus); err != nil {
		return d.failed(err, "demo.plant_failed", err.Error())
	}
	d.modbus = d.plantLn.Addr().String()
	if d.cfgPath, d.cfg, err = demoConfig(d.agentDir, d.modbus); err != nil {
		var ds config.Diagnostics
		if errors.As(err, &ds) {
			var msg []byte
			for _, dg := range ds.Errors() {
				msg = fmt.Appendln(msg, dg.Format(d.env.p))
			}
			return &msgError{msg: string(msg[:len(msg)-1]), err: err}
		}
		return d.failed(err, "demo.config_failed", err.Error())
	}

	// The transparency log's key, as akciz server makes it on a first start: the agent needs the
	// verifier key before the server runs.
	lg, _, err := ingest.OpenLog(d.serverDir, ingest.DefaultOrigin)
	if err != nil {
		return d.failed(err, "demo.server_failed", err.Error())
	}
	d.logKey = filepath.Join(d.serverDir, ingest.VerifierKeyFile)
	if err := os.WriteFile(d.logKey, []byte(lg.VerifierKey()+"\n"), 0o644); err != nil {
		return d.failed(err, "demo.server_failed", err.Error())
	}
	if d.st, d.where, err = openServerStore(ctx, d.serverDir, ""); err != nil {
		return d.failed(err, "demo.db_failed", d.where, err.Error())
	}
	added, err := demoRegister(ctx, d.env, d.st, d.serverDir, d.cfg, d.certs)
	for _, a := range added {
		d.say("demo.registered", a)
	}
	if err != nil {
		printAgentError(d.env, err)
		return d.failed(err, "demo.register_failed")
	}
	return nil
}

// start starts the server and waits until it answers, then the plant and the agent that reads it, and
// says how to look.
func (d *demoRun) start(ctx context.Context) error {
	var err error
	if d.intake, err = freeLoopbackPort(); err != nil {
		return d.failed(err, "demo.server_failed", err.Error())
	}
	args := []string{"--dir", d.serverDir, "--listen", d.intake,
		"--cert", d.certs.path("server.pem"), "--key", d.certs.path("server-key.pem")}
	if d.server, err = startPart(d.env, filepath.Join(d.dir, "server.log"), runServer, append(args, demoServerArgs(d.http)...)); err != nil {
		return d.failed(err, "demo.server_failed", err.Error())
	}
	if err := waitListening(ctx, d.intake, d.certs.ca, d.server); err != nil {
		if d.server.exited() {
			showTail(d.env.stderr, d.server.log.Name())
			return d.failed(err, "demo.server_exited", d.server.code, d.server.log.Name())
		}
		return d.failed(err, "demo.stopped")
	}
	d.say("demo.server", "https://"+d.intake, d.where)

	if d.plant, err = startPlant(d.plantDir, d.plantLn, d.plantState, d.speed); err != nil {
		return d.failed(err, "demo.plant_failed", err.Error())
	}
	d.plantLn = nil
	d.say("demo.plant", d.plant.sc.Title, d.modbus, strconv.FormatFloat(d.speed, 'g', -1, 64))

	setPath, err := demoSettings(d.agentDir, d.intake, d.logKey, d.certs)
	if err != nil {
		return d.failed(err, "demo.agent_failed", err.Error())
	}
	if d.agent, err = startPart(d.env, filepath.Join(d.dir, "agent.log"), runAgent, []string{"--config", d.cfgPath, "--settings", setPath}); err != nil {
		return d.failed(err, "demo.agent_failed", err.Error())
	}
	d.say("demo.agent", demoDevice, d.agentDir)

	if hasServerPart("console") {
		d.say("demo.console", d.console)
		d.say("demo.login", d.certs.path("officer.p12"), d.certs.path("operator.p12"), demoP12Password, d.certs.path("ca.pem"))
		d.say("demo.curl", d.certs.path("officer.pem"), d.certs.path("officer-key.pem"), d.certs.path("ca.pem"), d.console)
	} else {
		d.say("demo.no_console")
	}
	d.say("demo.logs", d.server.log.Name(), d.agent.log.Name(), filepath.Join(d.plantDir, demoTruthFile))
	d.say("demo.stop_hint")
	return nil
}

// wait tells what reaches the server until ctx ends (Ctrl-C) or a part stops on its own, then stops
// everything; it gives the exit code.
func (d *demoRun) wait(ctx context.Context) int {
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		demoProgress(watchCtx, d.env, d.st, d.cfg)
	}()
	code := 0
	select {
	case <-ctx.Done():
	case <-d.server.done:
		d.server.stopped(d.env, "demo.server_exited")
		code = 1
	case <-d.agent.done:
		d.agent.stopped(d.env, "demo.agent_exited")
		code = 1
	}
	stopWatch()
	wg.Wait()
	d.say("demo.stopping")
	if d.stopAll() != 0 {
		code = 1
	}
	if code == 0 {
		d.say("demo.stopped_clean", d.dir)
	}
	return code
}

// stopAll stops the parts in the order that loses nothing: the agent (its journal synced; what is unsent
// is sent at the next start), the plant (its totals kept), then the server (batches in flight finish).
// It gives 1 if one of them failed.
func (d *demoRun) stopAll() int {
	code := 0
	if d.agent != nil && d.agent.stop() != 0 {
		code = 1
	}
	if d.plant != nil {
		if err := d.plant.stop(); err != nil {
			fmt.Fprintln(d.env.stderr, d.env.p.T("demo.plant_failed", err.Error()))
			code = 1
		}
		d.plant = nil
	}
	if d.server != nil && d.server.stop() != 0 {
		code = 1
	}
	return code
}

// close releases what a run that did not get to wait still holds.
func (d *demoRun) close() {
	d.stopAll()
	for _, p := range []*demoPart{d.server, d.agent} {
		if p != nil {
			p.log.Close()
		}
	}
	if d.plantLn != nil {
		d.plantLn.Close()
	}
	if d.st != nil {
		d.st.Close()
	}
}

// demoPart is a command run in the background of the demo (akciz server, akciz agent) with its output
// going to a log file of its own.
type demoPart struct {
	log    *os.File
	cancel context.CancelFunc
	done   chan struct{} // closed when the command returned; code is then its exit code
	code   int
	once   sync.Once
}

// startPart runs cmd with args in the background, its output appended to logPath.
func startPart(env *environment, logPath string, cmd func(context.Context, *environment, []string) int, args []string) (*demoPart, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &demoPart{log: f, cancel: cancel, done: make(chan struct{})}
	penv := &environment{stdout: f, stderr: f, stdin: eofReader{}, p: env.p}
	go func() {
		defer close(p.done)
		p.code = cmd(ctx, penv, args)
	}()
	return p, nil
}

// exited reports whether the command has returned.
func (p *demoPart) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop cancels the command (once) and waits for it; it gives the exit code.
func (p *demoPart) stop() int {
	p.once.Do(p.cancel)
	<-p.done
	return p.code
}

// stopped says that a part stopped on its own, with the end of its log.
func (p *demoPart) stopped(env *environment, key string) {
	showTail(env.stderr, p.log.Name())
	fmt.Fprintln(env.stderr, env.p.T(key, p.code, p.log.Name()))
}

// demoServerArgs are the flags of akciz server's parts for the demo: the console on addr, and the
// watching engine looking at new records every demoWatchEvery.
func demoServerArgs(addr string) []string {
	var args []string
	if hasServerPart("console") {
		args = append(args, "--http", addr)
	}
	if hasServerPart("watch") {
		args = append(args, "--watch-every", demoWatchEvery.String())
	}
	return args
}

// hasServerPart reports whether akciz server has a part of this name (server_parts.go).
func hasServerPart(name string) bool {
	for _, p := range serverParts {
		if p.name == name {
			return true
		}
	}
	return false
}

// freeLoopbackPort gives a loopback address with a port nothing listens on now.
func freeLoopbackPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening waits until addr completes a TLS handshake with a certificate of the demo CA, the
// server exits, or ctx ends (then the error says which).
func waitListening(ctx context.Context, addr string, ca *x509.Certificate, server *demoPart) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		dialer := &net.Dialer{Timeout: time.Second}
		c, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13})
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-server.done:
			return fmt.Errorf("demo: the server exited with %d", server.code)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// showTail copies the last lines of a log to w, so that a part that failed says why.
func showTail(w io.Writer, path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 4096 {
		f.Seek(-4096, io.SeekEnd)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}

// eofReader is an empty stdin.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
