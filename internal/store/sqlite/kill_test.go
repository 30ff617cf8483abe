package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/storetest"
)

// The child process of TestKill: it appends batches as fast as it can and, after each AppendBatch
// returns, prints the acknowledged head, until it is killed.
const childEnv = "AKCIZ_STORE_KILL_CHILD_DB"

const (
	killDevice = "BGNCA00005001001"
	killPoint  = "BGNCA00005001001001"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		if err := child(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(path string) error {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	op := ""
	for v := 121000000; op == ""; v++ {
		if e := strconv.Itoa(v); core.ValidEIK(e) {
			op = e
		}
	}
	for _, err := range []error{
		s.PutOperator(ctx, store.Operator{EIK: op, Name: "x"}),
		s.PutSite(ctx, store.Site{Warehouse: killDevice[:13], Operator: op, State: store.SiteLive}),
		s.PutDevice(ctx, store.Device{ID: killDevice}),
	} {
		if err != nil {
			return err
		}
	}
	c := storetest.NewChain(killDevice, killPoint)
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 100000; i++ {
		b := c.Batch(50, start.Add(time.Duration(i)*time.Minute))
		if _, err := s.AppendBatch(ctx, b); err != nil {
			return err
		}
		// os.Stdout is unbuffered: the line is with the parent before the next append starts.
		fmt.Printf("acked %d %s\n", b.Last, b.Digest)
	}
	return nil
}

// TestKill kills a process that is appending with SIGKILL at an arbitrary moment: everything it was told
// is stored must be there when the database is opened again, whole, with its log.
func TestKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "akciz.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked int64
	var digest string
	for n := 0; n < 30 && sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "acked" {
			t.Fatalf("child said %q", sc.Text())
		}
		acked, _ = strconv.ParseInt(f[1], 10, 64)
		digest = f[2]
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked == 0 {
		t.Fatal("the child acknowledged nothing")
	}

	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	h, err := s.DeviceHead(ctx, killDevice)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq < acked {
		t.Fatalf("head at seq %d after the kill, but %d was acknowledged", h.Seq, acked)
	}
	if b, err := s.BatchAt(ctx, killDevice, acked-49); err != nil || b.Digest.String() != digest {
		t.Fatalf("acknowledged batch %d..%d: %+v, %v", acked-49, acked, b, err)
	}
	n := int64(0)
	if err := s.Records(ctx, killDevice, 1, 1<<62, func(r *store.Row) error {
		n++
		if r.Seq != n {
			return fmt.Errorf("seq %d where %d was expected", r.Seq, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != h.Seq {
		t.Fatalf("%d records, head at %d: a batch was stored in part", n, h.Seq)
	}
	if size, _ := s.TreeSize(ctx); size != h.Seq/50 {
		t.Fatalf("tree size %d, want %d batches", size, h.Seq/50)
	}
	storetest.CheckLog(t, s)
	t.Logf("killed after %d acknowledged records; %d stored", acked, h.Seq)
}
