package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// Store implements store.Store over a DB.
type Store struct {
	db DB
	d  Dialect
}

// New gives a Store over db; db must be migrated.
func New(db DB, d Dialect) *Store { return &Store{db: db, d: d} }

// Close closes the DB.
func (s *Store) Close() error { return s.db.Close() }

// DB gives the backend's connection (for its own tests).
func (s *Store) DB() DB { return s.db }

var now = func() time.Time { return time.Now().UTC() }

// ms gives t as stored: milliseconds since the Unix epoch; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func hashOf(b []byte) (store.Hash, error) {
	var h store.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("stored hash has %d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

// exists reports whether query finds a row.
func exists(ctx context.Context, q Querier, query string, args ...any) (bool, error) {
	var one int64
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func need(ctx context.Context, q Querier, what, key, query string) error {
	ok, err := exists(ctx, q, query, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s %s", store.ErrNotFound, what, key)
	}
	return nil
}

// PutOperator implements store.Store.
func (s *Store) PutOperator(ctx context.Context, o store.Operator) error {
	if err := o.Validate(); err != nil {
		return wrap("put", err)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO operators (eik, name, excise_number) VALUES (?, ?, ?)
		ON CONFLICT (eik) DO UPDATE SET name = excluded.name, excise_number = excluded.excise_number`,
		o.EIK, o.Name, o.ExciseNumber)
	return wrap("put operator", err)
}

// Operator implements store.Store.
func (s *Store) Operator(ctx context.Context, eik string) (store.Operator, error) {
	o := store.Operator{EIK: eik}
	err := s.db.QueryRow(ctx, `SELECT name, excise_number FROM operators WHERE eik = ?`, eik).Scan(&o.Name, &o.ExciseNumber)
	return o, wrap("operator "+eik, err)
}

// Operators implements store.Store.
func (s *Store) Operators(ctx context.Context) ([]store.Operator, error) {
	var out []store.Operator
	err := each(ctx, s.db, `SELECT eik, name, excise_number FROM operators ORDER BY eik`, nil, func(r Rows) error {
		var o store.Operator
		if err := r.Scan(&o.EIK, &o.Name, &o.ExciseNumber); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, wrap("operators", err)
}

// PutSite implements store.Store.
func (s *Store) PutSite(ctx context.Context, site store.Site) error {
	if err := site.Validate(); err != nil {
		return wrap("put", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "operator", site.Operator, `SELECT 1 FROM operators WHERE eik = ?`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sites (warehouse, operator, name, customs_office, state) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (warehouse) DO UPDATE SET operator = excluded.operator, name = excluded.name,
			customs_office = excluded.customs_office, state = excluded.state`,
			site.Warehouse, site.Operator, site.Name, site.CustomsOffice, string(site.State))
		return err
	})
	return wrap("put site "+site.Warehouse, err)
}

const siteColumns = `warehouse, operator, name, customs_office, state`

func scanSite(r Row) (store.Site, error) {
	var s store.Site
	var state string
	err := r.Scan(&s.Warehouse, &s.Operator, &s.Name, &s.CustomsOffice, &state)
	s.State = store.SiteState(state)
	return s, err
}

// Site implements store.Store.
func (s *Store) Site(ctx context.Context, warehouse string) (store.Site, error) {
	site, err := scanSite(s.db.QueryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE warehouse = ?`, warehouse))
	return site, wrap("site "+warehouse, err)
}

// Sites implements store.Store.
func (s *Store) Sites(ctx context.Context, operator string) ([]store.Site, error) {
	q, args := `SELECT `+siteColumns+` FROM sites`, []any(nil)
	if operator != "" {
		q, args = q+` WHERE operator = ?`, append(args, operator)
	}
	var out []store.Site
	err := each(ctx, s.db, q+` ORDER BY warehouse`, args, func(r Rows) error {
		site, err := scanSite(r)
		out = append(out, site)
		return err
	})
	return out, wrap("sites", err)
}

// PutDevice implements store.Store.
func (s *Store) PutDevice(ctx context.Context, d store.Device) error {
	if err := d.Validate(); err != nil {
		return wrap("put", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "site", d.Site(), `SELECT 1 FROM sites WHERE warehouse = ?`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO devices (id, site, name) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`, d.ID, d.Site(), d.Name)
		return err
	})
	return wrap("put device "+d.ID, err)
}

// Device implements store.Store.
func (s *Store) Device(ctx context.Context, id string) (store.Device, error) {
	d := store.Device{ID: id}
	err := s.db.QueryRow(ctx, `SELECT name FROM devices WHERE id = ?`, id).Scan(&d.Name)
	return d, wrap("device "+id, err)
}

// Devices implements store.Store.
func (s *Store) Devices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	q, args := `SELECT d.id, d.name FROM devices d JOIN sites s ON s.warehouse = d.site WHERE 1 = 1`, []any(nil)
	if f.Site != "" {
		q, args = q+` AND d.site = ?`, append(args, f.Site)
	}
	if f.Operator != "" {
		q, args = q+` AND s.operator = ?`, append(args, f.Operator)
	}
	var out []store.Device
	err := each(ctx, s.db, q+` ORDER BY d.id`, args, func(r Rows) error {
		var d store.Device
		err := r.Scan(&d.ID, &d.Name)
		out = append(out, d)
		return err
	})
	return out, wrap("devices", err)
}

// PutPoint implements store.Store.
func (s *Store) PutPoint(ctx context.Context, p store.Point) error {
	if err := p.Validate(); err != nil {
		return wrap("put", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "device", p.Device(), `SELECT 1 FROM devices WHERE id = ?`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO points (id, device, name) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`, p.ID, p.Device(), p.Name)
		return err
	})
	return wrap("put point "+p.ID, err)
}

// Points implements store.Store.
func (s *Store) Points(ctx context.Context, device string) ([]store.Point, error) {
	var out []store.Point
	err := each(ctx, s.db, `SELECT id, name FROM points WHERE device = ? ORDER BY id`, []any{device}, func(r Rows) error {
		var p store.Point
		err := r.Scan(&p.ID, &p.Name)
		out = append(out, p)
		return err
	})
	return out, wrap("points", err)
}

// DeletePoint implements store.Store.
func (s *Store) DeletePoint(ctx context.Context, id string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM points WHERE id = ?`, id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap("delete point "+id, err)
}

// PutCertificate implements store.Store.
func (s *Store) PutCertificate(ctx context.Context, c store.Certificate) error {
	if err := c.Validate(); err != nil {
		return wrap("put", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "operator", c.Operator, `SELECT 1 FROM operators WHERE eik = ?`); err != nil {
			return err
		}
		// An update never touches revoked: registering a revoked certificate again (cert add, the intake
		// learning it) must not cancel its revocation, which only RevokeCertificate sets.
		_, err := tx.Exec(ctx, `INSERT INTO certificates (fingerprint, der, operator, subject, not_before, not_after, revoked)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (fingerprint) DO UPDATE SET operator = excluded.operator, subject = excluded.subject,
			not_before = excluded.not_before, not_after = excluded.not_after`,
			c.Fingerprint[:], c.DER, c.Operator, c.Subject, ms(c.NotBefore), ms(c.NotAfter), ms(c.Revoked))
		return err
	})
	return wrap("put certificate "+c.Fingerprint.String(), err)
}

const certColumns = `fingerprint, der, operator, subject, not_before, not_after, revoked`

func scanCert(r Row) (store.Certificate, error) {
	var c store.Certificate
	var fp []byte
	var nb, na, rv int64
	if err := r.Scan(&fp, &c.DER, &c.Operator, &c.Subject, &nb, &na, &rv); err != nil {
		return c, err
	}
	var err error
	c.Fingerprint, err = hashOf(fp)
	c.NotBefore, c.NotAfter, c.Revoked = fromMS(nb), fromMS(na), fromMS(rv)
	return c, err
}

// Certificate implements store.Store.
func (s *Store) Certificate(ctx context.Context, fp store.Hash) (store.Certificate, error) {
	c, err := scanCert(s.db.QueryRow(ctx, `SELECT `+certColumns+` FROM certificates WHERE fingerprint = ?`, fp[:]))
	return c, wrap("certificate "+fp.String(), err)
}

// Certificates implements store.Store.
func (s *Store) Certificates(ctx context.Context, operator string) ([]store.Certificate, error) {
	q, args := `SELECT `+certColumns+` FROM certificates`, []any(nil)
	if operator != "" {
		q, args = q+` WHERE operator = ?`, append(args, operator)
	}
	var out []store.Certificate
	err := each(ctx, s.db, q+` ORDER BY fingerprint`, args, func(r Rows) error {
		c, err := scanCert(r)
		out = append(out, c)
		return err
	})
	return out, wrap("certificates", err)
}

// RevokeCertificate implements store.Store.
func (s *Store) RevokeCertificate(ctx context.Context, fp store.Hash, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: revoke certificate: time is zero", store.ErrInvalid)
	}
	n, err := s.db.Exec(ctx, `UPDATE certificates SET revoked = ? WHERE fingerprint = ?`, ms(at), fp[:])
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap("revoke certificate "+fp.String(), err)
}

// PutTrustAnchor implements store.Store.
func (s *Store) PutTrustAnchor(ctx context.Context, a store.TrustAnchor) error {
	if len(a.DER) == 0 || store.Fingerprint(a.DER) != a.Fingerprint {
		return fmt.Errorf("%w: trust anchor: fingerprint is not the SHA-256 of its DER", store.ErrInvalid)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO trust_anchors (fingerprint, der, name) VALUES (?, ?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name`, a.Fingerprint[:], a.DER, a.Name)
	return wrap("put trust anchor", err)
}

// TrustAnchors implements store.Store.
func (s *Store) TrustAnchors(ctx context.Context) ([]store.TrustAnchor, error) {
	var out []store.TrustAnchor
	err := each(ctx, s.db, `SELECT fingerprint, der, name FROM trust_anchors ORDER BY fingerprint`, nil, func(r Rows) error {
		var a store.TrustAnchor
		var fp []byte
		if err := r.Scan(&fp, &a.DER, &a.Name); err != nil {
			return err
		}
		var err error
		a.Fingerprint, err = hashOf(fp)
		out = append(out, a)
		return err
	})
	return out, wrap("trust anchors", err)
}

// DeleteTrustAnchor implements store.Store.
func (s *Store) DeleteTrustAnchor(ctx context.Context, fp store.Hash) error {
	n, err := s.db.Exec(ctx, `DELETE FROM trust_anchors WHERE fingerprint = ?`, fp[:])
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap("delete trust anchor "+fp.String(), err)
}

// each runs query and calls fn for each row.
func each(ctx context.Context, q Querier, query string, args []any, fn func(Rows) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// wrap gives err context: "store: what: err"; store's own sentinel errors stay testable with errors.Is.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
