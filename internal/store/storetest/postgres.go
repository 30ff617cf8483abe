package storetest

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
)

// postgresDSNs are tried in turn when AKCIZ_TEST_POSTGRES is not set: the machine's own PostgreSQL, as
// Debian's postgresql package runs it, with trust authentication on loopback (CI starts it in .ci/run).
var postgresDSNs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
}

// PostgresDSN gives the DSN of the PostgreSQL server the tests use — AKCIZ_TEST_POSTGRES, or the first
// of the machine's defaults that answers — or an error naming every one tried.
func PostgresDSN(ctx context.Context) (string, error) {
	dsns := postgresDSNs
	if env := os.Getenv("AKCIZ_TEST_POSTGRES"); env != "" {
		dsns = []string{env}
	}
	var errs []string
	for _, dsn := range dsns {
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			c.Close(ctx)
			return dsn, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", dsn, err))
	}
	return "", fmt.Errorf("no PostgreSQL (%s)", strings.Join(errs, "; "))
}

// PostgresSchema creates a schema named prefix plus a random suffix on the tests' PostgreSQL server, drops
// it when t ends, and gives a DSN whose connections use it. Without a server it skips t, saying how to
// point the tests at one — unless AKCIZ_TEST_POSTGRES is set (CI always sets it): then not reaching the
// server fails t, so CI can never pass with the PostgreSQL tests silently skipped.
func PostgresSchema(t testing.TB, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dsn, err := PostgresDSN(ctx)
	if err != nil && os.Getenv("AKCIZ_TEST_POSTGRES") != "" {
		t.Fatalf("AKCIZ_TEST_POSTGRES is set but does not answer: %v", err)
	}
	if err != nil {
		t.Skipf("%v: set AKCIZ_TEST_POSTGRES=postgres://user@host:port/db?sslmode=disable to a database the "+
			"tests may create schemas in; Debian's postgresql package provides a server", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withSearchPath(dsn, name)
}

// withSearchPath adds search_path to a DSN in URL or key=value form.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&search_path=" + schema
		}
		return dsn + "?search_path=" + schema
	}
	return dsn + " search_path=" + schema
}
