package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// testNotices checks the Notices part of store.Store: the catalogue and grants, subscriptions (one per
// user and system, tokens, quarantine), publishing with its fan-out in one transaction, reminders
// cancelled by a later revision, and the outbox's claims, leases and state transitions.
func testNotices(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := eik(t, 0)
	must(t, s.PutOperator(ctx, store.Operator{EIK: op, Name: "Нефт АД"}))

	// The catalogue and who may follow what.
	if err := s.PutSystem(ctx, store.InfoSystem{Code: "bad code", Name: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("put system with a bad code: %v, want ErrInvalid", err)
	}
	must(t, s.PutSystem(ctx, store.InfoSystem{Code: "BACIS", Name: "БАЦИС", NameEN: "BACIS"}))
	must(t, s.PutSystem(ctx, store.InfoSystem{Code: "EMCS", Name: "ЕМДС"}))
	must(t, s.PutSystem(ctx, store.InfoSystem{Code: "EMCS", Name: "Акцизна система"}))
	if sys, err := s.System(ctx, "EMCS"); err != nil || sys.Name != "Акцизна система" {
		t.Errorf("system after rename: %+v, %v", sys, err)
	}
	if _, err := s.System(ctx, "NONE"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown system: %v, want ErrNotFound", err)
	}
	cert := store.Hash{1, 2, 3}
	must(t, s.GrantSystem(ctx, store.SystemGrant{System: "BACIS", EIK: op}))
	must(t, s.GrantSystem(ctx, store.SystemGrant{System: "BACIS", EIK: op})) // twice is once
	must(t, s.GrantSystem(ctx, store.SystemGrant{System: "EMCS", Certificate: cert}))
	if err := s.GrantSystem(ctx, store.SystemGrant{System: "EMCS", EIK: op, Certificate: cert}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("grant to both an EIK and a certificate: %v, want ErrInvalid", err)
	}
	if err := s.GrantSystem(ctx, store.SystemGrant{System: "NONE", EIK: op}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("grant of an unknown system: %v, want ErrNotFound", err)
	}
	codes := func(l []store.InfoSystem) string {
		out := ""
		for _, s := range l {
			out += s.Code + " "
		}
		return out
	}
	if l, err := s.SystemsFor(ctx, op, store.Hash{}); err != nil || codes(l) != "BACIS " {
		t.Errorf("systems for the EIK: %q, %v", codes(l), err)
	}
	if l, err := s.SystemsFor(ctx, op, cert); err != nil || codes(l) != "BACIS EMCS " {
		t.Errorf("systems for the EIK and the certificate: %q, %v", codes(l), err)
	}
	if l, err := s.SystemsFor(ctx, eik(t, 1), store.Hash{9}); err != nil || len(l) != 0 {
		t.Errorf("systems for a stranger: %q, %v", codes(l), err)
	}
	if g, err := s.Grants(ctx, ""); err != nil || len(g) != 2 || g[1].Certificate != cert {
		t.Errorf("grants: %+v, %v", g, err)
	}
	must(t, s.RevokeSystem(ctx, store.SystemGrant{System: "EMCS", Certificate: cert}))
	if err := s.RevokeSystem(ctx, store.SystemGrant{System: "EMCS", Certificate: cert}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke twice: %v, want ErrNotFound", err)
	}

	// Subscriptions.
	newSub := func(user, system, email string, events ...store.EventKind) *store.Subscription {
		return &store.Subscription{User: user, EIK: op, System: system, FirstName: "Иван", LastName: "Петров",
			Email: email, Lang: "bg", Events: events, Delivery: store.DeliveryEmail, Active: true, Confirmed: true,
			Unsubscribe: "u-" + user + "-" + system, Created: t0, Updated: t0}
	}
	a := newSub("alice", "BACIS", "alice@example.bg", store.EventDocuments, store.EventOperability)
	must(t, s.PutSubscription(ctx, a, nil))
	if a.ID == 0 {
		t.Fatal("PutSubscription gave no id")
	}
	if err := s.PutSubscription(ctx, newSub("alice", "BACIS", "other@example.bg", store.EventDocuments), nil); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("second subscription of a user to one system: %v, want ErrDuplicate", err)
	}
	bad := newSub("alice", "EMCS", "alice@example.bg", store.EventOperability)
	bad.Delivery = store.DeliveryAttachment
	if err := s.PutSubscription(ctx, bad, nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("attachment with operability: %v, want ErrInvalid", err)
	}
	b := newSub("bob", "BACIS", "Bob@Example.bg", store.EventDocuments)
	b.Delivery = store.DeliveryAttachment
	must(t, s.PutSubscription(ctx, b, nil))
	c := newSub("carol", "BACIS", "carol@example.bg", store.EventOperability, store.EventNomenclatures)
	c.Confirmed, c.Token = false, "tok-carol"
	confirm := &store.OutboxItem{Key: "confirm.carol", Kind: store.OutboxConfirm, NextAttempt: t0, Created: t0}
	must(t, s.PutSubscription(ctx, c, confirm))
	if confirm.ID == 0 || confirm.Subscription != c.ID {
		t.Errorf("confirmation row: %+v", confirm)
	}
	d := newSub("alice", "EMCS", "alice@example.bg", store.EventOperability)
	must(t, s.PutSubscription(ctx, d, nil))
	if got, err := s.Subscription(ctx, b.ID); err != nil || got.Delivery != store.DeliveryAttachment || got.Email != "Bob@Example.bg" ||
		len(got.Events) != 1 || !got.Active || !got.Created.Equal(t0) {
		t.Errorf("subscription read back: %+v, %v", got, err)
	}
	if got, err := s.SubscriptionByToken(ctx, "tok-carol"); err != nil || got.ID != c.ID {
		t.Errorf("by confirmation token: %+v, %v", got, err)
	}
	if got, err := s.SubscriptionByToken(ctx, b.Unsubscribe); err != nil || got.ID != b.ID {
		t.Errorf("by unsubscribe token: %+v, %v", got, err)
	}
	if _, err := s.SubscriptionByToken(ctx, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("by empty token: %v, want ErrNotFound", err)
	}
	if l, err := s.Subscriptions(ctx, store.SubscriptionFilter{User: "alice"}); err != nil || len(l) != 2 {
		t.Errorf("alice's subscriptions: %d, %v", len(l), err)
	}
	if l, err := s.Subscriptions(ctx, store.SubscriptionFilter{System: "BACIS", Active: true}); err != nil || len(l) != 2 {
		t.Errorf("active BACIS subscriptions (carol is unconfirmed): %d, %v", len(l), err)
	}
	// Edit: deactivate and reactivate; an update of a missing id is ErrNotFound.
	a.Active = false
	must(t, s.PutSubscription(ctx, a, nil))
	if got, _ := s.Subscription(ctx, a.ID); got.Active {
		t.Error("deactivated subscription reads active")
	}
	a.Active = true
	must(t, s.PutSubscription(ctx, a, nil))
	ghost := newSub("ghost", "BACIS", "g@example.bg", store.EventDocuments)
	ghost.ID = 99999
	if err := s.PutSubscription(ctx, ghost, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing subscription: %v, want ErrNotFound", err)
	}

	// Webhooks: https only; an inactive one or one of other events gets nothing.
	if err := s.PutWebhook(ctx, &store.Webhook{User: "alice", System: "BACIS", URL: "http://ops.example/hook", Secret: "0123456789abcdef",
		Events: []store.EventKind{store.EventOperability}, Active: true}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("webhook over http: %v, want ErrInvalid", err)
	}
	hook := &store.Webhook{User: "alice", EIK: op, System: "BACIS", URL: "https://ops.example/hook", Secret: "0123456789abcdef",
		Events: []store.EventKind{store.EventOperability}, Active: true, Created: t0}
	must(t, s.PutWebhook(ctx, hook))
	idle := &store.Webhook{User: "bob", System: "BACIS", URL: "https://b.example/h", Secret: "0123456789abcdef",
		Events: []store.EventKind{store.EventOperability}, Created: t0}
	must(t, s.PutWebhook(ctx, idle))
	if w, err := s.Webhook(ctx, hook.ID); err != nil || w.URL != hook.URL || !w.Active || len(w.Events) != 1 || !w.Created.Equal(t0) {
		t.Errorf("webhook read back: %+v, %v", w, err)
	}
	if l, err := s.Webhooks(ctx, store.WebhookFilter{System: "BACIS", Active: true}); err != nil || len(l) != 1 {
		t.Errorf("active webhooks: %+v, %v", l, err)
	}
	if l, err := s.Webhooks(ctx, store.WebhookFilter{User: "bob"}); err != nil || len(l) != 1 || l[0].ID != idle.ID {
		t.Errorf("bob's webhooks: %+v, %v", l, err)
	}

	// Publishing fans out in one transaction to the matching, active, confirmed subscriptions.
	var planned []int64
	var hooked []int64
	plan := func(n store.Notice, subs []store.Subscription, hooks []store.Webhook) []store.OutboxItem {
		planned, hooked = planned[:0], hooked[:0]
		var out []store.OutboxItem
		r := n.Latest()
		for _, h := range hooks {
			hooked = append(hooked, h.ID)
			out = append(out, store.OutboxItem{Key: fmt.Sprintf("n%d.r%d.w%d", n.ID, r.Rev, h.ID), Kind: store.OutboxWebhook,
				Webhook: h.ID, NextAttempt: r.Published, Created: r.Published})
		}
		for _, sub := range subs {
			planned = append(planned, sub.ID)
			out = append(out, store.OutboxItem{Key: fmt.Sprintf("n%d.r%d.s%d", n.ID, r.Rev, sub.ID), Kind: store.OutboxNotice,
				Subscription: sub.ID, NextAttempt: r.Published, Created: r.Published})
			if r.Planned && r.Action != store.ActionCancel {
				out = append(out, store.OutboxItem{Key: fmt.Sprintf("n%d.r%d.s%d.remind", n.ID, r.Rev, sub.ID), Kind: store.OutboxReminder,
					Subscription: sub.ID, NextAttempt: r.Start.Add(-time.Hour), Created: r.Published})
			}
		}
		return out
	}
	win := t0.Add(48 * time.Hour)
	op1 := &store.Revision{Rev: 1, System: "BACIS", Kind: store.NoticeOperability, Action: store.ActionPublish,
		Title: "Планирано прекъсване", Text: "Профилактика", Planned: true, Start: win, End: win.Add(2 * time.Hour),
		Author: "admin", Published: t0}
	must(t, s.Publish(ctx, op1, plan))
	if op1.Notice == 0 || len(planned) != 1 || planned[0] != a.ID {
		t.Errorf("operability notice %d planned for %v, want only alice's %d (bob follows documents, carol is unconfirmed)", op1.Notice, planned, a.ID)
	}
	if len(hooked) != 1 || hooked[0] != hook.ID {
		t.Errorf("operability notice to webhooks %v, want only the active one %d", hooked, hook.ID)
	}
	if rows := mustOutbox(t, s, store.OutboxFilter{Notice: op1.Notice}); len(rows) != 3 || rows[0].Kind != store.OutboxWebhook || rows[0].Webhook != hook.ID || rows[0].Subscription != 0 {
		t.Errorf("outbox of the operability notice: %+v", rows)
	} else {
		// Out of the way of the counts below: the webhook's row is cancelled and the webhook deactivated.
		must(t, s.MoveOutbox(ctx, rows[0].ID, store.OutboxPending, store.OutboxUpdate{State: store.OutboxCancelled}))
	}
	hook.Active = false
	must(t, s.PutWebhook(ctx, hook))
	doc := &store.Revision{Rev: 1, System: "BACIS", Kind: store.NoticeDocument, Action: store.ActionPublish,
		Title: "Ръководство", Text: "Нова версия", FileName: "guide.pdf", FileType: "application/pdf", File: []byte("%PDF-1.7"),
		Published: t0.Add(time.Minute)}
	must(t, s.Publish(ctx, doc, plan))
	if len(planned) != 2 {
		t.Errorf("document planned for %v, want alice and bob", planned)
	}
	if err := s.Publish(ctx, &store.Revision{Rev: 1, System: "NONE", Kind: store.NoticeDocument, Published: t0}, plan); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("publish to an unknown system: %v, want ErrNotFound", err)
	}
	stale := *op1
	stale.Rev = 3
	if err := s.Publish(ctx, &stale, plan); !errors.Is(err, store.ErrStale) {
		t.Errorf("publish revision 3 after 1: %v, want ErrStale", err)
	}
	wrongKind := *op1
	wrongKind.Rev, wrongKind.Kind = 2, store.NoticeDocument
	if err := s.Publish(ctx, &wrongKind, plan); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("publish a document revision of an operability notice: %v, want ErrInvalid", err)
	}
	if n, err := s.Notice(ctx, doc.Notice); err != nil || len(n.Revisions) != 1 || string(n.Revisions[0].File) != "%PDF-1.7" ||
		n.Revisions[0].FileName != "guide.pdf" || !n.Revisions[0].Published.Equal(doc.Published) {
		t.Errorf("document read back: %+v, %v", n, err)
	}
	// A change cancels the pending reminders of the first revision and plans its own.
	op2 := *op1
	op2.Rev, op2.Action, op2.Start, op2.Published = 2, store.ActionChange, win.Add(time.Hour), t0.Add(2*time.Minute)
	must(t, s.Publish(ctx, &op2, plan))
	rows, err := s.Outbox(ctx, store.OutboxFilter{Notice: op1.Notice})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]store.OutboxState{}
	for _, r := range rows {
		states[r.Key] = r.State
	}
	k := func(rev int, suffix string) string {
		return fmt.Sprintf("n%d.r%d.s%d%s", op1.Notice, rev, a.ID, suffix)
	}
	if states[k(1, ".remind")] != store.OutboxCancelled || states[k(2, ".remind")] != store.OutboxPending ||
		states[k(1, "")] != store.OutboxPending || states[k(2, "")] != store.OutboxPending {
		t.Errorf("outbox of the operability notice after a change: %v", states)
	}
	if l, err := s.Notices(ctx, store.NoticeFilter{System: "BACIS"}); err != nil || len(l) != 2 || l[0].ID != op1.Notice || len(l[0].Revisions) != 2 {
		t.Errorf("notices newest first: %+v, %v", l, err)
	}
	if l, err := s.Notices(ctx, store.NoticeFilter{Kind: store.NoticeDocument, Limit: 5}); err != nil || len(l) != 1 {
		t.Errorf("document notices: %d, %v", len(l), err)
	}

	// The outbox: due rows are claimed once; a lease keeps them from another worker until it ends.
	now := t0.Add(3 * time.Minute)
	got, err := s.ClaimOutbox(ctx, now, 5*time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Due: carol's confirmation, op rev 1 and 2 to alice, the document to alice and bob (reminders are later).
	if len(got) != 5 {
		t.Fatalf("claimed %d rows, want 5: %+v", len(got), got)
	}
	for _, o := range got {
		if o.State != store.OutboxSending || !o.ClaimedAt.Equal(now) {
			t.Errorf("claimed row %+v", o)
		}
	}
	if again, err := s.ClaimOutbox(ctx, now.Add(time.Minute), 5*time.Minute, 100); err != nil || len(again) != 0 {
		t.Errorf("claim within the lease: %d rows, %v", len(again), err)
	}
	// sending → unsure → sent for the first; sending → pending (retry) for the second.
	first, second := got[0], got[1]
	must(t, s.MoveOutbox(ctx, first.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxUnsure, Attempts: 1}))
	if err := s.MoveOutbox(ctx, first.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxSent}); !errors.Is(err, store.ErrStale) {
		t.Errorf("move from a state the row is not in: %v, want ErrStale", err)
	}
	must(t, s.MoveOutbox(ctx, first.ID, store.OutboxUnsure, store.OutboxUpdate{State: store.OutboxSent, Attempts: 1, SentAt: now}))
	must(t, s.MoveOutbox(ctx, second.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxPending, Attempts: 1,
		NextAttempt: now.Add(time.Minute), Error: "421 try later"}))
	if l, _ := s.Outbox(ctx, store.OutboxFilter{State: store.OutboxSent}); len(l) != 1 || !l[0].SentAt.Equal(now) || l[0].Attempts != 1 {
		t.Errorf("sent rows: %+v", l)
	}
	// After the lease, the rows left sending (a worker that died) and the retry are claimed again.
	later, err := s.ClaimOutbox(ctx, now.Add(6*time.Minute), 5*time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(later) != 4 {
		t.Errorf("claimed after the lease: %d rows, want 4 (3 left sending and the retry)", len(later))
	}
	for _, o := range later {
		if o.ID == first.ID {
			t.Error("a sent row was claimed again")
		}
		if o.ID == second.ID && (o.Attempts != 1 || o.Error != "421 try later") {
			t.Errorf("retried row: %+v", o)
		}
	}
	// The reminder falls due an hour before the window.
	if r, err := s.ClaimOutbox(ctx, op2.Start.Add(-time.Hour), 100*time.Hour, 100); err != nil || len(r) != 1 || r[0].Key != k(2, ".remind") {
		t.Errorf("reminder claim: %+v, %v", r, err)
	}

	// Quarantine: every subscription of the address, without case; its pending rows are cancelled.
	must(t, s.MoveOutbox(ctx, second.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxPending, Attempts: 1, NextAttempt: now}))
	must(t, s.Quarantine(ctx, "ALICE@example.bg", "550 5.1.1 no such user", now))
	for _, id := range []int64{a.ID, d.ID} {
		if q, _ := s.Subscription(ctx, id); !q.Quarantined.Equal(now) || q.Bounce != "550 5.1.1 no such user" {
			t.Errorf("subscription %d after quarantine: %+v", id, q)
		}
	}
	if q, _ := s.Subscription(ctx, b.ID); !q.Quarantined.IsZero() {
		t.Error("bob's subscription was quarantined with alice's address")
	}
	if l, _ := s.Subscriptions(ctx, store.SubscriptionFilter{System: "BACIS", Active: true}); len(l) != 1 || l[0].ID != b.ID {
		t.Errorf("active after quarantine: %+v", l)
	}
	for _, o := range mustOutbox(t, s, store.OutboxFilter{Subscription: a.ID}) {
		if o.State == store.OutboxPending {
			t.Errorf("row %s still pending after quarantine", o.Key)
		}
	}
	t.Run("OutboxConcurrent", func(t *testing.T) { testOutboxConcurrent(t, s) })
	t.Run("OutboxAlarms", func(t *testing.T) { testOutboxAlarms(t, s) })
}

// testOutboxAlarms: an alarm's change is queued once per (entry, person) whatever the number of reports,
// rows must name exactly their alarm, entry and person, and the worker claims them like any other.
func testOutboxAlarms(t *testing.T, s store.Store) {
	ctx := context.Background()
	pid, err := s.PutPerson(ctx, store.Person{Name: "Мария Иванова", Email: "maria@nca.bg", Role: store.RoleOfficer,
		Office: "BG005800", Created: t0})
	must(t, err)
	at := t0.Add(400 * 24 * time.Hour) // after every other row of the area
	row := func(entry int, person int64) store.OutboxItem {
		return store.OutboxItem{Key: fmt.Sprintf("a9001.e%d.p%d", entry, person), Kind: store.OutboxAlarm, Alarm: 9001,
			Entry: entry, Person: person, NextAttempt: at, Created: at}
	}
	if n, err := s.QueueOutbox(ctx, []store.OutboxItem{row(1, pid), row(2, pid)}); err != nil || n != 2 {
		t.Fatalf("queue two alarm rows: %d, %v", n, err)
	}
	// The same change told twice (a retry of the notifier): nothing more.
	if n, err := s.QueueOutbox(ctx, []store.OutboxItem{row(2, pid), row(1, pid)}); err != nil || n != 0 {
		t.Errorf("queue the same rows again: %d, %v, want 0 added", n, err)
	}
	for _, bad := range []store.OutboxItem{
		{Key: "a9001.x", Kind: store.OutboxAlarm, Alarm: 9001, Entry: 1},                               // no person
		{Key: "a9001.y", Kind: store.OutboxAlarm, Alarm: 9001, Person: pid},                            // no entry
		{Key: "a9001.z", Kind: store.OutboxAlarm, Entry: 1, Person: pid},                               // no alarm
		{Key: "a9001.w", Kind: store.OutboxAlarm, Alarm: 9001, Entry: 1, Person: pid, Subscription: 1}, // two targets
		{Key: "a9001.v", Kind: store.OutboxNotice, Subscription: 1, Notice: 1, Rev: 1},                 // not an alarm row
		{Kind: store.OutboxAlarm, Alarm: 9001, Entry: 1, Person: pid},                                  // no key
	} {
		if _, err := s.QueueOutbox(ctx, []store.OutboxItem{bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("queue %+v: %v, want ErrInvalid", bad, err)
		}
	}
	// A person who does not exist: nothing of the batch is added.
	if _, err := s.QueueOutbox(ctx, []store.OutboxItem{row(3, pid), row(3, pid+1000)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("queue for an unknown person: %v, want ErrNotFound", err)
	}
	rows := mustOutbox(t, s, store.OutboxFilter{Alarm: 9001})
	if len(rows) != 2 || rows[0].Key != "a9001.e1.p"+fmt.Sprint(pid) || rows[0].Entry != 1 || rows[1].Entry != 2 ||
		rows[0].Person != pid || rows[0].Alarm != 9001 || rows[0].Kind != store.OutboxAlarm || rows[0].State != store.OutboxPending ||
		rows[0].Subscription != 0 || rows[0].Notice != 0 || !rows[0].NextAttempt.Equal(at) {
		t.Fatalf("the alarm's rows: %+v", rows)
	}
	// The address of a person is not a subscription's: a quarantine of it cancels no alarm row.
	must(t, s.Quarantine(ctx, "maria@nca.bg", "550 gone", at))
	got, err := s.ClaimOutbox(ctx, at, time.Minute, 100000) // the other rows of the area are due too
	must(t, err)
	claimed := 0
	for _, o := range got {
		if o.Alarm == 9001 {
			claimed++
			must(t, s.MoveOutbox(ctx, o.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxSent, Attempts: 1, SentAt: at}))
		}
	}
	if claimed != 2 {
		t.Errorf("claimed %d alarm rows, want 2", claimed)
	}
	// Told once more after it was sent: still not queued again.
	if n, err := s.QueueOutbox(ctx, []store.OutboxItem{row(1, pid)}); err != nil || n != 0 {
		t.Errorf("queue a sent row again: %d, %v", n, err)
	}
}

// testOutboxConcurrent: workers claiming at once never get the same row.
func testOutboxConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.PutSystem(ctx, store.InfoSystem{Code: "BACIS", Name: "БАЦИС"}))
	sub := &store.Subscription{User: "u", System: "BACIS", FirstName: "И", LastName: "П", Email: "u@example.bg", Lang: "bg",
		Events: []store.EventKind{store.EventDocuments}, Delivery: store.DeliveryEmail, Active: true, Confirmed: true,
		Unsubscribe: "tok-u", Created: t0, Updated: t0}
	must(t, s.PutSubscription(ctx, sub, nil))
	const rows = 200
	for i := range rows {
		rev := &store.Revision{Rev: 1, System: "BACIS", Kind: store.NoticeDocument, Action: store.ActionPublish, Title: "Д",
			Text: "Т", Published: t0}
		must(t, s.Publish(ctx, rev, func(n store.Notice, subs []store.Subscription, _ []store.Webhook) []store.OutboxItem {
			return []store.OutboxItem{{Key: fmt.Sprintf("k%d", i), Kind: store.OutboxNotice, Subscription: subs[0].ID, NextAttempt: t0, Created: t0}}
		}))
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimOutbox(ctx, t0, time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, o := range got {
					seen[o.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != rows {
		t.Errorf("claimed %d distinct rows, want %d", len(seen), rows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
}

func mustOutbox(t *testing.T, s store.Store, f store.OutboxFilter) []store.OutboxItem {
	t.Helper()
	l, err := s.Outbox(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
