package postgres

import (
	"context"
	"testing"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/storetest"
)

// BenchmarkStore: go test -run '^$' -bench . -benchtime 20x ./internal/store/postgres/
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := Open(context.Background(), schema(b))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
