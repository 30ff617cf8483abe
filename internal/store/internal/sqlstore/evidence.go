package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
)

// DeviceHead implements store.Store.
func (s *Store) DeviceHead(ctx context.Context, device string) (store.Head, error) {
	h, err := head(ctx, s.db, device, "")
	if errors.Is(err, store.ErrNotFound) {
		return store.Head{}, nil
	}
	if err != nil || h.Seq == 0 {
		return h, wrap("device head "+device, err)
	}
	// The last stored batch is the one that starts at or before the head's seq (the primary key's order);
	// it is read beside the head row rather than kept in it, so that no migration is needed.
	var created int64
	err = s.db.QueryRow(ctx, `SELECT created FROM batches WHERE device = ? AND first <= ? ORDER BY first DESC LIMIT 1`,
		device, h.Seq).Scan(&created)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	h.Created = fromMS(created)
	return h, wrap("device head "+device, err)
}

// lastDataChunk bounds the sites one LastData query names, well under SQLite's and PostgreSQL's limits on
// bound parameters.
const lastDataChunk = 500

// LastData implements store.Store. Each device's last batch is found through the batches primary key
// (device, first) — the same "last stored batch" DeviceHead reads — and the devices of the sites through
// devices_site, so the query costs a few index look-ups per device whatever the evidence's size, and needs
// no index of its own.
func (s *Store) LastData(ctx context.Context, warehouses []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	for start := 0; start < len(warehouses); start += lastDataChunk {
		chunk := warehouses[start:min(start+lastDataChunk, len(warehouses))]
		args := make([]any, len(chunk))
		for i, w := range chunk {
			args[i] = w
		}
		// A site whose devices have no batch gives 0 (filtered here rather than in SQL: a filter on the
		// column makes SQLite evaluate the subquery a second time).
		err := each(ctx, s.db, `SELECT t.site, COALESCE(MAX(t.created), 0) FROM (
				SELECT d.site AS site,
					(SELECT b.created FROM batches b WHERE b.device = d.id ORDER BY b.first DESC LIMIT 1) AS created
				FROM devices d WHERE d.site IN (`+placeholders(len(chunk))+`)
			) t GROUP BY t.site`, args, func(r Rows) error {
			var site string
			var created int64
			if err := r.Scan(&site, &created); err != nil {
				return err
			}
			if created != 0 {
				out[site] = fromMS(created)
			}
			return nil
		})
		if err != nil {
			return nil, wrap(fmt.Sprintf("last data of %d sites", len(warehouses)), err)
		}
	}
	return out, nil
}

func head(ctx context.Context, q Querier, device, lock string) (store.Head, error) {
	var h store.Head
	var chain, batch []byte
	if err := q.QueryRow(ctx, `SELECT seq, chain, batch FROM device_heads WHERE device = ?`+lock, device).Scan(&h.Seq, &chain, &batch); err != nil {
		return h, err
	}
	var err1, err2 error
	h.Chain, err1 = hashOf(chain)
	h.Batch, err2 = hashOf(batch)
	return h, errors.Join(err1, err2)
}

// AppendBatch implements store.Store.
func (s *Store) AppendBatch(ctx context.Context, b *store.Batch) (store.Result, error) {
	if err := b.Validate(); err != nil {
		return store.Result{}, wrap("append batch", err)
	}
	received := b.ReceivedAt
	if received.IsZero() {
		received = now()
	}
	var res store.Result
	err := s.db.Write(ctx, func(tx Tx) error {
		res = store.Result{}
		if err := need(ctx, tx, "device", b.Device, `SELECT 1 FROM devices WHERE id = ?`); err != nil {
			return err
		}
		// The head row is the device's lock: create it if this is the device's first batch, then lock it,
		// so that appends for one device are serialised while other devices' proceed.
		var zero store.Hash
		if _, err := tx.Exec(ctx, `INSERT INTO device_heads (device, seq, chain, batch) VALUES (?, 0, ?, ?)
			ON CONFLICT (device) DO NOTHING`, b.Device, zero[:], zero[:]); err != nil {
			return err
		}
		h, err := head(ctx, tx, b.Device, s.d.ForUpdate)
		if err != nil {
			return err
		}
		if b.First <= h.Seq {
			return s.overlap(ctx, tx, b, h, &res)
		}
		if b.First != h.Seq+1 || b.PrevChain != h.Chain || b.PrevBatch != h.Batch {
			return fmt.Errorf("%w: device %s is at seq %d (chain %.12s…, batch %.12s…), batch %d..%d continues seq %d (chain %.12s…, batch %.12s…)",
				store.ErrConflict, b.Device, h.Seq, h.Chain, h.Batch, b.First, b.Last, b.First-1, b.PrevChain, b.PrevBatch)
		}
		if err := tx.InsertRecords(ctx, b.Records); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE device_heads SET seq = ?, chain = ?, batch = ? WHERE device = ?`,
			b.Last, b.LastChain[:], b.Digest[:], b.Device); err != nil {
			return err
		}
		// The log is one sequence for all devices: its size row is the one global lock, taken last so that
		// it is held for as little as possible before the commit.
		var size int64
		if err := tx.QueryRow(ctx, `SELECT size FROM tlog_state WHERE id = 1`+s.d.ForUpdate).Scan(&size); err != nil {
			return fmt.Errorf("tlog size: %w", err)
		}
		hashes, err := tlog.StoredHashes(size, b.Digest[:], tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
			return readHashes(ctx, tx, ix)
		}))
		if err != nil {
			return fmt.Errorf("tlog: %w", err)
		}
		base := tlog.StoredHashIndex(0, size)
		for i, hh := range hashes {
			if _, err := tx.Exec(ctx, `INSERT INTO tlog_hashes (id, hash) VALUES (?, ?)`, base+int64(i), hh[:]); err != nil {
				return fmt.Errorf("tlog: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE tlog_state SET size = ? WHERE id = 1`, size+1); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO batches (device, first, last, digest, prev_chain, last_chain, prev_batch,
			created, signature, signer, config, received_at, header, leaf)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.Device, b.First, b.Last, b.Digest[:], b.PrevChain[:], b.LastChain[:], b.PrevBatch[:],
			ms(b.Created), nonNil(b.Signature), b.Signer[:], b.Config, ms(received), nonNil(b.Header), size); err != nil {
			return err
		}
		res = store.Result{Index: size, TreeSize: size + 1, Digest: b.Digest, Received: fromMS(ms(received))}
		return nil
	})
	if err != nil {
		var se *store.SeqError
		if errors.As(err, &se) {
			return store.Result{}, err
		}
		return store.Result{}, wrap(fmt.Sprintf("append batch %s %d..%d", b.Device, b.First, b.Last), err)
	}
	return res, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// overlap decides about a batch that starts at or before the device's head: a duplicate (nothing to
// store), altered or replay.
func (s *Store) overlap(ctx context.Context, tx Tx, b *store.Batch, h store.Head, res *store.Result) error {
	hi := min(b.Last, h.Seq)
	next := b.First
	err := each(ctx, tx, `SELECT seq, hash FROM records WHERE device = ? AND seq >= ? AND seq <= ? ORDER BY seq`,
		[]any{b.Device, b.First, hi}, func(r Rows) error {
			var seq int64
			var hb []byte
			if err := r.Scan(&seq, &hb); err != nil {
				return err
			}
			if seq != next { // a hole in stored evidence: the offered record differs from nothing
				return &store.SeqError{Err: store.ErrAltered, Device: b.Device, Seq: next}
			}
			if hh, err := hashOf(hb); err != nil || hh != b.Records[seq-b.First].Hash {
				return &store.SeqError{Err: store.ErrAltered, Device: b.Device, Seq: seq}
			}
			next++
			return nil
		})
	if err != nil {
		return err
	}
	if next <= hi {
		return &store.SeqError{Err: store.ErrAltered, Device: b.Device, Seq: next}
	}
	if b.Last > h.Seq {
		return &store.SeqError{Err: store.ErrReplay, Device: b.Device, Seq: b.First}
	}
	sb, err := batchAt(ctx, tx, b.Device, b.First)
	if errors.Is(err, store.ErrNotFound) || err == nil && sb.Last != b.Last {
		return &store.SeqError{Err: store.ErrReplay, Device: b.Device, Seq: b.First}
	}
	if err != nil {
		return err
	}
	size, err := treeSize(ctx, tx)
	if err != nil {
		return err
	}
	*res = store.Result{Duplicate: true, Index: sb.Index, TreeSize: size, Digest: sb.Digest, Received: sb.ReceivedAt}
	return nil
}

const batchColumns = `device, first, last, digest, prev_chain, last_chain, prev_batch, created, signature, signer, config, received_at, leaf, header`

func batchAt(ctx context.Context, q Querier, device string, first int64) (store.StoredBatch, error) {
	var sb store.StoredBatch
	var digest, prevChain, lastChain, prevBatch, signer []byte
	var created, received int64
	err := q.QueryRow(ctx, `SELECT `+batchColumns+` FROM batches WHERE device = ? AND first = ?`, device, first).Scan(
		&sb.Device, &sb.First, &sb.Last, &digest, &prevChain, &lastChain, &prevBatch, &created, &sb.Signature,
		&signer, &sb.Config, &received, &sb.Index, &sb.Header)
	if err != nil {
		return sb, err
	}
	sb.Created, sb.ReceivedAt = fromMS(created), fromMS(received)
	var errs [5]error
	sb.Digest, errs[0] = hashOf(digest)
	sb.PrevChain, errs[1] = hashOf(prevChain)
	sb.LastChain, errs[2] = hashOf(lastChain)
	sb.PrevBatch, errs[3] = hashOf(prevBatch)
	sb.Signer, errs[4] = hashOf(signer)
	return sb, errors.Join(errs[:]...)
}

// BatchAt implements store.Store.
func (s *Store) BatchAt(ctx context.Context, device string, first int64) (store.StoredBatch, error) {
	sb, err := batchAt(ctx, s.db, device, first)
	return sb, wrap(fmt.Sprintf("batch %s %d", device, first), err)
}

// BulkInsertRecords implements store.Store.
func (s *Store) BulkInsertRecords(ctx context.Context, rows []store.Row) error {
	err := s.db.Write(ctx, func(tx Tx) error { return tx.InsertRecords(ctx, rows) })
	return wrap("bulk insert", err)
}

// RecordColumns are the records table's columns in the order InsertRecords writes them.
var RecordColumns = []string{"device", "seq", "hash", "kind", "time", "point", "test", "bytes"}

// RecordArgs gives r's values in the order of RecordColumns.
func RecordArgs(r *store.Row) []any {
	return []any{r.Device, r.Seq, r.Hash[:], string(r.Kind), ms(r.Time), r.Point, r.Test, nonNil(r.Bytes)}
}

const recordColumns = `device, seq, hash, kind, time, point, test, bytes`

func scanRecords(ctx context.Context, q Querier, query string, args []any, fn func(*store.Row) error) error {
	return each(ctx, q, query, args, func(r Rows) error {
		row := new(store.Row)
		var h []byte
		var kind string
		var t int64
		if err := r.Scan(&row.Device, &row.Seq, &h, &kind, &t, &row.Point, &row.Test, &row.Bytes); err != nil {
			return err
		}
		var err error
		if row.Hash, err = hashOf(h); err != nil {
			return err
		}
		row.Kind, row.Time = core.RecordKind(kind), fromMS(t)
		return fn(row)
	})
}

// Records implements store.Store.
func (s *Store) Records(ctx context.Context, device string, from, to int64, fn func(*store.Row) error) error {
	err := scanRecords(ctx, s.db, `SELECT `+recordColumns+` FROM records WHERE device = ? AND seq >= ? AND seq <= ? ORDER BY seq`,
		[]any{device, from, to}, fn)
	return wrap(fmt.Sprintf("records %s %d..%d", device, from, to), err)
}

func checkPlace(device, point string, kind core.RecordKind) error {
	if !core.ValidDeviceID(device) {
		return fmt.Errorf("%w: device %q", store.ErrInvalid, device)
	}
	if point != "" && !strings.HasPrefix(point, device) {
		return fmt.Errorf("%w: point %q is not of device %s", store.ErrInvalid, point, device)
	}
	if !kind.Valid() {
		return fmt.Errorf("%w: kind %q", store.ErrInvalid, kind)
	}
	return nil
}

// PointRecords implements store.Store.
func (s *Store) PointRecords(ctx context.Context, q store.RecordQuery, fn func(*store.Row) error) error {
	if err := checkPlace(q.Device, q.Point, q.Kind); err != nil {
		return wrap("point records", err)
	}
	query := `SELECT ` + recordColumns + ` FROM records WHERE device = ? AND point = ? AND kind = ? AND time >= ?`
	args := []any{q.Device, q.Point, string(q.Kind), ms(q.From)}
	if !q.To.IsZero() {
		query, args = query+` AND time < ?`, append(args, ms(q.To))
	}
	return wrap("point records", scanRecords(ctx, s.db, query+` ORDER BY time, seq`, args, fn))
}

// Latest implements store.Store.
func (s *Store) Latest(ctx context.Context, device, point string, kind core.RecordKind) (store.Row, error) {
	if err := checkPlace(device, point, kind); err != nil {
		return store.Row{}, wrap("latest", err)
	}
	var out *store.Row
	err := scanRecords(ctx, s.db, `SELECT `+recordColumns+` FROM records WHERE device = ? AND point = ? AND kind = ?
		ORDER BY time DESC, seq DESC LIMIT 1`, []any{device, point, string(kind)}, func(r *store.Row) error {
		out = r
		return nil
	})
	if err == nil && out == nil {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Row{}, wrap(fmt.Sprintf("latest %s of %s%s", kind, device, strings.TrimPrefix(point, device)), err)
	}
	return *out, nil
}

// AddIncident implements store.Store.
func (s *Store) AddIncident(ctx context.Context, in store.Incident) (int64, error) {
	if in.Kind == "" {
		return 0, wrap("add incident", fmt.Errorf("%w: kind empty", store.ErrInvalid))
	}
	if in.Time.IsZero() {
		in.Time = now()
	}
	var id int64
	err := s.db.Write(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO incidents (kind, device, first, last, detail, time) VALUES (?, ?, ?, ?, ?, ?)
			RETURNING id`, string(in.Kind), in.Device, in.First, in.Last, in.Detail, ms(in.Time)).Scan(&id)
	})
	return id, wrap("add incident", err)
}

// Incidents implements store.Store.
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	q, args := `SELECT id, kind, device, first, last, detail, time FROM incidents WHERE 1 = 1`, []any(nil)
	if f.Device != "" {
		q, args = q+` AND device = ?`, append(args, f.Device)
	}
	if f.Kind != "" {
		q, args = q+` AND kind = ?`, append(args, string(f.Kind))
	}
	if !f.Since.IsZero() {
		q, args = q+` AND time >= ?`, append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q, args = q+` AND time < ?`, append(args, ms(f.Until))
	}
	q += ` ORDER BY time, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	var out []store.Incident
	err := each(ctx, s.db, q, args, func(r Rows) error {
		var in store.Incident
		var kind string
		var t int64
		if err := r.Scan(&in.ID, &kind, &in.Device, &in.First, &in.Last, &in.Detail, &t); err != nil {
			return err
		}
		in.Kind, in.Time = store.IncidentKind(kind), fromMS(t)
		out = append(out, in)
		return nil
	})
	return out, wrap("incidents", err)
}

// maxHashesPerQuery bounds the IN list of one query (SQLite allows 32766 parameters; keep far below).
const maxHashesPerQuery = 500

func readHashes(ctx context.Context, q Querier, indexes []int64) ([]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, len(indexes))
	for start := 0; start < len(indexes); start += maxHashesPerQuery {
		chunk := indexes[start:min(start+maxHashesPerQuery, len(indexes))]
		args := make([]any, len(chunk))
		for i, ix := range chunk {
			args[i] = ix
		}
		query := `SELECT id, hash FROM tlog_hashes WHERE id IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `)`
		err := each(ctx, q, query, args, func(r Rows) error {
			var id int64
			var b []byte
			if err := r.Scan(&id, &b); err != nil {
				return err
			}
			h, err := hashOf(b)
			found[id] = tlog.Hash(h)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		h, ok := found[ix]
		if !ok {
			return nil, fmt.Errorf("%w: tlog hash %d", store.ErrNotFound, ix)
		}
		out[i] = h
	}
	return out, nil
}

// ReadHashes implements store.Store.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	hs, err := readHashes(ctx, s.db, indexes)
	return hs, wrap("read hashes", err)
}

func treeSize(ctx context.Context, q Querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT size FROM tlog_state WHERE id = 1`).Scan(&n)
	return n, err
}

// TreeSize implements store.Store.
func (s *Store) TreeSize(ctx context.Context) (int64, error) {
	n, err := treeSize(ctx, s.db)
	return n, wrap("tree size", err)
}

// PutCheckpoint implements store.Store.
func (s *Store) PutCheckpoint(ctx context.Context, c store.Checkpoint) error {
	if len(c.Note) == 0 {
		return wrap("put checkpoint", fmt.Errorf("%w: empty note", store.ErrInvalid))
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		size, err := treeSize(ctx, tx)
		if err != nil {
			return err
		}
		if c.Size < 0 || c.Size > size {
			return fmt.Errorf("%w: checkpoint size %d, the log has %d", store.ErrInvalid, c.Size, size)
		}
		_, err = tx.Exec(ctx, `INSERT INTO checkpoints (size, note, created) VALUES (?, ?, ?)
			ON CONFLICT (size) DO UPDATE SET note = excluded.note, created = excluded.created`, c.Size, c.Note, ms(now()))
		return err
	})
	return wrap("put checkpoint", err)
}

// LatestCheckpoint implements store.Store.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.Checkpoint, error) {
	var c store.Checkpoint
	err := s.db.QueryRow(ctx, `SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&c.Size, &c.Note)
	return c, wrap("latest checkpoint", err)
}
