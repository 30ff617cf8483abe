package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/store"
)

const personColumns = `id, name, email, role, operator, office, disabled, created`

func scanPerson(r Row) (store.Person, error) {
	var p store.Person
	var role string
	var created int64
	err := r.Scan(&p.ID, &p.Name, &p.Email, &role, &p.Operator, &p.Office, &p.Disabled, &created)
	p.Role, p.Created = store.Role(role), fromMS(created)
	return p, err
}

// PutPerson implements store.Console.
func (s *Store) PutPerson(ctx context.Context, p store.Person) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, wrap("put person", err)
	}
	if p.Created.IsZero() {
		p.Created = now()
	}
	id := p.ID
	err := s.db.Write(ctx, func(tx Tx) error {
		if id == 0 {
			return tx.QueryRow(ctx, `INSERT INTO people (name, email, role, operator, office, disabled, created)
				VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				p.Name, p.Email, string(p.Role), p.Operator, p.Office, p.Disabled, ms(p.Created)).Scan(&id)
		}
		n, err := tx.Exec(ctx, `UPDATE people SET name = ?, email = ?, role = ?, operator = ?, office = ?, disabled = ?
			WHERE id = ?`, p.Name, p.Email, string(p.Role), p.Operator, p.Office, p.Disabled, id)
		if err == nil && n == 0 {
			err = fmt.Errorf("%w: person %d", store.ErrNotFound, id)
		}
		return err
	})
	return id, wrap("put person", err)
}

// Person implements store.Console.
func (s *Store) Person(ctx context.Context, id int64) (store.Person, error) {
	p, err := scanPerson(s.db.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE id = ?`, id))
	return p, wrap("person "+strconv.FormatInt(id, 10), err)
}

// People implements store.Console.
func (s *Store) People(ctx context.Context) ([]store.Person, error) {
	var out []store.Person
	err := each(ctx, s.db, `SELECT `+personColumns+` FROM people ORDER BY id`, nil, func(r Rows) error {
		p, err := scanPerson(r)
		out = append(out, p)
		return err
	})
	return out, wrap("people", err)
}

// PutPersonCertificate implements store.Console.
func (s *Store) PutPersonCertificate(ctx context.Context, c store.PersonCertificate) error {
	if len(c.DER) == 0 || store.Fingerprint(c.DER) != c.Fingerprint {
		return wrap("put person certificate", fmt.Errorf("%w: fingerprint is not the SHA-256 of its DER", store.ErrInvalid))
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "person", strconv.FormatInt(c.Person, 10), `SELECT 1 FROM people WHERE id = ?`); err != nil {
			return err
		}
		var owner int64
		err := tx.QueryRow(ctx, `SELECT person FROM person_certificates WHERE fingerprint = ?`, c.Fingerprint[:]).Scan(&owner)
		switch {
		case err == nil && owner != c.Person:
			return fmt.Errorf("%w: the certificate belongs to person %d", store.ErrInvalid, owner)
		case err == nil:
			_, err = tx.Exec(ctx, `UPDATE person_certificates SET subject = ?, not_after = ? WHERE fingerprint = ?`,
				c.Subject, ms(c.NotAfter), c.Fingerprint[:])
			return err
		case errors.Is(err, store.ErrNotFound):
			_, err = tx.Exec(ctx, `INSERT INTO person_certificates (fingerprint, person, der, subject, not_after)
				VALUES (?, ?, ?, ?, ?)`, c.Fingerprint[:], c.Person, c.DER, c.Subject, ms(c.NotAfter))
			return err
		}
		return err
	})
	return wrap("put person certificate "+c.Fingerprint.String(), err)
}

const personCertColumns = `fingerprint, person, der, subject, not_after`

func scanPersonCert(r Row) (store.PersonCertificate, error) {
	var c store.PersonCertificate
	var fp []byte
	var na int64
	if err := r.Scan(&fp, &c.Person, &c.DER, &c.Subject, &na); err != nil {
		return c, err
	}
	var err error
	c.Fingerprint, err = hashOf(fp)
	c.NotAfter = fromMS(na)
	return c, err
}

// PersonCertificates implements store.Console.
func (s *Store) PersonCertificates(ctx context.Context, person int64) ([]store.PersonCertificate, error) {
	q, args := `SELECT `+personCertColumns+` FROM person_certificates`, []any(nil)
	if person != 0 {
		q, args = q+` WHERE person = ?`, append(args, person)
	}
	var out []store.PersonCertificate
	err := each(ctx, s.db, q+` ORDER BY fingerprint`, args, func(r Rows) error {
		c, err := scanPersonCert(r)
		out = append(out, c)
		return err
	})
	return out, wrap("person certificates", err)
}

// DeletePersonCertificate implements store.Console.
func (s *Store) DeletePersonCertificate(ctx context.Context, fp store.Hash) error {
	err := s.db.Write(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE certificate = ?`, fp[:]); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM person_certificates WHERE fingerprint = ?`, fp[:])
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	return wrap("delete person certificate "+fp.String(), err)
}

// PersonByCertificate implements store.Console.
func (s *Store) PersonByCertificate(ctx context.Context, fp store.Hash) (store.Person, store.PersonCertificate, error) {
	c, err := scanPersonCert(s.db.QueryRow(ctx, `SELECT `+personCertColumns+` FROM person_certificates WHERE fingerprint = ?`, fp[:]))
	if err != nil {
		return store.Person{}, store.PersonCertificate{}, wrap("person of certificate "+fp.String(), err)
	}
	p, err := s.Person(ctx, c.Person)
	return p, c, err
}

// CreateSession implements store.Console.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	if ss.ID == "" || ss.CSRF == "" || ss.End.IsZero() || ss.Expires.IsZero() {
		return wrap("create session", fmt.Errorf("%w: session: id, csrf, expires and end are required", store.ErrInvalid))
	}
	_, err := s.db.Exec(ctx, `INSERT INTO sessions (id, person, certificate, csrf, created, seen, expires, ends, remote)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ss.ID, ss.Person, ss.Certificate[:], ss.CSRF, ms(ss.Created), ms(ss.Seen),
		ms(earlier(ss.Expires, ss.End)), ms(ss.End), ss.Remote)
	return wrap("create session", err)
}

// earlier gives the earlier of two times.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Session implements store.Console.
func (s *Store) Session(ctx context.Context, id string, at time.Time) (store.Session, error) {
	var ss store.Session
	var cert []byte
	var created, seen, expires, ends int64
	err := s.db.QueryRow(ctx, `SELECT id, person, certificate, csrf, created, seen, expires, ends, remote FROM sessions
		WHERE id = ? AND expires > ? AND ends > ?`, id, ms(at), ms(at)).
		Scan(&ss.ID, &ss.Person, &cert, &ss.CSRF, &created, &seen, &expires, &ends, &ss.Remote)
	if err != nil {
		return store.Session{}, wrap("session", err)
	}
	ss.Certificate, err = hashOf(cert)
	ss.Created, ss.Seen, ss.Expires, ss.End = fromMS(created), fromMS(seen), fromMS(expires), fromMS(ends)
	return ss, wrap("session", err)
}

// TouchSession implements store.Console.
func (s *Store) TouchSession(ctx context.Context, id string, seen, expires time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE sessions SET seen = ?, expires = CASE WHEN ? < ends THEN ? ELSE ends END WHERE id = ?`,
		ms(seen), ms(expires), ms(expires), id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap("touch session", err)
}

// DeleteSession implements store.Console.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return wrap("delete session", err)
}

// DeleteExpiredSessions implements store.Console.
func (s *Store) DeleteExpiredSessions(ctx context.Context, at time.Time) (int64, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE expires <= ? OR ends <= ?`, ms(at), ms(at))
	return n, wrap("delete expired sessions", err)
}

// AddAudit implements store.Console.
func (s *Store) AddAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	if e.Action == "" {
		return 0, wrap("add audit", fmt.Errorf("%w: audit.action: empty", store.ErrInvalid))
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	var id int64
	err := s.db.Write(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO audit (time, person, name, action, site, object, detail, remote)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			ms(e.Time), e.Person, e.Name, e.Action, e.Site, e.Object, e.Detail, e.Remote).Scan(&id)
	})
	return id, wrap("add audit", err)
}

// Audit implements store.Console.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	q, args := `SELECT id, time, person, name, action, site, object, detail, remote FROM audit WHERE 1 = 1`, []any(nil)
	if f.Person != 0 {
		q, args = q+` AND person = ?`, append(args, f.Person)
	}
	if f.Site != "" {
		q, args = q+` AND site = ?`, append(args, f.Site)
	}
	if !f.Since.IsZero() {
		q, args = q+` AND time >= ?`, append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q, args = q+` AND time < ?`, append(args, ms(f.Until))
	}
	q += ` ORDER BY time DESC, id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	var out []store.AuditEntry
	err := each(ctx, s.db, q, args, func(r Rows) error {
		var e store.AuditEntry
		var t int64
		if err := r.Scan(&e.ID, &t, &e.Person, &e.Name, &e.Action, &e.Site, &e.Object, &e.Detail, &e.Remote); err != nil {
			return err
		}
		e.Time = fromMS(t)
		out = append(out, e)
		return nil
	})
	return out, wrap("audit", err)
}
