package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testTimeout bounds every test that talks to a peer: a peer that hangs fails the test instead of the
// whole run.
const testTimeout = 30 * time.Second

// debianPython is Debian's interpreter, the one python3-pymodbus is installed for; the python3 first on
// PATH may be another (a pyenv build) without pymodbus.
const debianPython = "/usr/bin/python3"

// testContext is a context that ends when the test does or after testTimeout, whichever is first.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// need finds an external program or skips the test, naming the Debian package that provides it. CI
// (.ci/run) installs every one of them, so there these tests always run.
func need(t *testing.T, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s not found: install the Debian package %s to run this conformance test", program, debianPackage)
	}
	return p
}

var pymodbusOK = sync.OnceValue(func() error {
	out, err := exec.Command(debianPython, "-c", "import pymodbus, serial, serial_asyncio").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
})

// needPymodbus skips the test unless Debian's python3 can import pymodbus and pyserial.
func needPymodbus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not found: install the Debian packages python3-pymodbus python3-serial python3-serial-asyncio", debianPython)
	}
	if err := pymodbusOK(); err != nil {
		t.Skipf("%s cannot import pymodbus (%v): install the Debian packages python3-pymodbus python3-serial python3-serial-asyncio", debianPython, err)
	}
}

// buildC compiles testdata/<name>.c against libmodbus into a temporary directory and returns the
// binary's path. Binaries are never committed; each test process builds its own.
func buildC(t *testing.T, name string) string {
	t.Helper()
	gcc := need(t, "gcc", "gcc")
	pc := need(t, "pkg-config", "pkg-config")
	flags, err := exec.Command(pc, "--cflags", "--libs", "libmodbus").Output()
	if err != nil {
		t.Skipf("pkg-config does not know libmodbus (%v): install the Debian package libmodbus-dev", err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	args := append([]string{"-O2", "-Wall", "-Werror", "-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", name, err, out)
	}
	return bin
}

// freePort returns a TCP port on the loopback interface that was free a moment ago. A peer that takes
// its port as an argument (mbpoll's servers, pymodbus, the C server) cannot be given port 0.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// peer is an external process started by a test: its combined output is kept for the failure message,
// and it is killed when the test ends.
type peer struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // the process's exit, valid once done is closed
}

// syncBuffer is a bytes.Buffer safe for the process's writer goroutines and the test's readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a peer in the background until the test ends. Its process group is killed on cleanup, so
// that nothing it forked outlives the test.
func start(t *testing.T, name string, args ...string) *peer {
	t.Helper()
	p := &peer{name: filepath.Base(name), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", p.name, strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// waitPort waits until something accepts TCP connections on addr, or the peer exits, or the context
// ends. Peers announce readiness in different ways; a listening port is the one thing they share.
func waitPort(ctx context.Context, t *testing.T, p *peer, addr string) {
	t.Helper()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before listening on %s: %v\n%s", p.name, addr, p.err, p.out.String())
		case <-ctx.Done():
			t.Fatalf("%s did not listen on %s: %v\n%s", p.name, addr, ctx.Err(), p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitOutput waits until the peer has printed a line matching re, and returns the submatches.
func waitOutput(ctx context.Context, t *testing.T, p *peer, re *regexp.Regexp) []string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %q: %v\n%s", p.name, re, p.err, p.out.String())
		case <-ctx.Done():
			t.Fatalf("%s did not print %q: %v\n%s", p.name, re, ctx.Err(), p.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

var ptyRE = regexp.MustCompile(`(?s)PTY is (/dev/pts/\d+).*PTY is (/dev/pts/\d+)`)

// ptyPair starts socat with two connected pseudo-terminals, a serial null-modem cable in software, and
// returns their paths. Pseudo-terminals ignore the baud rate and have no parity bit, so the serial tests
// run 8N1 (pyserial refuses even parity on them).
func ptyPair(ctx context.Context, t *testing.T) (a, b string) {
	t.Helper()
	socat := need(t, "socat", "socat")
	p := start(t, socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0")
	m := waitOutput(ctx, t, p, ptyRE)
	// socat prints the paths before it enters its transfer loop; the line after them says it has.
	waitOutput(ctx, t, p, regexp.MustCompile(`starting data transfer loop`))
	return m[1], m[2]
}

// run runs a peer to completion within ctx and returns its combined output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// lines returns the lines of s that match re's first submatch, for parsing a peer's printed values.
func lines(s string, re *regexp.Regexp) [][]string {
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m)
		}
	}
	return out
}
