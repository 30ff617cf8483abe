package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// testSubmissions checks the Submissions part of store.Store: barcode lists (чл. 40–42) and energy
// tables (чл. 22–24).
func testSubmissions(t *testing.T, s store.Store) {
	t.Run("SepiLists", func(t *testing.T) { testSepiLists(t, s) })
	t.Run("SepiHistory", func(t *testing.T) { testSepiHistory(t, s) })
	t.Run("EnergyFiles", func(t *testing.T) { testEnergyFiles(t, s) })
}

// sepiList makes a list of operator with barcodes split over two products.
func sepiList(operator, number, kind string, end time.Time, barcodes ...int64) *store.SepiList {
	half := len(barcodes) / 2
	return &store.SepiList{Operator: operator, Number: number, SHA256: sha256.Sum256([]byte(number + kind)),
		Bytes: 1000, PersonName: "Пирин Табако АД", PersonEIK: operator, ExciseNumber: "BGNBL0000300A",
		Point: "BGNBL00003004001010", Kind: kind, Goods: "cigarettes", Start: end.Add(-time.Hour), End: end,
		Packages: int64(len(barcodes)),
		Products: []store.SepiProduct{
			{Document: "ПП-1", CN: "24022090", Brand: "Рила", Assortment: "KS", PiecesPerPack: 20, CigaretteLength: 62,
				RetailPrice: "3.90", Destination: "release-for-consumption", Origin: "BG", Manufacturer: "Пирин",
				PacksPerPackage: 500, ProductionDate: end.Truncate(24 * time.Hour), BrandPackages: half,
				Barcodes: barcodes[:half]},
			{Document: "ПП-1", CN: "24022090", Brand: "Мальо", Assortment: "100", PiecesPerPack: 20, CigaretteLength: 72,
				RetailPrice: "4.10", Destination: "export", Origin: "BG", Manufacturer: "Пирин", PacksPerPackage: 500,
				ProductionDate: end.Truncate(24 * time.Hour), BrandPackages: len(barcodes) - half,
				Barcodes: barcodes[half:]},
		}}
}

func testSepiLists(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := register(t, s, 1).operator
	other := eik(t, 1)
	must(t, s.PutOperator(ctx, store.Operator{EIK: other, Name: "Друг АД"}))

	// A list big enough for several bulk statements, in an order that is not the barcodes'.
	var codes []int64
	for i := range 2500 {
		codes = append(codes, 380057100000000000+int64((i*7919)%2500)*10)
	}
	l := sepiList(op, "2026112000017", "production-to-warehouse", t0, codes...)
	l.Flags = []store.SepiFlag{{Barcode: codes[3], Line: 14, Prior: store.SepiMovement{Kind: "entry", List: "9",
		Operator: other, When: t0.Add(-time.Hour)}}}
	got, dup, err := s.AddSepiList(ctx, l)
	if err != nil || dup {
		t.Fatalf("add: %v dup %v", err, dup)
	}
	if got.ID == 0 || got.Barcodes != 2500 || got.Flagged != 1 || got.Number != l.Number || got.SHA256 != l.SHA256 ||
		!got.End.Equal(t0) || got.Kind != l.Kind || got.Received.IsZero() {
		t.Errorf("stored list %+v", got)
	}
	// The same file again: recognised, nothing added.
	again, dup, err := s.AddSepiList(ctx, l)
	if err != nil || !dup || again.ID != got.ID {
		t.Errorf("again: %+v dup %v err %v", again, dup, err)
	}
	// The same number with another file: a conflict (чл. 42, т. 4), nothing stored.
	changed := sepiList(op, "2026112000017", "exit", t0, 380057100000099990)
	if _, _, err := s.AddSepiList(ctx, changed); !errors.Is(err, store.ErrConflict) {
		t.Errorf("number reused: %v", err)
	}
	// Another operator may use the same number.
	if _, dup, err := s.AddSepiList(ctx, sepiList(other, "2026112000017", "entry", t0, 380057100000099990)); err != nil || dup {
		t.Errorf("other operator's number: %v %v", err, dup)
	}
	if _, _, err := s.AddSepiList(ctx, sepiList(op, "12a", "exit", t0, 1)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad number: %v", err)
	}

	if g, err := s.SepiList(ctx, op, l.Number); err != nil || g.ID != got.ID {
		t.Errorf("by number: %+v %v", g, err)
	}
	if _, err := s.SepiList(ctx, other, "1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown number: %v", err)
	}
	lists, err := s.SepiLists(ctx, store.SepiFilter{Operator: op})
	if err != nil || len(lists) != 1 || lists[0].ID != got.ID {
		t.Errorf("operator's lists: %+v %v", lists, err)
	}
	if all, err := s.SepiLists(ctx, store.SepiFilter{}); err != nil || len(all) != 2 {
		t.Errorf("all lists: %d %v", len(all), err)
	}
	for _, f := range []store.SepiFilter{{Operator: op, From: t0.Add(time.Second)}, {Operator: op, To: t0},
		{Operator: op, Kind: "exit"}, {Operator: op, Point: "BGNBL00003004001020"}} {
		if l, err := s.SepiLists(ctx, f); err != nil || len(l) != 0 {
			t.Errorf("filter %+v: %d lists, %v", f, len(l), err)
		}
	}
	if l, err := s.SepiLists(ctx, store.SepiFilter{Operator: op, From: t0, To: t0.Add(time.Second), Kind: l.Kind, Point: l.Point}); err != nil || len(l) != 1 {
		t.Errorf("matching filter: %d lists, %v", len(l), err)
	}
	for _, tc := range []struct {
		warehouses []string
		want       int
	}{{nil, 2}, {[]string{}, 0}, {[]string{"BGNBL0000300"}, 0}, {[]string{"BGNCA00005001", "BGNBL00003004"}, 2}} {
		if l, err := s.SepiLists(ctx, store.SepiFilter{Warehouses: tc.warehouses}); err != nil || len(l) != tc.want {
			t.Errorf("warehouses %q: %d lists, want %d (%v)", tc.warehouses, len(l), tc.want, err)
		}
	}

	products, err := s.SepiProducts(ctx, got.ID)
	if err != nil || len(products) != 2 || products[0].Count != 1250 || products[1].Brand != "Мальо" ||
		products[1].CigaretteLength != 72 || !products[0].ProductionDate.Equal(t0.Truncate(24*time.Hour)) {
		t.Errorf("products: %+v %v", products, err)
	}
	per := map[int]map[int64]bool{0: {}, 1: {}}
	err = s.SepiBarcodes(ctx, got.ID, func(p int, b int64) error { per[p][b] = true; return nil })
	if err != nil || len(per[0]) != 1250 || len(per[1]) != 1250 || !per[0][codes[0]] || !per[1][codes[2499]] {
		t.Errorf("barcodes: %d+%d %v", len(per[0]), len(per[1]), err)
	}
	var flags []store.SepiFlag
	err = s.SepiFlags(ctx, store.SepiFilter{Operator: op}, func(f store.SepiFlag) error { flags = append(flags, f); return nil })
	if err != nil || len(flags) != 1 || flags[0].Barcode != codes[3] || flags[0].ListNumber != l.Number ||
		flags[0].Prior.Operator != other || !flags[0].Prior.When.Equal(t0.Add(-time.Hour)) || flags[0].Line != 14 {
		t.Errorf("flags: %+v %v", flags, err)
	}
	flags = nil
	if err := s.SepiFlags(ctx, store.SepiFilter{Operator: other}, func(f store.SepiFlag) error { flags = append(flags, f); return nil }); err != nil || len(flags) != 0 {
		t.Errorf("another operator sees flags: %+v %v", flags, err)
	}
}

func testSepiHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := register(t, s, 1).operator
	const a, b, c = 380057100000000017, 380057100000000024, 380057100000000031
	// Stored out of order: the exit (latest period) wins for a, whatever the order of storing.
	for _, l := range []*store.SepiList{
		sepiList(op, "3", "exit", t0.Add(2*time.Hour), a, a+1000),
		sepiList(op, "1", "production-to-warehouse", t0, a, b),
		sepiList(op, "2", "entry", t0.Add(time.Hour), b, b+1000),
	} {
		if _, _, err := s.AddSepiList(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	// More than one query's worth of barcodes, most unknown.
	bs := make([]int64, 1200)
	for i := range bs {
		bs[i] = 380057100000500000 + int64(i)
	}
	bs[7], bs[600], bs[1100] = a, b, c
	got := map[int]store.SepiMovement{}
	if err := s.LastSepiMovements(ctx, bs, func(i int, m store.SepiMovement) error { got[i] = m; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[7].List != "3" || got[7].Kind != "exit" || !got[7].When.Equal(t0.Add(2*time.Hour)) ||
		got[600].List != "2" || got[600].Kind != "entry" || got[600].Operator != op {
		t.Errorf("movements: %+v", got)
	}
	if err := s.LastSepiMovements(ctx, nil, func(int, store.SepiMovement) error { t.Error("called"); return nil }); err != nil {
		t.Error(err)
	}
	stop := errors.New("stop")
	if err := s.LastSepiMovements(ctx, bs, func(int, store.SepiMovement) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: %v", err)
	}

	// A list checked while another was stored: the barcodes they share are given to Recheck, with
	// their latest movement, and their flags are what it says; the others keep theirs.
	const d, e, f = 380057100000000048, 380057100000000055, 380057100000000062
	mark, err := s.SepiHistoryMark(ctx)
	if err != nil || mark == 0 {
		t.Fatalf("mark: %d %v", mark, err)
	}
	if _, _, err := s.AddSepiList(ctx, sepiList(op, "4", "entry", t0.Add(3*time.Hour), d, e)); err != nil {
		t.Fatal(err)
	}
	if m, err := s.SepiHistoryMark(ctx); err != nil || m <= mark {
		t.Errorf("mark after a list: %d, before %d (%v)", m, mark, err)
	}
	l := sepiList(op, "5", "entry", t0.Add(4*time.Hour), d, f, e, a)
	l.Flags = []store.SepiFlag{{ListNumber: "5", Barcode: e, Line: 9, Prior: store.SepiMovement{Kind: "entry", List: "0"}},
		{ListNumber: "5", Barcode: a, Line: 10, Prior: store.SepiMovement{Kind: "entry", List: "0"}}}
	l.HistoryMark = mark
	var asked []int64
	l.Recheck = func(b int64, m store.SepiMovement) (store.SepiFlag, bool) {
		asked = append(asked, b)
		if m.List != "4" || m.Kind != "entry" || m.Operator != op {
			t.Errorf("recheck %d: latest %+v", b, m)
		}
		// d is flagged now; e, flagged when checked, is not.
		return store.SepiFlag{Line: 7, Prior: m}, b == d
	}
	got5, _, err := s.AddSepiList(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || !slices.Contains(asked, d) || !slices.Contains(asked, e) || got5.Flagged != 2 {
		t.Errorf("rechecked %v, flagged %d", asked, got5.Flagged)
	}
	var flags []store.SepiFlag
	if err := s.SepiFlags(ctx, store.SepiFilter{Operator: op}, func(f store.SepiFlag) error {
		if f.ListID == got5.ID {
			flags = append(flags, f)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(flags) != 2 || flags[0].Barcode != d || flags[0].Prior.List != "4" || flags[0].ListNumber != "5" ||
		flags[1].Barcode != a || flags[1].Prior.List != "0" {
		t.Errorf("flags after the recheck: %+v", flags)
	}
	// With the mark taken now, nothing is rechecked.
	l = sepiList(op, "6", "entry", t0.Add(5*time.Hour), d)
	if l.HistoryMark, err = s.SepiHistoryMark(ctx); err != nil {
		t.Fatal(err)
	}
	l.Recheck = func(b int64, m store.SepiMovement) (store.SepiFlag, bool) {
		t.Errorf("rechecked %d with an up-to-date mark", b)
		return store.SepiFlag{}, false
	}
	if _, _, err := s.AddSepiList(ctx, l); err != nil {
		t.Fatal(err)
	}
}

func testEnergyFiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := register(t, s, 1).operator
	rows := func(n int, meter string) []store.EnergyRow {
		out := make([]store.EnergyRow, n)
		for i := range out {
			out[i] = store.EnergyRow{Line: 12 + i, MeterID: meter, ConsumerType: "household", Quantity: int64(1000 * (i + 1)),
				Address: "гр. София", Tariff: "дневна"}
		}
		return out
	}
	file := func(content string, n int64) store.EnergyFile {
		return store.EnergyFile{Name: "q3.csv", Kind: "csv", Size: 100, SHA256: sha256.Sum256([]byte(content)),
			DeclarantName: "Енерго ЕАД", DeclarantEIK: op, ExciseNumber: "BGNCA00001E01", Product: "electricity",
			Quarter: "2026-Q3", Declared: store.EnergyTotals{All: n}, Computed: store.EnergyTotals{All: n}, Rows: 3}
	}
	count := func(q store.EnergyRowQuery) int {
		n := 0
		if err := s.EnergyRows(ctx, q, func(store.EnergyRow) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}

	stage, err := s.BeginEnergyFile(ctx, op)
	must(t, err)
	must(t, s.StageEnergyRows(ctx, stage, rows(1500, "32Z1")))
	must(t, s.StageEnergyRows(ctx, stage, []store.EnergyRow{{Line: 5000, MeterID: "32Z2", ConsumerType: "business",
		ConsumerEIK: op, Quantity: 7, Address: "Пловдив"}}))
	// Staged rows are invisible.
	if n := count(store.EnergyRowQuery{Operator: op}); n != 0 {
		t.Errorf("staged rows visible: %d", n)
	}
	f1, dup, err := s.CommitEnergyFile(ctx, stage, file("one", 10))
	if err != nil || dup || f1.ID != stage || f1.Declared.All != 10 || f1.Operator != op || f1.Received.IsZero() {
		t.Fatalf("commit: %+v %v %v", f1, dup, err)
	}
	if n := count(store.EnergyRowQuery{Operator: op}); n != 1501 {
		t.Errorf("rows after commit: %d", n)
	}
	var one []store.EnergyRow
	err = s.EnergyRows(ctx, store.EnergyRowQuery{Operator: op, MeterID: "32Z2"}, func(r store.EnergyRow) error { one = append(one, r); return nil })
	if err != nil || len(one) != 1 || one[0].Line != 5000 || one[0].Quantity != 7 || one[0].File != f1.ID || one[0].ConsumerEIK != op {
		t.Errorf("one meter: %+v %v", one, err)
	}
	if n := count(store.EnergyRowQuery{Operator: eik(t, 1)}); n != 0 {
		t.Errorf("another operator sees %d rows", n)
	}
	if n := count(store.EnergyRowQuery{Operator: op, ConsumerEIK: op, Quarter: "2026-Q3", File: f1.ID}); n != 1 {
		t.Errorf("by consumer: %d", n)
	}
	if n := count(store.EnergyRowQuery{Operator: op, Limit: 10}); n != 10 {
		t.Errorf("limit: %d", n)
	}

	// The same file again: recognised, the staged rows dropped.
	stage2, err := s.BeginEnergyFile(ctx, op)
	must(t, err)
	must(t, s.StageEnergyRows(ctx, stage2, rows(3, "32Z9")))
	f, dup, err := s.CommitEnergyFile(ctx, stage2, file("one", 10))
	if err != nil || !dup || f.ID != f1.ID {
		t.Errorf("duplicate: %+v %v %v", f, dup, err)
	}
	if n := count(store.EnergyRowQuery{MeterID: "32Z9"}); n != 0 {
		t.Errorf("rows of a duplicate kept: %d", n)
	}
	if err := s.StageEnergyRows(ctx, stage2, rows(1, "x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stage after commit: %v", err)
	}

	// A correction replaces the first file.
	stage3, err := s.BeginEnergyFile(ctx, op)
	must(t, err)
	must(t, s.StageEnergyRows(ctx, stage3, rows(2, "32Z3")))
	f3, dup, err := s.CommitEnergyFile(ctx, stage3, file("two", 20))
	if err != nil || dup {
		t.Fatal(err, dup)
	}
	files, err := s.EnergyFiles(ctx, store.EnergyFilter{Operator: op})
	if err != nil || len(files) != 2 || files[0].ReplacedBy != f3.ID || files[1].ReplacedBy != 0 {
		t.Errorf("files: %+v %v", files, err)
	}
	if cur, err := s.EnergyFiles(ctx, store.EnergyFilter{Operator: op, Current: true, Product: "electricity", Quarter: "2026-Q3"}); err != nil || len(cur) != 1 || cur[0].ID != f3.ID {
		t.Errorf("current: %+v %v", cur, err)
	}
	if g, err := s.EnergyFileByDigest(ctx, op, sha256.Sum256([]byte("two"))); err != nil || g.ID != f3.ID || g.Computed.All != 20 {
		t.Errorf("by digest: %+v %v", g, err)
	}
	if _, err := s.EnergyFileByDigest(ctx, eik(t, 1), sha256.Sum256([]byte("two"))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another operator's digest: %v", err)
	}

	// An aborted file leaves nothing; a stale one is swept.
	stage4, err := s.BeginEnergyFile(ctx, op)
	must(t, err)
	must(t, s.StageEnergyRows(ctx, stage4, rows(5, "32Z4")))
	must(t, s.AbortEnergyFile(ctx, stage4))
	if _, _, err := s.CommitEnergyFile(ctx, stage4, file("four", 1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("commit after abort: %v", err)
	}
	stage5, err := s.BeginEnergyFile(ctx, op)
	must(t, err)
	must(t, s.StageEnergyRows(ctx, stage5, rows(5, "32Z5")))
	if n, err := s.AbortStaleEnergyFiles(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("fresh staging swept: %d %v", n, err)
	}
	if n, err := s.AbortStaleEnergyFiles(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("stale staging: %d %v", n, err)
	}
	if err := s.StageEnergyRows(ctx, stage5, rows(1, "x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stage after sweep: %v", err)
	}
	if files, _ := s.EnergyFiles(ctx, store.EnergyFilter{}); len(files) != 2 {
		t.Errorf("files after aborts: %d", len(files))
	}

	// The same file committed twice at the same moment: one is accepted, the other is its duplicate.
	var stages [2]int64
	for i := range stages {
		stages[i], err = s.BeginEnergyFile(ctx, op)
		must(t, err)
		must(t, s.StageEnergyRows(ctx, stages[i], rows(3, "32Z6")))
	}
	type commit struct {
		f   store.EnergyFile
		dup bool
		err error
	}
	done := make(chan commit, 2)
	for _, stage := range stages {
		go func() {
			f, dup, err := s.CommitEnergyFile(ctx, stage, file("at once", 6000))
			done <- commit{f, dup, err}
		}()
	}
	a, b := <-done, <-done
	if a.err != nil || b.err != nil || a.dup == b.dup || a.f.ID != b.f.ID {
		t.Errorf("committed at once: %+v %+v", a, b)
	}
	if n := count(store.EnergyRowQuery{Operator: op, MeterID: "32Z6"}); n != 3 {
		t.Errorf("rows of the file committed at once: %d", n)
	}
}
