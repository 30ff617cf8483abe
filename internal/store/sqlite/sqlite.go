// Package sqlite is the embedded store.Store: one SQLite file through the pure-Go driver
// modernc.org/sqlite, so that akciz server runs without any database server and without cgo.
//
// Durability: the database is in WAL mode with synchronous=FULL, so a transaction is on disk (the WAL
// fsynced) when its commit returns; a write transaction takes SQLite's write lock at BEGIN (BEGIN
// IMMEDIATE), so concurrent appends serialise instead of failing at commit; busy_timeout lets another
// process's writer finish; foreign keys are enforced. See docs/storage.md.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a writer waits for another process's write lock, in milliseconds.
const busyTimeout = 10000

// Store is a store.Store in a SQLite file.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if need be) the database at path and applies the migrations it lacks.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %q: the path must be non-empty, without ? or #", path)
	}
	dsn := path + "?_txlock=immediate" +
		fmt.Sprintf("&_pragma=busy_timeout(%d)", busyTimeout) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	sqldb.SetMaxIdleConns(4)
	db := &db{db: sqldb}
	var mode string
	if err := sqldb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode %q, want wal (%v)", path, mode, err)
	}
	steps, err := sqlstore.Steps(migrations, "migrations")
	if err == nil {
		err = sqlstore.Migrate(ctx, db, sqlstore.Dialect{}, steps)
	}
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &Store{sqlstore.New(db, sqlstore.Dialect{})}, nil
}

// db adapts database/sql to sqlstore.DB.
type db struct {
	db *sql.DB
	// mu lets one write transaction of this process run at a time: SQLite has one writer anyway, and
	// waiting here is cheaper and fairer than spinning on SQLITE_BUSY.
	mu sync.Mutex
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func execute(ctx context.Context, q querier, query string, args []any) (int64, error) {
	r, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

func query(ctx context.Context, q querier, query string, args []any) (sqlstore.Rows, error) {
	r, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (d *db) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return execute(ctx, d.db, q, args)
}

func (d *db) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{d.db.QueryRowContext(ctx, q, args...)}
}

func (d *db) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, d.db, q, args)
}

func (d *db) Close() error { return d.db.Close() }

func (d *db) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see _txlock in Open
	if err != nil {
		return err
	}
	if err := fn(tx{t}); err != nil {
		t.Rollback()
		return err
	}
	return t.Commit()
}

type tx struct{ tx *sql.Tx }

func (t tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return execute(ctx, t.tx, q, args)
}

func (t tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{t.tx.QueryRowContext(ctx, q, args...)}
}

func (t tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, t.tx, q, args)
}

var insertRecord = `INSERT INTO records (` + strings.Join(sqlstore.RecordColumns, ", ") + `) VALUES (?` +
	strings.Repeat(", ?", len(sqlstore.RecordColumns)-1) + `)`

// InsertRecords inserts with one prepared statement: SQLite has no COPY, and inside one transaction a
// prepared insert is its fastest path.
func (t tx) InsertRecords(ctx context.Context, rs []store.Row) error {
	st, err := t.tx.PrepareContext(ctx, insertRecord)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range rs {
		if _, err := st.ExecContext(ctx, sqlstore.RecordArgs(&rs[i])...); err != nil {
			return fmt.Errorf("record %s/%d: %w", rs[i].Device, rs[i].Seq, err)
		}
	}
	return nil
}
