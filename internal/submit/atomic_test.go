package submit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/sepi"
	"github.com/akciz/akciz/internal/store"
)

// list gives a production-to-warehouse list (entering the warehouse) of n barcodes from first on, or,
// with leaving, the same moved from the storage rooms into production.
func list(t *testing.T, number string, first uint64, n int, leaving bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeList(&b, number, first, n); err != nil {
		t.Fatal(err)
	}
	if leaving {
		return bytes.Replace(b.Bytes(), []byte(`type="production-to-warehouse"`), []byte(`type="warehouse-to-production"`), 1)
	}
	return b.Bytes()
}

// importWhile imports data as operator, calling during while the upload's history is being checked and
// before it is stored: what another upload does when two are sent at the same time.
func importWhile(t *testing.T, s *Service, data []byte, during func()) *SepiOutcome {
	t.Helper()
	pr, pw := io.Pipe()
	type result struct {
		o   *SepiOutcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		o, err := s.ImportSepi(context.Background(), tobaccoEIK, pr, nil)
		done <- result{o, err}
	}()
	// The first bytes are read once ImportSepi has taken its history mark.
	if _, err := pw.Write(data[:100]); err != nil {
		t.Fatal(err)
	}
	during()
	if _, err := pw.Write(data[100:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.o
}

func flagsOf(t *testing.T, st store.Store, number string) []store.SepiFlag {
	t.Helper()
	var out []store.SepiFlag
	err := st.SepiFlags(context.Background(), store.SepiFilter{Operator: tobaccoEIK}, func(f store.SepiFlag) error {
		if f.ListNumber == number {
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConcurrentEntries: two entering lists with common barcodes, checked at the same time, each
// before the other is stored: the one stored second is flagged all the same (чл. 41: a barcode that
// enters twice without leaving in between), with the barcodes' lines.
func TestConcurrentEntries(t *testing.T) {
	s, st := newService(t)
	a := list(t, "1001", 38005710000100, 50, false)
	b := list(t, "1002", 38005710000140, 50, false) // its first 10 barcodes are a's last 10
	var ob *SepiOutcome
	oa := importWhile(t, s, a, func() {
		ob = importSepi2(t, s, b)
	})
	if ob.Status != Accepted || len(ob.Result.Flags) != 0 {
		t.Fatalf("b: %s %v %v", ob.Status, ob.Result.Errors, ob.Result.Flags)
	}
	if oa.Status != Accepted || len(oa.Result.Flags) != 10 || oa.List.Flagged != 10 {
		t.Fatalf("a, stored after b: %s flagged %d %v", oa.Status, oa.List.Flagged, oa.Result.Flags)
	}
	f := oa.Result.Flags[0]
	if f.Prior.List != "1002" || f.Line != 7+40 || f.Col != 5 || f.Barcode.String() != string(sscc(38005710000140)) {
		t.Errorf("first flag: %+v", f)
	}
	if got := flagsOf(t, st, "1001"); len(got) != 10 || got[0].Line != 47 || got[0].Prior.List != "1002" {
		t.Errorf("stored flags: %+v", got)
	}
}

// TestRecheckClears: a barcode flagged when its list was checked, whose exit is stored before the list
// is, is not flagged: its latest movement, by the time the list is stored, left the warehouse.
func TestRecheckClears(t *testing.T) {
	s, st := newService(t)
	if o := importSepi2(t, s, list(t, "2001", 38005710000100, 20, false)); o.Status != Accepted {
		t.Fatal(o.Status)
	}
	// The list's check sees 2001's entries: 20 flags; then 2002 takes 5 of them out.
	var out *SepiOutcome
	oa := importWhile(t, s, list(t, "2003", 38005710000100, 20, false), func() {
		out = importSepi2(t, s, list(t, "2002", 38005710000100, 5, true))
	})
	if out.Status != Accepted || len(out.Result.Flags) != 0 {
		t.Fatalf("leaving list: %s %v", out.Status, out.Result.Errors)
	}
	if oa.Status != Accepted || len(oa.Result.Flags) != 15 || oa.List.Flagged != 15 || oa.Result.Flags[0].Line != 7+5 {
		t.Fatalf("list: %s flagged %d, %d flags, first %+v", oa.Status, oa.List.Flagged, len(oa.Result.Flags), oa.Result.Flags[0])
	}
	if got := flagsOf(t, st, "2003"); len(got) != 15 || got[0].Prior.List != "2001" {
		t.Errorf("stored flags: %d %+v", len(got), got[:1])
	}
}

func importSepi2(t *testing.T, s *Service, data []byte) *SepiOutcome {
	t.Helper()
	o, err := s.ImportSepi(context.Background(), tobaccoEIK, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// cancelAfter reads r and cancels after n bytes: a client that goes away in the middle of an upload.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if c.n -= int64(n); c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// cancelInRecheck is a store whose AddSepiList has its context cancelled in the middle of its
// transaction (when the list's barcodes are checked again), before anything is inserted.
type cancelInRecheck struct {
	store.Store
	cancel context.CancelFunc
}

func (c cancelInRecheck) AddSepiList(ctx context.Context, l *store.SepiList) (store.SepiList, bool, error) {
	recheck := l.Recheck
	l.Recheck = func(b int64, m store.SepiMovement) (store.SepiFlag, bool) {
		c.cancel()
		return recheck(b, m)
	}
	return c.Store.AddSepiList(ctx, l)
}

// TestCancelledUpload: an upload whose request is cancelled, while it is read or while it is stored,
// leaves nothing in the store; sent again, it is taken whole.
func TestCancelledUpload(t *testing.T) {
	s, st := newService(t)
	bg := context.Background()
	big := list(t, "3001", 38005710000000, 30_000, false)
	ctx, cancel := context.WithCancel(bg)
	_, err := s.ImportSepi(ctx, tobaccoEIK, &cancelAfter{r: bytes.NewReader(big), n: int64(len(big)) / 2, cancel: cancel}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while read: %v", err)
	}
	nothing := func(when string) {
		t.Helper()
		if mark, err := st.SepiHistoryMark(bg); err != nil || mark != 0 {
			t.Errorf("%s: a list was stored: mark %d %v", when, mark, err)
		}
		n := 0
		st.LastSepiMovements(bg, []int64{int64(parseSSCC(t, sscc(38005710000000))), int64(parseSSCC(t, sscc(38005710100000)))}, func(int, store.SepiMovement) error { n++; return nil })
		if n != 0 {
			t.Errorf("%s: barcodes were stored", when)
		}
	}
	nothing("cancelled while read")

	// Cancelled inside the store's transaction: a list checked at the same time as another that holds
	// one of its barcodes, so that the transaction rechecks it.
	ctx, cancel = context.WithCancel(bg)
	s2, err := New(Config{Store: cancelInRecheck{st, cancel}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := s2.ImportSepi(ctx, tobaccoEIK, pr, nil)
		errc <- err
	}()
	pw.Write(big[:100])
	other := list(t, "3002", 38005710000000+29_999, 1, false)
	if o := importSepi2(t, s, other); o.Status != Accepted {
		t.Fatal(o.Status)
	}
	pw.Write(big[100:])
	pw.Close()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while stored: %v", err)
	}
	if _, err := st.SepiList(bg, tobaccoEIK, "3001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancelled while stored: the list is there: %v", err)
	}
	n := 0
	st.LastSepiMovements(bg, []int64{int64(parseSSCC(t, sscc(38005710000000)))}, func(int, store.SepiMovement) error { n++; return nil })
	if n != 0 {
		t.Errorf("cancelled while stored: its barcodes are there")
	}
	o := importSepi2(t, s, big)
	if o.Status != Accepted || o.List.Barcodes != 30_000 || len(o.Result.Flags) != 1 {
		t.Errorf("sent again: %s %d barcodes, %d flags", o.Status, o.List.Barcodes, len(o.Result.Flags))
	}
}

func parseSSCC(t *testing.T, b []byte) uint64 {
	t.Helper()
	var v uint64
	for _, c := range b {
		v = v*10 + uint64(c-'0')
	}
	return v
}

// TestCancelledEnergy: a table whose request is cancelled while its rows are being staged leaves no
// file, no rows and no staging area.
func TestCancelledEnergy(t *testing.T) {
	_, st := newService(t)
	s, err := New(Config{Store: st, TempDir: t.TempDir()}) // rows staged 5000 at a time
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	path := filepath.Join(t.TempDir(), "big.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeTable(f, 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data := readFile(t, path)
	ctx, cancel := context.WithCancel(bg)
	_, err = s.ImportEnergy(ctx, energyEIK, "big.csv", bytes.NewReader(data), nil, func(done, total int64) {
		if done > total/2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if files, err := st.EnergyFiles(bg, store.EnergyFilter{}); err != nil || len(files) != 0 {
		t.Errorf("files: %v %v", files, err)
	}
	if n, err := st.AbortStaleEnergyFiles(bg, s.cfg.Now().Add(1e12)); err != nil || n != 0 {
		t.Errorf("staging left behind: %d %v", n, err)
	}
	o, err := s.ImportEnergy(bg, energyEIK, "big.csv", bytes.NewReader(data), nil, nil)
	if err != nil || o.Status != Accepted {
		t.Fatalf("sent again: %v %+v", err, o)
	}
}

// TestLeftTwice: a barcode that leaves twice without entering in between is flagged left-twice through
// the store's history as well; a barcode's first movement, leaving, is not.
func TestLeftTwice(t *testing.T) {
	s, st := newService(t)
	if o := importSepi2(t, s, list(t, "5001", 38005710000300, 4, true)); o.Status != Accepted || len(o.Result.Flags) != 0 {
		t.Fatalf("first leaving: %s %v", o.Status, o.Result.Flags)
	}
	o := importSepi2(t, s, list(t, "5002", 38005710000302, 4, true))
	rep := SepiReplyOf(i18n.For(i18n.EN), o)
	if o.Status != Accepted || len(rep.Flags) != 2 || rep.Flags[0].Rule != sepi.RuleLeftTwice || rep.Flags[0].Line != 7 ||
		!strings.Contains(rep.Flags[0].Message, "already left with list no. 5001") {
		t.Fatalf("leaving again: %s %+v", o.Status, rep.Flags)
	}
	if got := flagsOf(t, st, "5002"); len(got) != 2 || got[0].Prior.Kind != string(sepi.WarehouseToProduction) {
		t.Errorf("stored flags: %+v", got)
	}
	// Entering again clears it: the next leaving is not flagged.
	importSepi2(t, s, list(t, "5003", 38005710000300, 6, false))
	if o := importSepi2(t, s, list(t, "5004", 38005710000300, 6, true)); len(o.Result.Flags) != 0 {
		t.Errorf("leaving after entering: %+v", o.Result.Flags)
	}
}

// TestCancelledRequest: a client that goes away in the middle of an upload over HTTP leaves nothing in
// the store, for a list and for a table.
func TestCancelledRequest(t *testing.T) {
	s, st := newService(t)
	mux := http.NewServeMux()
	s.Routes(mux, identifyHeader, nil)
	srv := httptest.NewServer(mux)
	big := list(t, "6001", 38005710000000, 30_000, false)
	var table bytes.Buffer
	if _, err := writeTable(&table, 1<<20); err != nil {
		t.Fatal(err)
	}
	for _, up := range []struct {
		path, ctype, operator string
		body                  []byte
	}{{SepiListsPath, "application/xml", tobaccoEIK, big}, {EnergyFilesPath + "?name=q3.csv", "text/csv", energyEIK, table.Bytes()}} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+up.path,
			&cancelAfter{r: bytes.NewReader(up.body), n: int64(len(up.body)) / 2, cancel: cancel})
		req.ContentLength = int64(len(up.body))
		req.Header.Set("Content-Type", up.ctype)
		req.Header.Set("X-Test-Operator", up.operator)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("POST %s: answered %s to a client that went away", up.path, resp.Status)
		}
	}
	srv.Close() // waits for the handlers
	bg := context.Background()
	if mark, err := st.SepiHistoryMark(bg); err != nil || mark != 0 {
		t.Errorf("a list was stored: mark %d %v", mark, err)
	}
	if files, err := st.EnergyFiles(bg, store.EnergyFilter{}); err != nil || len(files) != 0 {
		t.Errorf("files: %v %v", files, err)
	}
	if n, err := st.AbortStaleEnergyFiles(bg, s.cfg.Now().Add(1e12)); err != nil || n != 0 {
		t.Errorf("staging left behind: %d %v", n, err)
	}
}
