// Package sqlstore is the store.Store logic both SQL backends share: the queries, the idempotency and
// conflict rules of AppendBatch, the transparency log's bookkeeping and the migrations runner. A backend
// supplies a DB (its connection, its transactions and its fastest record insert) and a Dialect; queries
// are written with ? placeholders, which a backend rewrites if its engine wants others.
package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/akciz/akciz/internal/store"
)

// Row is a single-row result; Scan returns store.ErrNotFound when there is no row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a streaming result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements.
type Querier interface {
	// Exec runs a statement and gives the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Querier
	// InsertRecords inserts rows into the records table the engine's fastest way.
	InsertRecords(ctx context.Context, rows []store.Row) error
}

// DB is a backend's connection.
type DB interface {
	Querier
	// Write runs fn in a read-write transaction and commits it, durably, if fn returns nil; otherwise it
	// rolls back and returns fn's error.
	Write(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Dialect holds what differs between the engines' SQL.
type Dialect struct {
	// ForUpdate follows a SELECT that must lock the rows it reads until the transaction ends ("" where the
	// transaction already holds the database's write lock).
	ForUpdate string
	// MigrationLock, if not empty, is run first in each migration's transaction so that two processes
	// opening one database at once apply each step once.
	MigrationLock string
}

// Steps reads the migration steps in dir of fsys: files named NNNN_what.sql, in name order.
func Steps(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	steps := make([]string, len(names))
	for i, n := range names {
		b, err := fs.ReadFile(fsys, dir+"/"+n)
		if err != nil {
			return nil, err
		}
		steps[i] = string(b)
	}
	return steps, nil
}

// Migrate applies the steps not yet applied, each in its own transaction, recording each in
// schema_migrations (version = its position, from 1).
func Migrate(ctx context.Context, db DB, d Dialect, steps []string) error {
	// Under the lock, or two processes creating the table at once collide (PostgreSQL's catalog is not
	// protected by IF NOT EXISTS against a concurrent creator).
	err := db.Write(ctx, func(tx Tx) error {
		if d.MigrationLock != "" {
			if _, err := tx.Exec(ctx, d.MigrationLock); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for i, step := range steps {
		version := int64(i + 1)
		err := db.Write(ctx, func(tx Tx) error {
			if d.MigrationLock != "" {
				if _, err := tx.Exec(ctx, d.MigrationLock); err != nil {
					return err
				}
			}
			var n int64
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, step); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, ms(now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: step %d: %w", version, err)
		}
	}
	return nil
}

// Version gives the highest applied migration.
func Version(ctx context.Context, q Querier) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
