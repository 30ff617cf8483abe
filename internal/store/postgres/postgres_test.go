package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/internal/sqlstore"
	"github.com/akciz/akciz/internal/store/storetest"
)

// defaultDSNs are tried in turn when AKCIZ_TEST_POSTGRES is not set: the machine's own PostgreSQL, as
// Debian's postgresql package runs it, with trust authentication on loopback (CI starts it in .ci/run).
var defaultDSNs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
}

// schema creates a schema with a random name on the test server, drops it when t ends, and gives a DSN
// whose connections use it. Without a server it skips t.
func schema(t testing.TB) string {
	t.Helper()
	dsns := defaultDSNs
	if env := os.Getenv("AKCIZ_TEST_POSTGRES"); env != "" {
		dsns = []string{env}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var conn *pgx.Conn
	var dsn string
	var errs []string
	for _, dsn = range dsns {
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			conn = c
			break
		}
		errs = append(errs, fmt.Sprintf("%s: %v", dsn, err))
	}
	if conn == nil && os.Getenv("AKCIZ_TEST_POSTGRES") != "" {
		// Pointed at a server on purpose (CI always is): not reaching it is a failure, never a skip.
		t.Fatalf("AKCIZ_TEST_POSTGRES is set but does not answer: %s", strings.Join(errs, "; "))
	}
	if conn == nil {
		t.Skipf("no PostgreSQL (%s): set AKCIZ_TEST_POSTGRES=postgres://user@host:port/db?sslmode=disable "+
			"to a database the tests may create schemas in; Debian's postgresql package provides a server",
			strings.Join(errs, "; "))
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "akciz_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withSearchPath(dsn, name)
}

func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&search_path=" + schema
		}
		return dsn + "?search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

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
