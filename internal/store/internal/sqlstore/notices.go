package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// PutSystem implements store.Store.
func (s *Store) PutSystem(ctx context.Context, sys store.InfoSystem) error {
	if err := sys.Validate(); err != nil {
		return wrap("put", err)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO info_systems (code, name, name_en) VALUES (?, ?, ?)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en`, sys.Code, sys.Name, sys.NameEN)
	return wrap("put system "+sys.Code, err)
}

// Systems implements store.Store.
func (s *Store) Systems(ctx context.Context) ([]store.InfoSystem, error) {
	return s.systems(ctx, `SELECT code, name, name_en FROM info_systems ORDER BY code`)
}

func (s *Store) systems(ctx context.Context, q string, args ...any) ([]store.InfoSystem, error) {
	var out []store.InfoSystem
	err := each(ctx, s.db, q, args, func(r Rows) error {
		var sys store.InfoSystem
		err := r.Scan(&sys.Code, &sys.Name, &sys.NameEN)
		out = append(out, sys)
		return err
	})
	return out, wrap("systems", err)
}

// System implements store.Store.
func (s *Store) System(ctx context.Context, code string) (store.InfoSystem, error) {
	sys := store.InfoSystem{Code: code}
	err := s.db.QueryRow(ctx, `SELECT name, name_en FROM info_systems WHERE code = ?`, code).Scan(&sys.Name, &sys.NameEN)
	return sys, wrap("system "+code, err)
}

func checkGrant(g store.SystemGrant) error {
	if (g.EIK == "") == g.Certificate.IsZero() {
		return fmt.Errorf("%w: grant: exactly one of eik and certificate", store.ErrInvalid)
	}
	return nil
}

func grantCert(g store.SystemGrant) []byte {
	if g.Certificate.IsZero() {
		return []byte{}
	}
	return g.Certificate[:]
}

// GrantSystem implements store.Store.
func (s *Store) GrantSystem(ctx context.Context, g store.SystemGrant) error {
	if err := checkGrant(g); err != nil {
		return wrap("grant", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "system", g.System, `SELECT 1 FROM info_systems WHERE code = ?`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO system_grants (system, eik, certificate) VALUES (?, ?, ?)
			ON CONFLICT (system, eik, certificate) DO NOTHING`, g.System, g.EIK, grantCert(g))
		return err
	})
	return wrap("grant system "+g.System, err)
}

// RevokeSystem implements store.Store.
func (s *Store) RevokeSystem(ctx context.Context, g store.SystemGrant) error {
	if err := checkGrant(g); err != nil {
		return wrap("revoke", err)
	}
	n, err := s.db.Exec(ctx, `DELETE FROM system_grants WHERE system = ? AND eik = ? AND certificate = ?`,
		g.System, g.EIK, grantCert(g))
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap("revoke system "+g.System, err)
}

// Grants implements store.Store.
func (s *Store) Grants(ctx context.Context, system string) ([]store.SystemGrant, error) {
	q, args := `SELECT system, eik, certificate FROM system_grants`, []any(nil)
	if system != "" {
		q, args = q+` WHERE system = ?`, append(args, system)
	}
	var out []store.SystemGrant
	err := each(ctx, s.db, q+` ORDER BY system, eik, certificate`, args, func(r Rows) error {
		var g store.SystemGrant
		var fp []byte
		if err := r.Scan(&g.System, &g.EIK, &fp); err != nil {
			return err
		}
		if len(fp) > 0 {
			h, err := hashOf(fp)
			if err != nil {
				return err
			}
			g.Certificate = h
		}
		out = append(out, g)
		return nil
	})
	return out, wrap("grants", err)
}

// SystemsFor implements store.Store.
func (s *Store) SystemsFor(ctx context.Context, eik string, cert store.Hash) ([]store.InfoSystem, error) {
	var conds []string
	var args []any
	if eik != "" {
		conds, args = append(conds, `eik = ?`), append(args, eik)
	}
	if !cert.IsZero() {
		conds, args = append(conds, `certificate = ?`), append(args, cert[:])
	}
	if len(conds) == 0 {
		return nil, nil
	}
	return s.systems(ctx, `SELECT code, name, name_en FROM info_systems WHERE code IN
		(SELECT system FROM system_grants WHERE `+strings.Join(conds, ` OR `)+`) ORDER BY code`, args...)
}

func joinEvents(es []store.EventKind) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = string(e)
	}
	return strings.Join(parts, ",")
}

func splitEvents(s string) []store.EventKind {
	if s == "" {
		return nil
	}
	var out []store.EventKind
	for _, p := range strings.Split(s, ",") {
		out = append(out, store.EventKind(p))
	}
	return out
}

// PutSubscription implements store.Store.
func (s *Store) PutSubscription(ctx context.Context, sub *store.Subscription, confirm *store.OutboxItem) error {
	if err := sub.Validate(); err != nil {
		return wrap("put", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "system", sub.System, `SELECT 1 FROM info_systems WHERE code = ?`); err != nil {
			return err
		}
		dup, err := exists(ctx, tx, `SELECT 1 FROM subscriptions WHERE usr = ? AND system = ? AND id <> ?`, sub.User, sub.System, sub.ID)
		if err != nil {
			return err
		}
		if dup {
			return fmt.Errorf("%w: user %s already follows %s", store.ErrDuplicate, sub.User, sub.System)
		}
		args := []any{sub.User, sub.EIK, sub.System, sub.FirstName, sub.LastName, sub.Email, sub.Lang,
			joinEvents(sub.Events), string(sub.Delivery), sub.Active, sub.Confirmed, sub.Token, sub.Unsubscribe,
			ms(sub.Quarantined), sub.Bounce, ms(sub.Created), ms(sub.Updated)}
		if sub.ID == 0 {
			err = tx.QueryRow(ctx, `INSERT INTO subscriptions (usr, eik, system, first_name, last_name, email, lang,
				events, delivery, active, confirmed, token, unsubscribe, quarantined, bounce, created, updated)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, args...).Scan(&sub.ID)
			if err != nil {
				return err
			}
		} else {
			n, err := tx.Exec(ctx, `UPDATE subscriptions SET usr = ?, eik = ?, system = ?, first_name = ?, last_name = ?,
				email = ?, lang = ?, events = ?, delivery = ?, active = ?, confirmed = ?, token = ?, unsubscribe = ?,
				quarantined = ?, bounce = ?, created = ?, updated = ? WHERE id = ?`, append(args, sub.ID)...)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%w: subscription %d", store.ErrNotFound, sub.ID)
			}
		}
		if confirm != nil {
			confirm.Subscription = sub.ID
			return insertOutbox(ctx, tx, confirm, true)
		}
		return nil
	})
	return wrap("put subscription", err)
}

const subColumns = `id, usr, eik, system, first_name, last_name, email, lang, events, delivery, active, confirmed,
	token, unsubscribe, quarantined, bounce, created, updated`

func scanSub(r Row) (store.Subscription, error) {
	var s store.Subscription
	var events, delivery string
	var q, c, u int64
	err := r.Scan(&s.ID, &s.User, &s.EIK, &s.System, &s.FirstName, &s.LastName, &s.Email, &s.Lang, &events, &delivery,
		&s.Active, &s.Confirmed, &s.Token, &s.Unsubscribe, &q, &s.Bounce, &c, &u)
	s.Events, s.Delivery = splitEvents(events), store.Delivery(delivery)
	s.Quarantined, s.Created, s.Updated = fromMS(q), fromMS(c), fromMS(u)
	return s, err
}

// Subscription implements store.Store.
func (s *Store) Subscription(ctx context.Context, id int64) (store.Subscription, error) {
	sub, err := scanSub(s.db.QueryRow(ctx, `SELECT `+subColumns+` FROM subscriptions WHERE id = ?`, id))
	return sub, wrap(fmt.Sprintf("subscription %d", id), err)
}

// SubscriptionByToken implements store.Store.
func (s *Store) SubscriptionByToken(ctx context.Context, token string) (store.Subscription, error) {
	if token == "" {
		return store.Subscription{}, wrap("subscription by token", store.ErrNotFound)
	}
	sub, err := scanSub(s.db.QueryRow(ctx, `SELECT `+subColumns+` FROM subscriptions WHERE token = ? OR unsubscribe = ?`, token, token))
	return sub, wrap("subscription by token", err)
}

// Subscriptions implements store.Store.
func (s *Store) Subscriptions(ctx context.Context, f store.SubscriptionFilter) ([]store.Subscription, error) {
	q, args := subQuery(f)
	out, err := subs(ctx, s.db, q, args)
	return out, wrap("subscriptions", err)
}

func subQuery(f store.SubscriptionFilter) (string, []any) {
	q, args := `SELECT `+subColumns+` FROM subscriptions WHERE 1 = 1`, []any(nil)
	if f.User != "" {
		q, args = q+` AND usr = ?`, append(args, f.User)
	}
	if f.System != "" {
		q, args = q+` AND system = ?`, append(args, f.System)
	}
	if f.Email != "" {
		q, args = q+` AND lower(email) = lower(?)`, append(args, f.Email)
	}
	if f.Active {
		q, args = q+` AND active = ? AND confirmed = ? AND quarantined = 0`, append(args, true, true)
	}
	return q + ` ORDER BY id`, args
}

func subs(ctx context.Context, q Querier, query string, args []any) ([]store.Subscription, error) {
	var out []store.Subscription
	err := each(ctx, q, query, args, func(r Rows) error {
		sub, err := scanSub(r)
		out = append(out, sub)
		return err
	})
	return out, err
}

// Quarantine implements store.Store.
func (s *Store) Quarantine(ctx context.Context, email, reason string, at time.Time) error {
	if email == "" || at.IsZero() {
		return wrap("quarantine", fmt.Errorf("%w: quarantine: empty address or time", store.ErrInvalid))
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET quarantined = ?, bounce = ?, updated = ? WHERE lower(email) = lower(?)`,
			ms(at), reason, ms(at), email); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE outbox SET state = ?, error = ? WHERE state = ? AND subscription IN
			(SELECT id FROM subscriptions WHERE lower(email) = lower(?))`,
			string(store.OutboxCancelled), reason, string(store.OutboxPending), email)
		return err
	})
	return wrap("quarantine "+email, err)
}

// Publish implements store.Store.
func (s *Store) Publish(ctx context.Context, rev *store.Revision, plan func(store.Notice, []store.Subscription, []store.Webhook) []store.OutboxItem) error {
	if rev.Rev < 1 || !store.ValidSystemCode(rev.System) || rev.Kind.Event() == "" || rev.Published.IsZero() {
		return wrap("publish", fmt.Errorf("%w: publish: revision %d of %q, kind %q, time %v", store.ErrInvalid, rev.Rev, rev.System, rev.Kind, rev.Published))
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if rev.Rev == 1 {
			if rev.Notice != 0 {
				return fmt.Errorf("%w: publish: a first revision of stored notice %d", store.ErrStale, rev.Notice)
			}
			if err := need(ctx, tx, "system", rev.System, `SELECT 1 FROM info_systems WHERE code = ?`); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `INSERT INTO notices (system, kind, revs, updated) VALUES (?, ?, 1, ?) RETURNING id`,
				rev.System, string(rev.Kind), ms(rev.Published)).Scan(&rev.Notice); err != nil {
				return err
			}
		} else {
			var system, kind string
			var revs int
			err := tx.QueryRow(ctx, `SELECT system, kind, revs FROM notices WHERE id = ?`+s.d.ForUpdate, rev.Notice).Scan(&system, &kind, &revs)
			if err != nil {
				return err
			}
			if revs+1 != rev.Rev {
				return fmt.Errorf("%w: notice %d has %d revisions, %d offered", store.ErrStale, rev.Notice, revs, rev.Rev)
			}
			if system != rev.System || kind != string(rev.Kind) {
				return fmt.Errorf("%w: publish: notice %d is a %s notice of %s", store.ErrInvalid, rev.Notice, kind, system)
			}
			if _, err := tx.Exec(ctx, `UPDATE notices SET revs = ?, updated = ? WHERE id = ?`, rev.Rev, ms(rev.Published), rev.Notice); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE outbox SET state = ? WHERE notice = ? AND kind = ? AND state = ?`,
				string(store.OutboxCancelled), rev.Notice, string(store.OutboxReminder), string(store.OutboxPending)); err != nil {
				return err
			}
		}
		file := rev.File
		if file == nil {
			file = []byte{}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notice_revisions (notice, rev, action, title, text, title_en, text_en, link,
			planned, starts, ends, code_list, version, eu_common, file_name, file_type, file, author, published)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rev.Notice, rev.Rev, string(rev.Action), rev.Title, rev.Text, rev.TitleEN, rev.TextEN, rev.Link,
			rev.Planned, ms(rev.Start), ms(rev.End), rev.CodeList, rev.Version, rev.EUCommon, rev.FileName, rev.FileType,
			file, rev.Author, ms(rev.Published)); err != nil {
			return err
		}
		if plan == nil {
			return nil
		}
		n, err := notice(ctx, tx, rev.Notice)
		if err != nil {
			return err
		}
		q, args := subQuery(store.SubscriptionFilter{System: rev.System, Active: true})
		all, err := subs(ctx, tx, q, args)
		if err != nil {
			return err
		}
		var matching []store.Subscription
		for _, sub := range all {
			if sub.Follows(rev.Kind.Event()) {
				matching = append(matching, sub)
			}
		}
		q, args = hookQuery(store.WebhookFilter{System: rev.System, Active: true})
		allHooks, err := hooks(ctx, tx, q, args)
		if err != nil {
			return err
		}
		var matchingHooks []store.Webhook
		for _, h := range allHooks {
			if h.Follows(rev.Kind.Event()) {
				matchingHooks = append(matchingHooks, h)
			}
		}
		known := map[[2]int64]bool{}
		for _, sub := range matching {
			known[[2]int64{sub.ID, 0}] = true
		}
		for _, h := range matchingHooks {
			known[[2]int64{0, h.ID}] = true
		}
		for _, item := range plan(n, matching, matchingHooks) {
			item.Notice, item.Rev = rev.Notice, rev.Rev
			if !known[[2]int64{item.Subscription, item.Webhook}] {
				return fmt.Errorf("%w: publish: plan names subscription %d, webhook %d, which were not offered", store.ErrInvalid, item.Subscription, item.Webhook)
			}
			if err := insertOutbox(ctx, tx, &item, false); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(fmt.Sprintf("publish notice %d rev %d", rev.Notice, rev.Rev), err)
}

// insertOutbox adds a row; check looks its target up first (Publish knows its targets exist: it read
// them in the same transaction).
func insertOutbox(ctx context.Context, tx Tx, o *store.OutboxItem, check bool) error {
	if err := validOutbox(o); err != nil {
		return err
	}
	if o.State == "" {
		o.State = store.OutboxPending
	}
	if check {
		// The row's target must exist (the outbox has no foreign key: it points at one of two tables).
		what, id, query := "subscription", o.Subscription, `SELECT 1 FROM subscriptions WHERE id = ?`
		if o.Webhook != 0 {
			what, id, query = "webhook", o.Webhook, `SELECT 1 FROM webhooks WHERE id = ?`
		}
		if ok, err := exists(ctx, tx, query, id); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: %s %d", store.ErrNotFound, what, id)
			}
			return err
		}
	}
	return tx.QueryRow(ctx, `INSERT INTO outbox (key, kind, notice, rev, subscription, webhook, alarm, entry, person, state,
		attempts, next_attempt, claimed_at, error, sent_at, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`, o.Key, string(o.Kind), o.Notice, o.Rev, o.Subscription, o.Webhook, o.Alarm, o.Entry, o.Person,
		string(o.State), o.Attempts, ms(o.NextAttempt), ms(o.ClaimedAt), o.Error, ms(o.SentAt), ms(o.Created)).Scan(&o.ID)
}

// validOutbox checks that a row names exactly one target, the one its kind sends to: a webhook, a person
// (alarms) or a subscription (the rest).
func validOutbox(o *store.OutboxItem) error {
	targets := 0
	for _, id := range []int64{o.Subscription, o.Webhook, o.Person} {
		if id != 0 {
			targets++
		}
	}
	alarm := o.Kind == store.OutboxAlarm
	if o.Key == "" || targets != 1 || (o.Webhook != 0) != (o.Kind == store.OutboxWebhook) || (o.Person != 0) != alarm ||
		(o.Alarm != 0) != alarm || (o.Entry != 0) != alarm || o.Entry < 0 || (alarm && (o.Notice != 0 || o.Rev != 0)) {
		return fmt.Errorf("%w: outbox: key %q, kind %s, subscription %d, webhook %d, alarm %d entry %d person %d",
			store.ErrInvalid, o.Key, o.Kind, o.Subscription, o.Webhook, o.Alarm, o.Entry, o.Person)
	}
	return nil
}

// QueueOutbox implements store.Store.
func (s *Store) QueueOutbox(ctx context.Context, items []store.OutboxItem) (int, error) {
	for i := range items {
		if items[i].Kind != store.OutboxAlarm {
			return 0, wrap("queue outbox", fmt.Errorf("%w: outbox: queue takes alarm rows, not %q", store.ErrInvalid, items[i].Kind))
		}
		if err := validOutbox(&items[i]); err != nil {
			return 0, wrap("queue outbox", err)
		}
	}
	added := 0
	err := s.db.Write(ctx, func(tx Tx) error {
		added = 0
		for _, o := range items {
			if ok, err := exists(ctx, tx, `SELECT 1 FROM people WHERE id = ?`, o.Person); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("%w: person %d", store.ErrNotFound, o.Person)
				}
				return err
			}
			state := o.State
			if state == "" {
				state = store.OutboxPending
			}
			// A key queued before (the same change reported twice) stays as it is, whatever its state.
			n, err := tx.Exec(ctx, `INSERT INTO outbox (key, kind, notice, rev, subscription, webhook, alarm, entry, person,
				state, attempts, next_attempt, claimed_at, error, sent_at, created)
				VALUES (?, ?, 0, 0, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
				o.Key, string(o.Kind), o.Alarm, o.Entry, o.Person, string(state), o.Attempts, ms(o.NextAttempt),
				ms(o.ClaimedAt), o.Error, ms(o.SentAt), ms(o.Created))
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, wrap("queue outbox", err)
	}
	return added, nil
}

// PutWebhook implements store.Store.
func (s *Store) PutWebhook(ctx context.Context, w *store.Webhook) error {
	if err := w.Validate(); err != nil {
		return wrap("put", err)
	}
	err := s.db.Write(ctx, func(tx Tx) error {
		if err := need(ctx, tx, "system", w.System, `SELECT 1 FROM info_systems WHERE code = ?`); err != nil {
			return err
		}
		args := []any{w.User, w.EIK, w.System, w.URL, w.Secret, joinEvents(w.Events), w.Active, ms(w.Created)}
		if w.ID == 0 {
			return tx.QueryRow(ctx, `INSERT INTO webhooks (usr, eik, system, url, secret, events, active, created)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, args...).Scan(&w.ID)
		}
		n, err := tx.Exec(ctx, `UPDATE webhooks SET usr = ?, eik = ?, system = ?, url = ?, secret = ?, events = ?, active = ?,
			created = ? WHERE id = ?`, append(args, w.ID)...)
		if err == nil && n == 0 {
			err = fmt.Errorf("%w: webhook %d", store.ErrNotFound, w.ID)
		}
		return err
	})
	return wrap("put webhook", err)
}

const hookColumns = `id, usr, eik, system, url, secret, events, active, created`

func scanHook(r Row) (store.Webhook, error) {
	var w store.Webhook
	var events string
	var created int64
	err := r.Scan(&w.ID, &w.User, &w.EIK, &w.System, &w.URL, &w.Secret, &events, &w.Active, &created)
	w.Events, w.Created = splitEvents(events), fromMS(created)
	return w, err
}

// Webhook implements store.Store.
func (s *Store) Webhook(ctx context.Context, id int64) (store.Webhook, error) {
	w, err := scanHook(s.db.QueryRow(ctx, `SELECT `+hookColumns+` FROM webhooks WHERE id = ?`, id))
	return w, wrap(fmt.Sprintf("webhook %d", id), err)
}

// Webhooks implements store.Store.
func (s *Store) Webhooks(ctx context.Context, f store.WebhookFilter) ([]store.Webhook, error) {
	q, args := hookQuery(f)
	out, err := hooks(ctx, s.db, q, args)
	return out, wrap("webhooks", err)
}

func hookQuery(f store.WebhookFilter) (string, []any) {
	q, args := `SELECT `+hookColumns+` FROM webhooks WHERE 1 = 1`, []any(nil)
	if f.User != "" {
		q, args = q+` AND usr = ?`, append(args, f.User)
	}
	if f.System != "" {
		q, args = q+` AND system = ?`, append(args, f.System)
	}
	if f.Active {
		q, args = q+` AND active = ?`, append(args, true)
	}
	return q + ` ORDER BY id`, args
}

func hooks(ctx context.Context, q Querier, query string, args []any) ([]store.Webhook, error) {
	var out []store.Webhook
	err := each(ctx, q, query, args, func(r Rows) error {
		w, err := scanHook(r)
		out = append(out, w)
		return err
	})
	return out, err
}

const revColumns = `notice, rev, action, title, text, title_en, text_en, link, planned, starts, ends, code_list, version,
	eu_common, file_name, file_type, file, author, published`

func notice(ctx context.Context, q Querier, id int64) (store.Notice, error) {
	n := store.Notice{ID: id}
	var kind string
	if err := q.QueryRow(ctx, `SELECT system, kind FROM notices WHERE id = ?`, id).Scan(&n.System, &kind); err != nil {
		return n, err
	}
	n.Kind = store.NoticeKind(kind)
	err := each(ctx, q, `SELECT `+revColumns+` FROM notice_revisions WHERE notice = ? ORDER BY rev`, []any{id}, func(r Rows) error {
		v := store.Revision{System: n.System, Kind: n.Kind}
		var action string
		var st, en, pub int64
		if err := r.Scan(&v.Notice, &v.Rev, &action, &v.Title, &v.Text, &v.TitleEN, &v.TextEN, &v.Link, &v.Planned,
			&st, &en, &v.CodeList, &v.Version, &v.EUCommon, &v.FileName, &v.FileType, &v.File, &v.Author, &pub); err != nil {
			return err
		}
		v.Action, v.Start, v.End, v.Published = store.Action(action), fromMS(st), fromMS(en), fromMS(pub)
		if len(v.File) == 0 {
			v.File = nil
		}
		n.Revisions = append(n.Revisions, v)
		return nil
	})
	return n, err
}

// Notice implements store.Store.
func (s *Store) Notice(ctx context.Context, id int64) (store.Notice, error) {
	n, err := notice(ctx, s.db, id)
	return n, wrap(fmt.Sprintf("notice %d", id), err)
}

// Notices implements store.Store.
func (s *Store) Notices(ctx context.Context, f store.NoticeFilter) ([]store.Notice, error) {
	q, args := `SELECT id FROM notices WHERE 1 = 1`, []any(nil)
	if f.System != "" {
		q, args = q+` AND system = ?`, append(args, f.System)
	}
	if f.Kind != "" {
		q, args = q+` AND kind = ?`, append(args, string(f.Kind))
	}
	q += ` ORDER BY updated DESC, id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	var ids []int64
	err := each(ctx, s.db, q, args, func(r Rows) error {
		var id int64
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	})
	if err != nil {
		return nil, wrap("notices", err)
	}
	out := make([]store.Notice, 0, len(ids))
	for _, id := range ids {
		n, err := notice(ctx, s.db, id)
		if err != nil {
			return nil, wrap(fmt.Sprintf("notice %d", id), err)
		}
		out = append(out, n)
	}
	return out, nil
}

const outboxColumns = `id, key, kind, notice, rev, subscription, webhook, alarm, entry, person, state, attempts, next_attempt,
	claimed_at, error, sent_at, created`

func scanOutbox(r Row) (store.OutboxItem, error) {
	var o store.OutboxItem
	var kind, state string
	var na, ca, sa, cr int64
	err := r.Scan(&o.ID, &o.Key, &kind, &o.Notice, &o.Rev, &o.Subscription, &o.Webhook, &o.Alarm, &o.Entry, &o.Person, &state,
		&o.Attempts, &na, &ca, &o.Error, &sa, &cr)
	o.Kind, o.State = store.OutboxKind(kind), store.OutboxState(state)
	o.NextAttempt, o.ClaimedAt, o.SentAt, o.Created = fromMS(na), fromMS(ca), fromMS(sa), fromMS(cr)
	return o, err
}

// ClaimOutbox implements store.Store.
func (s *Store) ClaimOutbox(ctx context.Context, at time.Time, lease time.Duration, limit int) ([]store.OutboxItem, error) {
	if limit <= 0 {
		limit = 1
	}
	lock := ""
	if s.d.ForUpdate != "" {
		// Two workers on one PostgreSQL take different rows instead of queueing behind each other.
		lock = s.d.ForUpdate + " SKIP LOCKED"
	}
	var out []store.OutboxItem
	err := s.db.Write(ctx, func(tx Tx) error {
		err := each(ctx, tx, `SELECT `+outboxColumns+` FROM outbox
			WHERE (state = ? AND next_attempt <= ?) OR (state = ? AND claimed_at < ?)
			ORDER BY next_attempt, id LIMIT `+fmt.Sprint(limit)+lock,
			[]any{string(store.OutboxPending), ms(at), string(store.OutboxSending), ms(at.Add(-lease))}, func(r Rows) error {
				o, err := scanOutbox(r)
				out = append(out, o)
				return err
			})
		if err != nil {
			return err
		}
		for i := range out {
			out[i].State, out[i].ClaimedAt = store.OutboxSending, at
			if _, err := tx.Exec(ctx, `UPDATE outbox SET state = ?, claimed_at = ? WHERE id = ?`,
				string(store.OutboxSending), ms(at), out[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("claim outbox", err)
	}
	return out, nil
}

// MoveOutbox implements store.Store.
func (s *Store) MoveOutbox(ctx context.Context, id int64, from store.OutboxState, u store.OutboxUpdate) error {
	n, err := s.db.Exec(ctx, `UPDATE outbox SET state = ?, attempts = ?, next_attempt = ?, error = ?, sent_at = ?
		WHERE id = ? AND state = ?`, string(u.State), u.Attempts, ms(u.NextAttempt), u.Error, ms(u.SentAt), id, string(from))
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: outbox %d is not %s", store.ErrStale, id, from)
	}
	return wrap("move outbox", err)
}

// Outbox implements store.Store.
func (s *Store) Outbox(ctx context.Context, f store.OutboxFilter) ([]store.OutboxItem, error) {
	q, args := `SELECT `+outboxColumns+` FROM outbox WHERE 1 = 1`, []any(nil)
	if f.ID != 0 {
		q, args = q+` AND id = ?`, append(args, f.ID)
	}
	if f.Notice != 0 {
		q, args = q+` AND notice = ?`, append(args, f.Notice)
	}
	if f.Subscription != 0 {
		q, args = q+` AND subscription = ?`, append(args, f.Subscription)
	}
	if f.Alarm != 0 {
		q, args = q+` AND alarm = ?`, append(args, f.Alarm)
	}
	if f.State != "" {
		q, args = q+` AND state = ?`, append(args, string(f.State))
	}
	var out []store.OutboxItem
	err := each(ctx, s.db, q+` ORDER BY id`, args, func(r Rows) error {
		o, err := scanOutbox(r)
		out = append(out, o)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return out, wrap("outbox", err)
}
