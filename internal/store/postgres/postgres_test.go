package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/internal/sqlstore"
	"github.com/akciz/akciz/internal/store/storetest"
)

// schema creates a schema with a random name on the test server, drops it when t ends, and gives a DSN
// whose connections use it. Without a server it skips t (fails it where AKCIZ_TEST_POSTGRES is set).
func schema(t testing.TB) string { return storetest.PostgresSchema(t, "akciz_test_") }

func open(t *testing.T, dsn string) store.Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	schema(t) // skip once, not in every subtest, when there is no server
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, schema(t)) })
}

func TestReopen(t *testing.T) {
	dsn := schema(t)
	storetest.Reopen(t, func(t *testing.T) store.Store { return open(t, dsn) })
}

// TestConcurrentOpen opens one empty database from several connections at once: each migration is
// applied once.
func TestConcurrentOpen(t *testing.T) {
	dsn := schema(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	steps, _ := sqlstore.Steps(migrations, "migrations")
	if v, err := sqlstore.Version(ctx, s.DB()); err != nil || v != int64(len(steps)) || v < 2 {
		t.Errorf("schema version %d (%v), want %d", v, err, len(steps))
	}
	var sc string
	if err := s.DB().QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "on" {
		t.Errorf("synchronous_commit = %q (%v), want on", sc, err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		s.Close()
		t.Fatal("no error")
	}
	if _, err := Open(ctx, "::not a dsn::"); err == nil {
		t.Fatal("no error for a malformed DSN")
	}
}
