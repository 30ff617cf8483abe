package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/storetest"
)

// BenchmarkStore: go test -run '^$' -bench . -benchtime 20x ./internal/store/sqlite/
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "akciz.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
