package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// The watch area (store.Watch): alarms, lifecycle moves, configuration versions, commissioning,
// comparisons. Maps and lists read only whole are stored as JSON text.

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

func detailJSON(m map[string]string) (string, error) {
	if m == nil {
		return "{}", nil
	}
	return toJSON(m)
}

const alarmColumns = `a.id, a.kind, a.site, a.device, a.point, a.incident, a.state, a.opened, a.updated, a.closed,
	a.restored, a.detail, s.operator, s.customs_office`

const alarmFrom = ` FROM alarms a JOIN sites s ON s.warehouse = a.site`

func scanAlarm(r Row) (store.Alarm, error) {
	var a store.Alarm
	var kind, state, detail string
	var opened, updated, closed, restored int64
	if err := r.Scan(&a.ID, &kind, &a.Site, &a.Device, &a.Point, &a.Incident, &state, &opened, &updated, &closed,
		&restored, &detail, &a.Operator, &a.CustomsOffice); err != nil {
		return a, err
	}
	a.Kind, a.State = store.AlarmKind(kind), store.AlarmState(state)
	a.Opened, a.Updated, a.Closed, a.Restored = fromMS(opened), fromMS(updated), fromMS(closed), fromMS(restored)
	if err := fromJSON(detail, &a.Detail); err != nil {
		return a, fmt.Errorf("alarm %d detail: %w", a.ID, err)
	}
	return a, nil
}

func validAlarm(a *store.Alarm) error {
	if !a.Kind.Valid() {
		return fmt.Errorf("%w: alarm.kind: unknown %q", store.ErrInvalid, a.Kind)
	}
	if (a.Kind == store.AlarmIncident) != (a.Incident != 0) {
		return fmt.Errorf("%w: alarm.incident: %d for kind %s (set for incident alarms only, and always)",
			store.ErrInvalid, a.Incident, a.Kind)
	}
	if a.Point != "" && a.Device == "" {
		return fmt.Errorf("%w: alarm.point: %s without a device", store.ErrInvalid, a.Point)
	}
	return nil
}

func validEntry(e *store.AlarmEntry) error {
	if !e.Action.Valid() {
		return fmt.Errorf("%w: alarm entry.action: unknown %q", store.ErrInvalid, e.Action)
	}
	if e.Who == "" {
		return fmt.Errorf("%w: alarm entry.who: empty", store.ErrInvalid)
	}
	return nil
}

func addEntry(ctx context.Context, tx Tx, id int64, e *store.AlarmEntry) error {
	var seq int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM alarm_entries WHERE alarm = ?`, id).Scan(&seq); err != nil {
		return err
	}
	detail, err := detailJSON(e.Detail)
	if err != nil {
		return err
	}
	e.Alarm, e.Seq = id, seq+1
	_, err = tx.Exec(ctx, `INSERT INTO alarm_entries (alarm, seq, time, who, role, action, comment, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, e.Seq, ms(e.Time), e.Who, e.Role, string(e.Action), e.Comment, detail)
	return err
}

// OpenAlarm implements store.Store.
func (s *Store) OpenAlarm(ctx context.Context, a store.Alarm, e store.AlarmEntry) (store.Alarm, bool, error) {
	if err := validAlarm(&a); err != nil {
		return a, false, wrap("open alarm", err)
	}
	e.Action = store.AlarmOpened
	if err := validEntry(&e); err != nil {
		return a, false, wrap("open alarm", err)
	}
	if a.Opened.IsZero() {
		a.Opened = now()
	}
	if e.Time.IsZero() {
		e.Time = a.Opened
	}
	detail, err := detailJSON(a.Detail)
	if err != nil {
		return a, false, wrap("open alarm", err)
	}
	var id int64
	created := false
	err = s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "site", a.Site, `SELECT 1 FROM sites WHERE warehouse = ?`); err != nil {
			return err
		}
		// The insert does nothing when an alarm of the key is open; that alarm is then read. On PostgreSQL
		// the open one may be closed by a concurrent transaction between the two statements (each sees what
		// is committed when it starts): then the insert is tried again, and now succeeds.
		for range 3 {
			err := tx.QueryRow(ctx, `INSERT INTO alarms (kind, site, device, point, incident, state, opened, updated, closed, restored, detail)
				VALUES (?, ?, ?, ?, ?, 'open', ?, ?, 0, 0, ?)
				ON CONFLICT (kind, site, device, point, incident) WHERE state <> 'closed' DO NOTHING
				RETURNING id`, string(a.Kind), a.Site, a.Device, a.Point, a.Incident, ms(a.Opened), ms(e.Time), detail).Scan(&id)
			if err == nil {
				created = true
				return addEntry(ctx, tx, id, &e)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			err = tx.QueryRow(ctx, `SELECT id FROM alarms WHERE kind = ? AND site = ? AND device = ? AND point = ?
				AND incident = ? AND state <> 'closed'`, string(a.Kind), a.Site, a.Device, a.Point, a.Incident).Scan(&id)
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return errors.New("an alarm of the key was closed under the insert three times in a row")
	})
	if err != nil {
		return a, false, wrap("open alarm "+string(a.Kind)+" "+a.Site, err)
	}
	got, err := s.Alarm(ctx, id)
	return got, created, err
}

// ChangeAlarm implements store.Store.
func (s *Store) ChangeAlarm(ctx context.Context, id int64, e store.AlarmEntry) (store.Alarm, error) {
	if err := validEntry(&e); err != nil {
		return store.Alarm{}, wrap(fmt.Sprintf("change alarm %d", id), err)
	}
	if e.Action == store.AlarmOpened {
		return store.Alarm{}, wrap(fmt.Sprintf("change alarm %d", id),
			fmt.Errorf("%w: action opened: only OpenAlarm opens", store.ErrInvalid))
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM alarms WHERE id = ?`+s.d.ForUpdate, id).Scan(&state); err != nil {
			return err
		}
		if store.AlarmState(state) == store.AlarmStateClosed {
			return fmt.Errorf("%w: the alarm is closed", store.ErrInvalid)
		}
		if err := addEntry(ctx, tx, id, &e); err != nil {
			return err
		}
		switch e.Action {
		case store.AlarmAcknowledged:
			_, err := tx.Exec(ctx, `UPDATE alarms SET state = 'acknowledged', updated = ? WHERE id = ?`, ms(e.Time), id)
			return err
		case store.AlarmClosed:
			_, err := tx.Exec(ctx, `UPDATE alarms SET state = 'closed', updated = ?, closed = ? WHERE id = ?`, ms(e.Time), ms(e.Time), id)
			return err
		case store.AlarmRestored:
			_, err := tx.Exec(ctx, `UPDATE alarms SET restored = ?, updated = ? WHERE id = ?`, ms(e.Time), ms(e.Time), id)
			return err
		case store.AlarmRecurred:
			_, err := tx.Exec(ctx, `UPDATE alarms SET restored = 0, updated = ? WHERE id = ?`, ms(e.Time), id)
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE alarms SET updated = ? WHERE id = ?`, ms(e.Time), id)
		return err
	})
	if err != nil {
		return store.Alarm{}, wrap(fmt.Sprintf("change alarm %d", id), err)
	}
	return s.Alarm(ctx, id)
}

// Alarm implements store.Store.
func (s *Store) Alarm(ctx context.Context, id int64) (store.Alarm, error) {
	a, err := scanAlarm(s.db.QueryRow(ctx, `SELECT `+alarmColumns+alarmFrom+` WHERE a.id = ?`, id))
	return a, wrap(fmt.Sprintf("alarm %d", id), err)
}

// FindOpenAlarm implements store.Store.
func (s *Store) FindOpenAlarm(ctx context.Context, k store.AlarmKey) (store.Alarm, error) {
	a, err := scanAlarm(s.db.QueryRow(ctx, `SELECT `+alarmColumns+alarmFrom+` WHERE a.kind = ? AND a.site = ?
		AND a.device = ? AND a.point = ? AND a.incident = ? AND a.state <> 'closed'`,
		string(k.Kind), k.Site, k.Device, k.Point, k.Incident))
	return a, wrap("open alarm "+string(k.Kind)+" "+k.Site+" "+k.Device+" "+k.Point, err)
}

// Alarms implements store.Store.
func (s *Store) Alarms(ctx context.Context, f store.AlarmFilter) ([]store.Alarm, error) {
	q, args := `SELECT `+alarmColumns+alarmFrom+` WHERE 1 = 1`, []any(nil)
	add := func(cond string, v any) { q, args = q+` AND `+cond, append(args, v) }
	if f.Site != "" {
		add(`a.site = ?`, f.Site)
	}
	if f.Operator != "" {
		add(`s.operator = ?`, f.Operator)
	}
	if f.CustomsOffice != "" {
		add(`s.customs_office = ?`, f.CustomsOffice)
	}
	if f.Device != "" {
		add(`a.device = ?`, f.Device)
	}
	if f.Point != "" {
		add(`a.point = ?`, f.Point)
	}
	if len(f.States) > 0 {
		q += ` AND a.state IN (` + placeholders(len(f.States)) + `)`
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if len(f.Kinds) > 0 {
		q += ` AND a.kind IN (` + placeholders(len(f.Kinds)) + `)`
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	if !f.Since.IsZero() {
		add(`a.opened >= ?`, ms(f.Since))
	}
	if !f.Until.IsZero() {
		add(`a.opened < ?`, ms(f.Until))
	}
	q += ` ORDER BY a.opened DESC, a.id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d OFFSET %d`, f.Limit, max(f.Offset, 0))
	}
	var out []store.Alarm
	err := each(ctx, s.db, q, args, func(r Rows) error {
		a, err := scanAlarm(r)
		out = append(out, a)
		return err
	})
	return out, wrap("alarms", err)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// AlarmHistory implements store.Store.
func (s *Store) AlarmHistory(ctx context.Context, id int64) ([]store.AlarmEntry, error) {
	if err := need(ctx, s.db, "alarm", fmt.Sprint(id), `SELECT 1 FROM alarms WHERE id = ?`); err != nil {
		return nil, wrap(fmt.Sprintf("alarm %d history", id), err)
	}
	var out []store.AlarmEntry
	err := each(ctx, s.db, `SELECT alarm, seq, time, who, role, action, comment, detail FROM alarm_entries
		WHERE alarm = ? ORDER BY seq`, []any{id}, func(r Rows) error {
		var e store.AlarmEntry
		var t int64
		var action, detail string
		if err := r.Scan(&e.Alarm, &e.Seq, &t, &e.Who, &e.Role, &action, &e.Comment, &detail); err != nil {
			return err
		}
		e.Time, e.Action = fromMS(t), store.AlarmAction(action)
		if err := fromJSON(detail, &e.Detail); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, wrap(fmt.Sprintf("alarm %d history", id), err)
}

// WatchCursor implements store.Store.
func (s *Store) WatchCursor(ctx context.Context, name string) (int64, error) {
	var at int64
	err := s.db.QueryRow(ctx, `SELECT at FROM watch_cursors WHERE name = ?`, name).Scan(&at)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	return at, wrap("watch cursor "+name, err)
}

// SetWatchCursor implements store.Store.
func (s *Store) SetWatchCursor(ctx context.Context, name string, at int64) error {
	err := s.db.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO watch_cursors (name, at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET at = excluded.at`, name, at)
		return err
	})
	return wrap("set watch cursor "+name, err)
}

// AcquireWatchLease implements store.Store. One upsert takes, renews or leaves the lease: the row's lock
// (PostgreSQL) or the database's write lock (SQLite) makes two holders that try at once see each other.
func (s *Store) AcquireWatchLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.WatchLease, bool, error) {
	what := "acquire watch lease " + name
	l := store.WatchLease{Name: name}
	switch {
	case name == "" || holder == "":
		return l, false, wrap(what, fmt.Errorf("%w: lease: empty name or holder", store.ErrInvalid))
	case ttl <= 0:
		return l, false, wrap(what, fmt.Errorf("%w: lease: ttl %v", store.ErrInvalid, ttl))
	}
	at := ms(now)
	held := false
	err := s.db.Write(ctx, func(tx Tx) error {
		var acquired, expires int64
		err := tx.QueryRow(ctx, `INSERT INTO watch_leases (name, holder, acquired, expires) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires,
				acquired = CASE WHEN watch_leases.holder = excluded.holder AND watch_leases.expires > ?
					THEN watch_leases.acquired ELSE excluded.acquired END
			WHERE watch_leases.holder = excluded.holder OR watch_leases.expires <= ?
			RETURNING holder, acquired, expires`, name, holder, at, ms(now.Add(ttl)), at, at).Scan(&l.Holder, &acquired, &expires)
		if errors.Is(err, store.ErrNotFound) {
			// Held by another: the update's condition left the row as it is.
			err = tx.QueryRow(ctx, `SELECT holder, acquired, expires FROM watch_leases WHERE name = ?`, name).Scan(
				&l.Holder, &acquired, &expires)
		} else if err == nil {
			held = true
		}
		l.Acquired, l.Expires = fromMS(acquired), fromMS(expires)
		return err
	})
	if err != nil {
		return l, false, wrap(what, err)
	}
	return l, held, nil
}

// ReleaseWatchLease implements store.Store.
func (s *Store) ReleaseWatchLease(ctx context.Context, name, holder string) error {
	err := s.db.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE watch_leases SET expires = 0 WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
	return wrap("release watch lease "+name, err)
}

// WatchLease implements store.Store.
func (s *Store) WatchLease(ctx context.Context, name string) (store.WatchLease, error) {
	l := store.WatchLease{Name: name}
	var acquired, expires int64
	err := s.db.QueryRow(ctx, `SELECT holder, acquired, expires FROM watch_leases WHERE name = ?`, name).Scan(
		&l.Holder, &acquired, &expires)
	l.Acquired, l.Expires = fromMS(acquired), fromMS(expires)
	return l, wrap("watch lease "+name, err)
}

// MoveSite implements store.Store.
func (s *Store) MoveSite(ctx context.Context, m store.SiteMove) (store.SiteMove, error) {
	what := "move site " + m.Site
	if !m.From.Valid() || !m.To.Valid() {
		return m, wrap(what, fmt.Errorf("%w: site move: unknown state %q → %q", store.ErrInvalid, m.From, m.To))
	}
	if m.From == m.To {
		return m, wrap(what, fmt.Errorf("%w: site move: from and to are both %q", store.ErrInvalid, m.From))
	}
	if m.Time.IsZero() {
		m.Time = now()
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM sites WHERE warehouse = ?`+s.d.ForUpdate, m.Site).Scan(&state); err != nil {
			return err
		}
		if store.SiteState(state) != m.From {
			return fmt.Errorf("%w: the site is %s, not %s", store.ErrConflict, state, m.From)
		}
		if _, err := tx.Exec(ctx, `UPDATE sites SET state = ? WHERE warehouse = ?`, string(m.To), m.Site); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO site_moves (site, from_state, to_state, who, role, time, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, m.Site, string(m.From), string(m.To), m.Who, m.Role,
			ms(m.Time), m.Reason).Scan(&m.ID)
	})
	return m, wrap(what, err)
}

// SiteMoves implements store.Store.
func (s *Store) SiteMoves(ctx context.Context, site string) ([]store.SiteMove, error) {
	q, args := `SELECT id, site, from_state, to_state, who, role, time, reason FROM site_moves`, []any(nil)
	if site != "" {
		q, args = q+` WHERE site = ?`, append(args, site)
	}
	var out []store.SiteMove
	err := each(ctx, s.db, q+` ORDER BY id`, args, func(r Rows) error {
		var m store.SiteMove
		var from, to string
		var t int64
		if err := r.Scan(&m.ID, &m.Site, &from, &to, &m.Who, &m.Role, &t, &m.Reason); err != nil {
			return err
		}
		m.From, m.To, m.Time = store.SiteState(from), store.SiteState(to), fromMS(t)
		out = append(out, m)
		return nil
	})
	return out, wrap("site moves", err)
}

// AddConfigVersion implements store.Store.
func (s *Store) AddConfigVersion(ctx context.Context, v store.ConfigVersion) (store.ConfigVersion, error) {
	what := "add config version of " + v.Site
	if v.Verdict != store.ConfigAccepted && v.Verdict != store.ConfigRefused {
		return v, wrap(what, fmt.Errorf("%w: config version.verdict: unknown %q", store.ErrInvalid, v.Verdict))
	}
	if len(v.File) == 0 {
		return v, wrap(what, fmt.Errorf("%w: config version.file: empty", store.ErrInvalid))
	}
	for i, n := range v.Notices {
		if n.Change != "added" && n.Change != "removed" {
			return v, wrap(what, fmt.Errorf("%w: config version.notices[%d].change: %q", store.ErrInvalid, i, n.Change))
		}
	}
	v.SHA256 = sha256.Sum256(v.File)
	if v.UploadedAt.IsZero() {
		v.UploadedAt = now()
	}
	reasons, err := toJSON(nonNilReasons(v.Reasons))
	if err != nil {
		return v, wrap(what, err)
	}
	err = s.db.Write(ctx, func(tx Tx) error {
		var last int
		if err := tx.QueryRow(ctx, `SELECT state FROM sites WHERE warehouse = ?`+s.d.ForUpdate, v.Site).Scan(new(string)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: site %s", store.ErrNotFound, v.Site)
			}
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM config_versions WHERE site = ?`, v.Site).Scan(&last); err != nil {
			return err
		}
		v.Version = last + 1
		if _, err := tx.Exec(ctx, `INSERT INTO config_versions (site, version, file, sha256, uploaded_by, uploaded_at, verdict, reasons)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, v.Site, v.Version, v.File, v.SHA256[:], v.UploadedBy, ms(v.UploadedAt),
			string(v.Verdict), reasons); err != nil {
			return err
		}
		for i := range v.Notices {
			n := &v.Notices[i]
			n.Site, n.Version = v.Site, v.Version
			if err := tx.QueryRow(ctx, `INSERT INTO product_notices (site, version, point, product, change, due, given, given_by)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, n.Site, n.Version, n.Point, n.Product, n.Change, n.Due,
				ms(n.Given), n.GivenBy).Scan(&n.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return v, wrap(what, err)
}

func nonNilReasons(r []store.ConfigReason) []store.ConfigReason {
	if r == nil {
		return []store.ConfigReason{}
	}
	return r
}

const configColumns = `site, version, sha256, uploaded_by, uploaded_at, verdict, reasons`

func (s *Store) scanConfig(ctx context.Context, r Row, file *[]byte) (store.ConfigVersion, error) {
	var v store.ConfigVersion
	var sum []byte
	var at int64
	var verdict, reasons string
	dest := []any{&v.Site, &v.Version, &sum, &v.UploadedBy, &at, &verdict, &reasons}
	if file != nil {
		dest = append(dest, file)
	}
	if err := r.Scan(dest...); err != nil {
		return v, err
	}
	var err error
	if v.SHA256, err = hashOf(sum); err != nil {
		return v, err
	}
	v.UploadedAt, v.Verdict = fromMS(at), store.ConfigVerdict(verdict)
	return v, fromJSON(reasons, &v.Reasons)
}

// ConfigVersion implements store.Store.
func (s *Store) ConfigVersion(ctx context.Context, site string, n int) (store.ConfigVersion, error) {
	what := fmt.Sprintf("config version %d of %s", n, site)
	var file []byte
	v, err := s.scanConfig(ctx, s.db.QueryRow(ctx, `SELECT `+configColumns+`, file FROM config_versions
		WHERE site = ? AND version = ?`, site, n), &file)
	if err != nil {
		return v, wrap(what, err)
	}
	v.File = file
	v.Notices, err = s.ProductNotices(ctx, store.ProductNoticeFilter{Site: site})
	if err != nil {
		return v, err
	}
	v.Notices = filterNotices(v.Notices, n)
	return v, nil
}

func filterNotices(ns []store.ProductNotice, version int) []store.ProductNotice {
	var out []store.ProductNotice
	for _, n := range ns {
		if n.Version == version {
			out = append(out, n)
		}
	}
	return out
}

// ConfigVersions implements store.Store.
func (s *Store) ConfigVersions(ctx context.Context, site string) ([]store.ConfigVersion, error) {
	var out []store.ConfigVersion
	err := each(ctx, s.db, `SELECT `+configColumns+` FROM config_versions WHERE site = ? ORDER BY version`,
		[]any{site}, func(r Rows) error {
			v, err := s.scanConfig(ctx, r, nil)
			out = append(out, v)
			return err
		})
	if err != nil {
		return nil, wrap("config versions of "+site, err)
	}
	notices, err := s.ProductNotices(ctx, store.ProductNoticeFilter{Site: site})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Notices = filterNotices(notices, out[i].Version)
	}
	return out, nil
}

const noticeColumns = `n.id, n.site, n.version, n.point, n.product, n.change, n.due, n.given, n.given_by`

func scanNotice(r Row) (store.ProductNotice, error) {
	var n store.ProductNotice
	var given int64
	err := r.Scan(&n.ID, &n.Site, &n.Version, &n.Point, &n.Product, &n.Change, &n.Due, &given, &n.GivenBy)
	n.Given = fromMS(given)
	return n, err
}

// ProductNotice implements store.Store.
func (s *Store) ProductNotice(ctx context.Context, id int64) (store.ProductNotice, error) {
	n, err := scanNotice(s.db.QueryRow(ctx, `SELECT `+noticeColumns+` FROM product_notices n WHERE n.id = ?`, id))
	return n, wrap(fmt.Sprintf("product notice %d", id), err)
}

// ProductNotices implements store.Store.
func (s *Store) ProductNotices(ctx context.Context, f store.ProductNoticeFilter) ([]store.ProductNotice, error) {
	q, args := `SELECT `+noticeColumns+` FROM product_notices n JOIN sites s ON s.warehouse = n.site WHERE 1 = 1`, []any(nil)
	if f.Site != "" {
		q, args = q+` AND n.site = ?`, append(args, f.Site)
	}
	if f.Operator != "" {
		q, args = q+` AND s.operator = ?`, append(args, f.Operator)
	}
	if f.Owed {
		q += ` AND n.given = 0`
	}
	if f.DueUntil != "" {
		q, args = q+` AND n.due <= ?`, append(args, f.DueUntil)
	}
	var out []store.ProductNotice
	err := each(ctx, s.db, q+` ORDER BY n.due, n.id`, args, func(r Rows) error {
		n, err := scanNotice(r)
		out = append(out, n)
		return err
	})
	return out, wrap("product notices", err)
}

// GiveProductNotice implements store.Store.
func (s *Store) GiveProductNotice(ctx context.Context, id int64, who string, at time.Time) (store.ProductNotice, error) {
	what := fmt.Sprintf("give product notice %d", id)
	if at.IsZero() {
		at = now()
	}
	var n store.ProductNotice
	err := s.db.Write(ctx, func(tx Tx) error {
		var given int64
		if err := tx.QueryRow(ctx, `SELECT given FROM product_notices WHERE id = ?`+s.d.ForUpdate, id).Scan(&given); err != nil {
			return err
		}
		if given != 0 {
			return fmt.Errorf("%w: given already at %s", store.ErrInvalid, fromMS(given).Format(time.RFC3339))
		}
		if _, err := tx.Exec(ctx, `UPDATE product_notices SET given = ?, given_by = ? WHERE id = ?`, ms(at), who, id); err != nil {
			return err
		}
		var err error
		n, err = scanNotice(tx.QueryRow(ctx, `SELECT `+noticeColumns+` FROM product_notices n WHERE n.id = ?`, id))
		return err
	})
	return n, wrap(what, err)
}

// AddCommissioning implements store.Store.
func (s *Store) AddCommissioning(ctx context.Context, c store.Commissioning) (store.Commissioning, error) {
	what := "add commissioning of " + c.Site
	if c.Time.IsZero() {
		c.Time = now()
	}
	if c.Seals == nil {
		c.Seals = []string{}
	}
	if c.Files == nil {
		c.Files = []store.CommissionFile{}
	}
	seals, err := toJSON(c.Seals)
	if err != nil {
		return c, wrap(what, err)
	}
	files, err := toJSON(c.Files)
	if err != nil {
		return c, wrap(what, err)
	}
	err = s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "site", c.Site, `SELECT 1 FROM sites WHERE warehouse = ?`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO commissionings (site, time, officer, representative, protocol, controller,
			computer, ups, seals, files, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.Site, ms(c.Time), c.Officer, c.Representative, c.Protocol, c.Controller, c.Computer, c.UPS, seals, files,
			c.Notes).Scan(&c.ID)
	})
	return c, wrap(what, err)
}

const commissioningColumns = `id, site, time, officer, representative, protocol, controller, computer, ups, seals, files, notes`

func scanCommissioning(r Row) (store.Commissioning, error) {
	var c store.Commissioning
	var t int64
	var seals, files string
	if err := r.Scan(&c.ID, &c.Site, &t, &c.Officer, &c.Representative, &c.Protocol, &c.Controller, &c.Computer,
		&c.UPS, &seals, &files, &c.Notes); err != nil {
		return c, err
	}
	c.Time = fromMS(t)
	if err := fromJSON(seals, &c.Seals); err != nil {
		return c, err
	}
	return c, fromJSON(files, &c.Files)
}

// Commissioning implements store.Store.
func (s *Store) Commissioning(ctx context.Context, id int64) (store.Commissioning, error) {
	c, err := scanCommissioning(s.db.QueryRow(ctx, `SELECT `+commissioningColumns+` FROM commissionings WHERE id = ?`, id))
	return c, wrap(fmt.Sprintf("commissioning %d", id), err)
}

// Commissionings implements store.Store.
func (s *Store) Commissionings(ctx context.Context, site string) ([]store.Commissioning, error) {
	var out []store.Commissioning
	err := each(ctx, s.db, `SELECT `+commissioningColumns+` FROM commissionings WHERE site = ? ORDER BY id`,
		[]any{site}, func(r Rows) error {
			c, err := scanCommissioning(r)
			out = append(out, c)
			return err
		})
	return out, wrap("commissionings of "+site, err)
}

// AddComparison implements store.Store.
func (s *Store) AddComparison(ctx context.Context, c store.Comparison) (store.Comparison, error) {
	what := "add comparison of " + c.Site
	if c.Kind != store.ComparisonTestData && c.Kind != store.ComparisonThreeWay {
		return c, wrap(what, fmt.Errorf("%w: comparison.kind: unknown %q", store.ErrInvalid, c.Kind))
	}
	for i, l := range c.Lines {
		if len(l.Values) != len(c.Sources) {
			return c, wrap(what, fmt.Errorf("%w: comparison.lines[%d]: %d values for %d sources", store.ErrInvalid,
				i, len(l.Values), len(c.Sources)))
		}
	}
	if c.Time.IsZero() {
		c.Time = now()
	}
	sources, err := toJSON(nonNilStrings(c.Sources))
	if err != nil {
		return c, wrap(what, err)
	}
	lines := c.Lines
	if lines == nil {
		lines = []store.ComparisonLine{}
	}
	linesJSON, err := toJSON(lines)
	if err != nil {
		return c, wrap(what, err)
	}
	err = s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "site", c.Site, `SELECT 1 FROM sites WHERE warehouse = ?`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO comparisons (kind, site, time, made_by, period_from, period_to, sources,
			matches, misses, lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, string(c.Kind), c.Site, ms(c.Time),
			c.By, ms(c.From), ms(c.To), sources, c.Matches, c.Misses, linesJSON).Scan(&c.ID)
	})
	return c, wrap(what, err)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanComparison(r Row, lines *string) (store.Comparison, error) {
	var c store.Comparison
	var kind, sources string
	var t, from, to int64
	dest := []any{&c.ID, &kind, &c.Site, &t, &c.By, &from, &to, &sources, &c.Matches, &c.Misses}
	if lines != nil {
		dest = append(dest, lines)
	}
	if err := r.Scan(dest...); err != nil {
		return c, err
	}
	c.Kind, c.Time, c.From, c.To = store.ComparisonKind(kind), fromMS(t), fromMS(from), fromMS(to)
	return c, fromJSON(sources, &c.Sources)
}

const comparisonColumns = `id, kind, site, time, made_by, period_from, period_to, sources, matches, misses`

// Comparison implements store.Store.
func (s *Store) Comparison(ctx context.Context, id int64) (store.Comparison, error) {
	var lines string
	c, err := scanComparison(s.db.QueryRow(ctx, `SELECT `+comparisonColumns+`, lines FROM comparisons WHERE id = ?`, id), &lines)
	if err == nil {
		err = fromJSON(lines, &c.Lines)
	}
	return c, wrap(fmt.Sprintf("comparison %d", id), err)
}

// Comparisons implements store.Store.
func (s *Store) Comparisons(ctx context.Context, site string) ([]store.Comparison, error) {
	var out []store.Comparison
	err := each(ctx, s.db, `SELECT `+comparisonColumns+` FROM comparisons WHERE site = ? ORDER BY time DESC, id DESC`,
		[]any{site}, func(r Rows) error {
			c, err := scanComparison(r, nil)
			out = append(out, c)
			return err
		})
	return out, wrap("comparisons of "+site, err)
}
