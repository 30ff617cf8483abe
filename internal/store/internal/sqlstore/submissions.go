package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// copier is a Tx with a bulk insert faster than multi-row INSERT statements: PostgreSQL's COPY. A Tx
// without it gets multi-row INSERTs (SQLite's fastest path without prepared statements).
type copier interface {
	CopyRows(ctx context.Context, table string, columns []string, n int, row func(i int) []any) error
}

// maxParams keeps a multi-row INSERT under SQLite's limit of bound parameters (32766) and PostgreSQL's
// (65535).
const maxParams = 30000

// insertMany inserts n rows into table, the Tx's fastest way.
func insertMany(ctx context.Context, tx Tx, table string, columns []string, n int, row func(i int) []any) error {
	if n == 0 {
		return nil
	}
	if c, ok := tx.(copier); ok {
		return c.CopyRows(ctx, table, columns, n, row)
	}
	per := min(maxParams/len(columns), 1000)
	one := "(?" + strings.Repeat(", ?", len(columns)-1) + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	full := head + one + strings.Repeat(", "+one, per-1)
	args := make([]any, 0, per*len(columns))
	for start := 0; start < n; start += per {
		k := min(per, n-start)
		q := full
		if k < per {
			q = head + one + strings.Repeat(", "+one, k-1)
		}
		args = args[:0]
		for i := start; i < start+k; i++ {
			args = append(args, row(i)...)
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

const sepiListColumns = `id, operator, number, sha256, bytes, received, person_name, person_eik, excise_number, point,
	kind, goods, period_start, period_end, arc, recipient_name, recipient_eik, recipient_country, vehicle, packages,
	barcodes, flagged`

func scanSepiList(r Row) (store.SepiList, error) {
	var l store.SepiList
	var digest []byte
	var received, start, end int64
	err := r.Scan(&l.ID, &l.Operator, &l.Number, &digest, &l.Bytes, &received, &l.PersonName, &l.PersonEIK,
		&l.ExciseNumber, &l.Point, &l.Kind, &l.Goods, &start, &end, &l.ARC, &l.RecipientName, &l.RecipientEIK,
		&l.RecipientCountry, &l.Vehicle, &l.Packages, &l.Barcodes, &l.Flagged)
	if err != nil {
		return l, err
	}
	l.Received, l.Start, l.End = fromMS(received), fromMS(start), fromMS(end)
	l.SHA256, err = hashOf(digest)
	return l, err
}

var (
	sepiProductColumns = []string{"list_id", "idx", "document", "cn", "brand", "assortment", "pieces_per_pack",
		"kilograms", "cigarette_length", "retail_price", "destination", "origin", "manufacturer",
		"packs_per_package", "production_date", "brand_packages", "barcodes"}
	sepiBarcodeColumns = []string{"barcode", "list_id", "product"}
	sepiFlagColumns    = []string{"list_id", "barcode", "line", "prior_list", "prior_operator", "prior_kind", "prior_when"}
	energyRowColumns   = []string{"file_id", "line", "meter_id", "consumer_type", "consumer_eik", "quantity",
		"address", "tariff"}
)

// AddSepiList implements store.Submissions.
func (s *Store) AddSepiList(ctx context.Context, l *store.SepiList) (store.SepiList, bool, error) {
	what := "add sepi list " + l.Number
	if l.Number == "" || strings.Trim(l.Number, "0123456789") != "" {
		return store.SepiList{}, false, wrap(what, fmt.Errorf("%w: number %q", store.ErrInvalid, l.Number))
	}
	var n int64
	for i := range l.Products {
		n += int64(len(l.Products[i].Barcodes))
	}
	received := l.Received
	if received.IsZero() {
		received = now()
	}
	// In barcode order, so that the primary key's B-tree grows in place rather than at random.
	type pb struct {
		b int64
		p int32
	}
	all := make([]pb, 0, n)
	for i := range l.Products {
		for _, b := range l.Products[i].Barcodes {
			all = append(all, pb{b, int32(i)})
		}
	}
	slices.SortFunc(all, func(a, b pb) int { return cmp.Compare(a.b, b.b) })
	var stored store.SepiList
	var dup bool
	err := s.db.Write(ctx, func(tx Tx) error {
		stored, dup = store.SepiList{}, false
		if s.d.ForUpdate != "" {
			// PostgreSQL (the dialect with row locks) runs write transactions side by side: the lock
			// makes lists be added one at a time, in the order of their IDs, so that the recheck below
			// sees every list stored after the mark. SQLite's write transaction holds the database's
			// lock already. The mode lets readers in.
			if _, err := tx.Exec(ctx, `LOCK TABLE sepi_lists IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		old, err := scanSepiList(tx.QueryRow(ctx, `SELECT `+sepiListColumns+` FROM sepi_lists WHERE operator = ? AND number = ?`,
			l.Operator, l.Number))
		switch {
		case err == nil && old.SHA256 == l.SHA256:
			stored, dup = old, true
			return nil
		case err == nil:
			return fmt.Errorf("%w: list number %s is used by another file (SHA-256 %s)", store.ErrConflict, l.Number, old.SHA256)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		flags := l.Flags
		if l.Recheck != nil {
			// The barcodes of this list that lists stored since its history was checked hold too
			// (usually none): their flags are decided again from their latest movement now.
			var touched []int64
			if err := each(ctx, tx, `SELECT barcode FROM sepi_barcodes WHERE list_id > ?`, []any{l.HistoryMark},
				func(r Rows) error {
					var b int64
					if err := r.Scan(&b); err != nil {
						return err
					}
					if _, ok := slices.BinarySearchFunc(all, b, func(e pb, b int64) int { return cmp.Compare(e.b, b) }); ok {
						touched = append(touched, b)
					}
					return nil
				}); err != nil {
				return err
			}
			if len(touched) > 0 {
				slices.Sort(touched)
				touched = slices.Compact(touched)
				latest := make(map[int64]store.SepiMovement, len(touched))
				if err := lastMovements(ctx, tx, touched, func(i int, m store.SepiMovement) error {
					latest[touched[i]] = m
					return nil
				}); err != nil {
					return err
				}
				flags = make([]store.SepiFlag, 0, len(l.Flags)+len(touched))
				for _, f := range l.Flags {
					if _, ok := slices.BinarySearch(touched, f.Barcode); !ok {
						flags = append(flags, f)
					}
				}
				for _, b := range touched {
					if f, ok := l.Recheck(b, latest[b]); ok {
						f.Barcode, f.ListNumber = b, l.Number
						flags = append(flags, f)
					}
				}
			}
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO sepi_lists (operator, number, sha256, bytes, received, person_name,
			person_eik, excise_number, point, kind, goods, period_start, period_end, arc, recipient_name, recipient_eik,
			recipient_country, vehicle, packages, barcodes, flagged)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			l.Operator, l.Number, l.SHA256[:], l.Bytes, ms(received), l.PersonName, l.PersonEIK, l.ExciseNumber,
			l.Point, l.Kind, l.Goods, ms(l.Start), ms(l.End), l.ARC, l.RecipientName, l.RecipientEIK,
			l.RecipientCountry, l.Vehicle, l.Packages, n, int64(len(flags))).Scan(&id); err != nil {
			return err
		}
		if err := insertMany(ctx, tx, "sepi_products", sepiProductColumns, len(l.Products), func(i int) []any {
			p := &l.Products[i]
			return []any{id, int64(i), p.Document, p.CN, p.Brand, p.Assortment, int64(p.PiecesPerPack), p.Kilograms,
				int64(p.CigaretteLength), p.RetailPrice, p.Destination, p.Origin, p.Manufacturer,
				int64(p.PacksPerPackage), ms(p.ProductionDate), int64(p.BrandPackages), int64(len(p.Barcodes))}
		}); err != nil {
			return err
		}
		if err := insertMany(ctx, tx, "sepi_barcodes", sepiBarcodeColumns, len(all), func(i int) []any {
			return []any{all[i].b, id, int64(all[i].p)}
		}); err != nil {
			return err
		}
		if err := insertMany(ctx, tx, "sepi_flags", sepiFlagColumns, len(flags), func(i int) []any {
			f := &flags[i]
			return []any{id, f.Barcode, int64(f.Line), f.Prior.List, f.Prior.Operator, f.Prior.Kind, ms(f.Prior.When)}
		}); err != nil {
			return err
		}
		stored, err = scanSepiList(tx.QueryRow(ctx, `SELECT `+sepiListColumns+` FROM sepi_lists WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return store.SepiList{}, false, wrap(what, err)
	}
	if !dup && n >= analyzeAfter && s.d.ForUpdate != "" {
		// A planner's statistics of a table that has just grown by a million rows say it is small: without
		// them PostgreSQL reads all of sepi_barcodes for each history query (an IN list of 500 barcodes
		// looks like most of the table), until autovacuum comes by. Only an optimisation: an error is
		// not the import's. SQLite (the dialect without row locks) finds the barcodes by the primary key
		// whatever its statistics say, and its ANALYZE reads the whole table: it is left out there.
		_, _ = s.db.Exec(ctx, `ANALYZE sepi_barcodes`)
	}
	return stored, dup, nil
}

// analyzeAfter is the size of a list after which the barcodes' statistics are brought up to date.
const analyzeAfter = 100_000

// SepiHistoryMark implements store.Submissions.
func (s *Store) SepiHistoryMark(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM sepi_lists`).Scan(&id)
	return id, wrap("sepi history mark", err)
}

// SepiList implements store.Submissions.
func (s *Store) SepiList(ctx context.Context, operator, number string) (store.SepiList, error) {
	l, err := scanSepiList(s.db.QueryRow(ctx, `SELECT `+sepiListColumns+` FROM sepi_lists WHERE operator = ? AND number = ?`,
		operator, number))
	return l, wrap("sepi list "+number, err)
}

func sepiWhere(f store.SepiFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Operator != "" {
		add("l.operator = ?", f.Operator)
	}
	if f.Warehouses != nil {
		if len(f.Warehouses) == 0 {
			where = append(where, "1 = 0")
		} else {
			// A control point's id begins with its warehouse's 13 characters.
			where = append(where, "substr(l.point, 1, 13) IN (?"+strings.Repeat(", ?", len(f.Warehouses)-1)+")")
			for _, w := range f.Warehouses {
				args = append(args, w)
			}
		}
	}
	if f.Point != "" {
		add("l.point = ?", f.Point)
	}
	if f.Kind != "" {
		add("l.kind = ?", f.Kind)
	}
	if !f.From.IsZero() {
		add("l.period_end >= ?", ms(f.From))
	}
	if !f.To.IsZero() {
		add("l.period_end < ?", ms(f.To))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

func limit(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(n)
}

// SepiLists implements store.Submissions.
func (s *Store) SepiLists(ctx context.Context, f store.SepiFilter) ([]store.SepiList, error) {
	where, args := sepiWhere(f)
	cols := "l." + strings.ReplaceAll(strings.Join(strings.Fields(sepiListColumns), " "), ", ", ", l.")
	var out []store.SepiList
	err := each(ctx, s.db, `SELECT `+cols+` FROM sepi_lists l`+where+` ORDER BY l.period_end, l.id`+limit(f.Limit), args,
		func(r Rows) error {
			l, err := scanSepiList(r)
			out = append(out, l)
			return err
		})
	return out, wrap("sepi lists", err)
}

// SepiProducts implements store.Submissions.
func (s *Store) SepiProducts(ctx context.Context, listID int64) ([]store.SepiProduct, error) {
	var out []store.SepiProduct
	err := each(ctx, s.db, `SELECT idx, document, cn, brand, assortment, pieces_per_pack, kilograms, cigarette_length,
		retail_price, destination, origin, manufacturer, packs_per_package, production_date, brand_packages, barcodes
		FROM sepi_products WHERE list_id = ? ORDER BY idx`, []any{listID}, func(r Rows) error {
		var p store.SepiProduct
		var idx, pieces, length, packs, date, brand int64
		if err := r.Scan(&idx, &p.Document, &p.CN, &p.Brand, &p.Assortment, &pieces, &p.Kilograms, &length,
			&p.RetailPrice, &p.Destination, &p.Origin, &p.Manufacturer, &packs, &date, &brand, &p.Count); err != nil {
			return err
		}
		p.Index, p.PiecesPerPack, p.CigaretteLength, p.PacksPerPackage, p.BrandPackages =
			int(idx), int(pieces), int(length), int(packs), int(brand)
		p.ProductionDate = fromMS(date)
		out = append(out, p)
		return nil
	})
	return out, wrap("sepi products of list "+strconv.FormatInt(listID, 10), err)
}

// SepiBarcodes implements store.Submissions.
func (s *Store) SepiBarcodes(ctx context.Context, listID int64, fn func(int, int64) error) error {
	err := each(ctx, s.db, `SELECT product, barcode FROM sepi_barcodes WHERE list_id = ? ORDER BY product, barcode`,
		[]any{listID}, func(r Rows) error {
			var p, b int64
			if err := r.Scan(&p, &b); err != nil {
				return err
			}
			return fn(int(p), b)
		})
	return wrap("sepi barcodes of list "+strconv.FormatInt(listID, 10), err)
}

// historyChunk is how many barcodes one history query asks for.
const historyChunk = 500

// LastSepiMovements implements store.Submissions.
func (s *Store) LastSepiMovements(ctx context.Context, bs []int64, fn func(int, store.SepiMovement) error) error {
	return lastMovements(ctx, s.db, bs, fn)
}

// lastMovements is LastSepiMovements in q, which may be a transaction.
func lastMovements(ctx context.Context, q Querier, bs []int64, fn func(int, store.SepiMovement) error) error {
	type best struct {
		m  store.SepiMovement
		id int64
	}
	at := make(map[int64]int, min(len(bs), historyChunk))
	for start := 0; start < len(bs); start += historyChunk {
		chunk := bs[start:min(start+historyChunk, len(bs))]
		clear(at)
		args := make([]any, len(chunk))
		for i, b := range chunk {
			args[i] = b
			at[b] = start + i
		}
		found := map[int64]*best{}
		err := each(ctx, q, `SELECT b.barcode, l.id, l.kind, l.number, l.operator, l.period_end
			FROM sepi_barcodes b JOIN sepi_lists l ON l.id = b.list_id
			WHERE b.barcode IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args, func(r Rows) error {
			var b, id, end int64
			var m store.SepiMovement
			if err := r.Scan(&b, &id, &m.Kind, &m.List, &m.Operator, &end); err != nil {
				return err
			}
			m.When = fromMS(end)
			// The latest period wins; at the same moment, the list stored last.
			if cur, ok := found[b]; !ok || end > ms(cur.m.When) || (end == ms(cur.m.When) && id > cur.id) {
				found[b] = &best{m, id}
			}
			return nil
		})
		if err != nil {
			return wrap("sepi movements", err)
		}
		for b, f := range found {
			if err := fn(at[b], f.m); err != nil {
				return err
			}
		}
	}
	return nil
}

// SepiFlags implements store.Submissions.
func (s *Store) SepiFlags(ctx context.Context, f store.SepiFilter, fn func(store.SepiFlag) error) error {
	where, args := sepiWhere(f)
	err := each(ctx, s.db, `SELECT l.id, l.number, g.barcode, g.line, g.prior_list, g.prior_operator, g.prior_kind, g.prior_when
		FROM sepi_flags g JOIN sepi_lists l ON l.id = g.list_id`+where+` ORDER BY l.period_end, l.id, g.line, g.barcode`+limit(f.Limit),
		args, func(r Rows) error {
			var g store.SepiFlag
			var line, when int64
			if err := r.Scan(&g.ListID, &g.ListNumber, &g.Barcode, &line, &g.Prior.List, &g.Prior.Operator,
				&g.Prior.Kind, &when); err != nil {
				return err
			}
			g.Line, g.Prior.When = int(line), fromMS(when)
			return fn(g)
		})
	return wrap("sepi flags", err)
}

// BeginEnergyFile implements store.Submissions.
func (s *Store) BeginEnergyFile(ctx context.Context, operator string) (int64, error) {
	var id int64
	err := s.db.Write(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO energy_files (operator, state, begun) VALUES (?, 'staging', ?) RETURNING id`,
			operator, ms(now())).Scan(&id)
	})
	return id, wrap("begin energy file", err)
}

// staging checks that stage is a staging area.
func staging(ctx context.Context, q Querier, stage int64) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM energy_files WHERE id = ? AND state = 'staging'`, stage)
	if err == nil && !ok {
		err = fmt.Errorf("%w: energy staging area %d", store.ErrNotFound, stage)
	}
	return err
}

// StageEnergyRows implements store.Submissions.
func (s *Store) StageEnergyRows(ctx context.Context, stage int64, rows []store.EnergyRow) error {
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := staging(ctx, tx, stage); err != nil {
			return err
		}
		return insertMany(ctx, tx, "energy_rows", energyRowColumns, len(rows), func(i int) []any {
			r := &rows[i]
			return []any{stage, int64(r.Line), r.MeterID, r.ConsumerType, r.ConsumerEIK, r.Quantity, r.Address, r.Tariff}
		})
	})
	return wrap("stage energy rows", err)
}

const energyFileColumns = `id, operator, name, kind, size, sha256, received, declarant_name, declarant_eik, excise_number,
	product, quarter, declared_all, declared_household, declared_business, declared_self, computed_all,
	computed_household, computed_business, computed_self, row_count, replaced_by`

func scanEnergyFile(r Row) (store.EnergyFile, error) {
	var f store.EnergyFile
	var digest []byte
	var received int64
	err := r.Scan(&f.ID, &f.Operator, &f.Name, &f.Kind, &f.Size, &digest, &received, &f.DeclarantName,
		&f.DeclarantEIK, &f.ExciseNumber, &f.Product, &f.Quarter, &f.Declared.All, &f.Declared.Household,
		&f.Declared.Business, &f.Declared.SelfConsumption, &f.Computed.All, &f.Computed.Household,
		&f.Computed.Business, &f.Computed.SelfConsumption, &f.Rows, &f.ReplacedBy)
	if err != nil {
		return f, err
	}
	f.Received = fromMS(received)
	f.SHA256, err = hashOf(digest)
	return f, err
}

// CommitEnergyFile implements store.Submissions.
func (s *Store) CommitEnergyFile(ctx context.Context, stage int64, f store.EnergyFile) (store.EnergyFile, bool, error) {
	received := f.Received
	if received.IsZero() {
		received = now()
	}
	var stored store.EnergyFile
	var dup bool
	err := s.db.Write(ctx, func(tx Tx) error {
		stored, dup = store.EnergyFile{}, false
		if s.d.ForUpdate != "" {
			// PostgreSQL: commits one at a time, so that the same file committed twice at once is
			// found as a duplicate by the second rather than breaking the unique digest index (SQLite's
			// write transaction holds the database's lock already). A commit is two short updates.
			if _, err := tx.Exec(ctx, `LOCK TABLE energy_files IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		var operator string
		if err := tx.QueryRow(ctx, `SELECT operator FROM energy_files WHERE id = ? AND state = 'staging'`+s.d.ForUpdate,
			stage).Scan(&operator); err != nil {
			return fmt.Errorf("staging area %d: %w", stage, err)
		}
		old, err := scanEnergyFile(tx.QueryRow(ctx, `SELECT `+energyFileColumns+` FROM energy_files
			WHERE operator = ? AND sha256 = ? AND state = 'accepted'`, operator, f.SHA256[:]))
		switch {
		case err == nil:
			stored, dup = old, true
			return dropStage(ctx, tx, stage)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE energy_files SET state = 'accepted', name = ?, kind = ?, size = ?, sha256 = ?,
			received = ?, declarant_name = ?, declarant_eik = ?, excise_number = ?, product = ?, quarter = ?,
			declared_all = ?, declared_household = ?, declared_business = ?, declared_self = ?, computed_all = ?,
			computed_household = ?, computed_business = ?, computed_self = ?, row_count = ? WHERE id = ?`,
			f.Name, f.Kind, f.Size, f.SHA256[:], ms(received), f.DeclarantName, f.DeclarantEIK, f.ExciseNumber,
			f.Product, f.Quarter, f.Declared.All, f.Declared.Household, f.Declared.Business,
			f.Declared.SelfConsumption, f.Computed.All, f.Computed.Household, f.Computed.Business,
			f.Computed.SelfConsumption, f.Rows, stage); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE energy_files SET replaced_by = ? WHERE operator = ? AND declarant_eik = ?
			AND product = ? AND quarter = ? AND state = 'accepted' AND id < ? AND replaced_by = 0`,
			stage, operator, f.DeclarantEIK, f.Product, f.Quarter, stage); err != nil {
			return err
		}
		stored, err = scanEnergyFile(tx.QueryRow(ctx, `SELECT `+energyFileColumns+` FROM energy_files WHERE id = ?`, stage))
		return err
	})
	if err != nil {
		return store.EnergyFile{}, false, wrap("commit energy file", err)
	}
	return stored, dup, nil
}

func dropStage(ctx context.Context, tx Tx, stage int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM energy_rows WHERE file_id = ?`, stage); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM energy_files WHERE id = ? AND state = 'staging'`, stage)
	return err
}

// AbortEnergyFile implements store.Submissions.
func (s *Store) AbortEnergyFile(ctx context.Context, stage int64) error {
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := staging(ctx, tx, stage); err != nil {
			return err
		}
		return dropStage(ctx, tx, stage)
	})
	return wrap("abort energy file", err)
}

// AbortStaleEnergyFiles implements store.Submissions.
func (s *Store) AbortStaleEnergyFiles(ctx context.Context, before time.Time) (int, error) {
	var ids []int64
	err := each(ctx, s.db, `SELECT id FROM energy_files WHERE state = 'staging' AND begun < ?`, []any{ms(before)},
		func(r Rows) error {
			var id int64
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		})
	if err != nil {
		return 0, wrap("abort stale energy files", err)
	}
	for _, id := range ids {
		if err := s.AbortEnergyFile(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	return len(ids), nil
}

// EnergyFileByDigest implements store.Submissions.
func (s *Store) EnergyFileByDigest(ctx context.Context, operator string, digest store.Hash) (store.EnergyFile, error) {
	f, err := scanEnergyFile(s.db.QueryRow(ctx, `SELECT `+energyFileColumns+` FROM energy_files
		WHERE operator = ? AND sha256 = ? AND state = 'accepted'`, operator, digest[:]))
	return f, wrap("energy file "+digest.String(), err)
}

// EnergyFiles implements store.Submissions.
func (s *Store) EnergyFiles(ctx context.Context, f store.EnergyFilter) ([]store.EnergyFile, error) {
	where := []string{"state = 'accepted'"}
	var args []any
	if f.Operator != "" {
		where, args = append(where, "operator = ?"), append(args, f.Operator)
	}
	if f.Product != "" {
		where, args = append(where, "product = ?"), append(args, f.Product)
	}
	if f.Quarter != "" {
		where, args = append(where, "quarter = ?"), append(args, f.Quarter)
	}
	if f.Current {
		where = append(where, "replaced_by = 0")
	}
	var out []store.EnergyFile
	err := each(ctx, s.db, `SELECT `+energyFileColumns+` FROM energy_files WHERE `+strings.Join(where, " AND ")+
		` ORDER BY quarter, id`+limit(f.Limit), args, func(r Rows) error {
		ef, err := scanEnergyFile(r)
		out = append(out, ef)
		return err
	})
	return out, wrap("energy files", err)
}

// EnergyRows implements store.Submissions.
func (s *Store) EnergyRows(ctx context.Context, q store.EnergyRowQuery, fn func(store.EnergyRow) error) error {
	where := []string{"f.state = 'accepted'"}
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if q.Operator != "" {
		add("f.operator = ?", q.Operator)
	}
	if q.File != 0 {
		add("r.file_id = ?", q.File)
	}
	if q.Quarter != "" {
		add("f.quarter = ?", q.Quarter)
	}
	if q.MeterID != "" {
		add("r.meter_id = ?", q.MeterID)
	}
	if q.ConsumerEIK != "" {
		add("r.consumer_eik = ?", q.ConsumerEIK)
	}
	err := each(ctx, s.db, `SELECT r.file_id, r.line, r.meter_id, r.consumer_type, r.consumer_eik, r.quantity, r.address, r.tariff
		FROM energy_rows r JOIN energy_files f ON f.id = r.file_id WHERE `+strings.Join(where, " AND ")+
		` ORDER BY r.file_id, r.line`+limit(q.Limit), args, func(r Rows) error {
		var e store.EnergyRow
		var line int64
		if err := r.Scan(&e.File, &line, &e.MeterID, &e.ConsumerType, &e.ConsumerEIK, &e.Quantity, &e.Address, &e.Tariff); err != nil {
			return err
		}
		e.Line = int(line)
		return fn(e)
	})
	return wrap("energy rows", err)
}
