package journal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const killEnv = "AKCIZ_JOURNAL_KILL_DIR"

// TestKillChild is the child of TestSIGKILL: it appends and syncs forever, printing each durable seq, and
// trims now and then as the sender would after a receipt.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("the child process of TestSIGKILL")
	}
	j, _, err := Open(dir, Options{Device: "kill", SegmentSize: 16 << 10})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	p := make([]byte, 300)
	for i := 0; ; i++ {
		p[i%len(p)]++
		seq, _, err := j.Append(builder(p))
		if err == nil && i%3 != 0 { // some records are synced only with the next one
			err = j.Sync()
			// Printed only after Sync returned: everything up to seq is durable.
			fmt.Fprintf(os.Stdout, "durable %d\n", seq)
		}
		if err == nil && seq%50 == 0 {
			err = j.Trim(seq-30, []byte("receipt"))
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
	}
}

// TestSIGKILL re-executes the test binary as a child that appends and syncs, kills it with SIGKILL at
// random moments (a random time after a random number of durable records, in the middle of whatever it does),
// reopens, and checks that every record reported durable is there and the chain is intact.
func TestSIGKILL(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	rnd := newRand(7)
	var durable uint64
	for round := range 6 {
		cmd := exec.Command(exe, "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() }) // if the test fails before it kills the child
		want := 20 + rnd.IntN(300)
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			if s, ok := strings.CutPrefix(line, "durable "); ok {
				seq, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					t.Fatalf("child said %q", line)
				}
				if seq <= durable {
					t.Fatalf("round %d: child reported %d after %d", round, seq, durable)
				}
				durable = seq
				if n++; n == want {
					// Kill at an arbitrary moment of what the child does next, not right after a line.
					time.AfterFunc(time.Duration(rnd.IntN(5000))*time.Microsecond, func() { cmd.Process.Kill() })
				}
			} else if strings.HasPrefix(line, "error") || strings.HasPrefix(line, "open") {
				t.Fatalf("round %d: child: %s", round, line)
			}
		}
		cmd.Wait() // the lines read after Kill were written before the child died: they count too
		if n < want {
			t.Fatalf("round %d: child stopped after %d records", round, n)
		}

		j, r, err := Open(dir, Options{Device: "kill", SegmentSize: 16 << 10})
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		if r.Damaged() {
			t.Fatalf("round %d: SIGKILL left damage: %+v", round, r)
		}
		ack, hash, _ := j.Acked()
		rs := readAll(t, j, ack+1)
		if err := verifyChain(rs, hash); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(rs) == 0 || rs[0].seq != ack+1 || rs[len(rs)-1].seq < durable {
			t.Fatalf("round %d: records after mark %d: %d, last durable %d", round, ack, len(rs), durable)
		}
		t.Logf("round %d: killed after %d durable records; last durable %d, last kept %d, acked %d, torn tail %d bytes",
			round, n, durable, rs[len(rs)-1].seq, ack, r.TruncatedBytes)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
