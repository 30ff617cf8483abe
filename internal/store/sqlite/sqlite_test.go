package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/internal/sqlstore"
	"github.com/akciz/akciz/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "akciz.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "akciz.db")
	storetest.Reopen(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSettings checks the durability settings on a connection of the pool.
func TestSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	steps, _ := sqlstore.Steps(migrations, "migrations")
	if v, err := sqlstore.Version(ctx, s.DB()); err != nil || v != int64(len(steps)) || v < 2 {
		t.Errorf("schema version %d (%v), want %d", v, err, len(steps))
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "10000",
	} {
		var got string
		if err := s.DB().QueryRow(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", "a?b", filepath.Join(t.TempDir(), "missing", "dir", "akciz.db")} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", p)
		}
	}
}
