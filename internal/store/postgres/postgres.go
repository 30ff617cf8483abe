// Package postgres is the store.Store on PostgreSQL through pgx: for an agency that runs a database server,
// or where ingest scales out to several nodes. Records are inserted with COPY.
//
// Durability: every connection runs with synchronous_commit=on, so a commit returns only when the WAL is
// flushed (and, with synchronous standbys configured, replicated). Appends for one device serialise on its
// head row (SELECT … FOR UPDATE); appends to the transparency log on its one size row. See
// docs/storage.md.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// dialect: row locks for the device head and the log size; an advisory lock (an arbitrary constant key
// that is ours) so that concurrent Opens apply each migration once.
var dialect = sqlstore.Dialect{
	ForUpdate:     " FOR UPDATE",
	MigrationLock: "SELECT pg_advisory_xact_lock(7326105411)",
}

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open connects to the database dsn names (a URL or key=value string, as libpq takes, e.g.
// postgres://akciz@db.example/akciz?sslmode=verify-full; search_path=... selects a schema) and applies the
// migrations it lacks.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// A commit must be durable before an agent is told so: never let a server default lower this.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	d := &db{pool: pool}
	steps, err := sqlstore.Steps(migrations, "migrations")
	if err == nil {
		err = sqlstore.Migrate(ctx, d, dialect, steps)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{sqlstore.New(d, dialect)}, nil
}

// db adapts a pgx pool to sqlstore.DB.
type db struct {
	pool *pgxpool.Pool
}

// rebound caches queries with ? rewritten to $1, $2, …: sqlstore writes ?, PostgreSQL wants $n. None of
// our queries has a ? inside a literal.
var rebound sync.Map

func rebind(q string) string {
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	r := b.String()
	rebound.Store(q, r)
	return r
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func (d *db) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	t, err := d.pool.Exec(ctx, rebind(q), args...)
	return t.RowsAffected(), err
}

func (d *db) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{d.pool.QueryRow(ctx, rebind(q), args...)}
}

func (d *db) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return d.pool.Query(ctx, rebind(q), args...)
}

func (d *db) Close() error {
	d.pool.Close()
	return nil
}

func (d *db) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(t pgx.Tx) error { return fn(tx{t}) })
}

type tx struct{ tx pgx.Tx }

func (t tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c, err := t.tx.Exec(ctx, rebind(q), args...)
	return c.RowsAffected(), err
}

func (t tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{t.tx.QueryRow(ctx, rebind(q), args...)}
}

func (t tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return t.tx.Query(ctx, rebind(q), args...)
}

// InsertRecords uses COPY: one round trip for the whole batch.
func (t tx) InsertRecords(ctx context.Context, rs []store.Row) error {
	n, err := t.tx.CopyFrom(ctx, pgx.Identifier{"records"}, sqlstore.RecordColumns,
		pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) { return sqlstore.RecordArgs(&rs[i]), nil }))
	if err != nil {
		return fmt.Errorf("copy records: %w", err)
	}
	if n != int64(len(rs)) {
		return fmt.Errorf("copy records: %d of %d copied", n, len(rs))
	}
	return nil
}

// CopyRows inserts n rows into table with COPY: sqlstore's bulk inserts (the barcodes of a list, the
// rows of an energy table) use it when a Tx has it.
func (t tx) CopyRows(ctx context.Context, table string, columns []string, n int, row func(i int) []any) error {
	c, err := t.tx.CopyFrom(ctx, pgx.Identifier{table}, columns,
		pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	if c != int64(n) {
		return fmt.Errorf("copy %s: %d of %d rows copied", table, c, n)
	}
	return nil
}
