package watch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
	"github.com/akciz/akciz/internal/watch"
)

// BenchmarkTick is one check of 50 live sites of the fuel depot's shape (5 points each, all on time):
// what the engine costs the store every --watch-every.
func BenchmarkTick(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "akciz.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	clock := newClock(t0)
	if err := st.PutOperator(ctx, store.Operator{EIK: opEIK, Name: "x"}); err != nil {
		b.Fatal(err)
	}
	file := exampleConfigTB(b)
	for i := range 50 {
		w := fmt.Sprintf("BGNCA0000%04d", 5001+i)
		if err := st.PutSite(ctx, store.Site{Warehouse: w, Operator: opEIK, Name: w, CustomsOffice: office, State: store.SiteLive}); err != nil {
			b.Fatal(err)
		}
		if err := st.PutDevice(ctx, store.Device{ID: w + "001"}); err != nil {
			b.Fatal(err)
		}
		// Each site's configuration names its own points: the example's warehouse number replaced.
		cfg := replaceAll(file, "BGNCA00005001", w)
		if _, err := st.AddConfigVersion(ctx, store.ConfigVersion{Site: w, File: cfg, UploadedBy: "b", UploadedAt: t0,
			Verdict: store.ConfigAccepted}); err != nil {
			b.Fatal(err)
		}
	}
	e, err := watch.New(st, watch.Options{Clock: clock, Decode: decode})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := e.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/250, "µs/point")
}
