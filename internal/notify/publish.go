package notify

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Limits of a publication.
const (
	maxTitle = 200
	maxText  = 20000
	// MaxFile is the largest attachment: e-mail systems commonly refuse messages over 10-25 MB, and a
	// base64 attachment grows by a third.
	MaxFile = 10 << 20
)

// Author is the author of the notices the server publishes itself (unplanned unavailability).
const Author = "akciz"

// Publication is what an administrator publishes: a new notice (Notice 0) or a new revision of one. In a
// revision, the fields left empty keep the previous revision's values, so that a cancellation needs
// only its action and, if wished, a word of why.
type Publication struct {
	Notice   int64            `json:"notice,omitempty"`
	System   string           `json:"system,omitempty"`
	Kind     store.NoticeKind `json:"kind,omitempty"`
	Action   store.Action     `json:"action,omitempty"`
	Title    string           `json:"title,omitempty"`
	Text     string           `json:"text,omitempty"`
	TitleEN  string           `json:"title_en,omitempty"`
	TextEN   string           `json:"text_en,omitempty"`
	Link     string           `json:"link,omitempty"`
	Planned  bool             `json:"planned,omitempty"`
	Start    time.Time        `json:"start,omitzero"`
	End      time.Time        `json:"end,omitzero"`
	CodeList string           `json:"code_list,omitempty"`
	Version  string           `json:"version,omitempty"`
	EUCommon bool             `json:"eu_common,omitempty"`
	FileName string           `json:"file_name,omitempty"`
	FileType string           `json:"file_type,omitempty"`
	File     []byte           `json:"file,omitempty"`
}

// Publish checks p and stores it as a notice or a revision, with one outbox row per (revision,
// subscription) for the subscribers who follow the notice's event, and, for a planned window, the
// reminders; a later revision cancels the reminders of the earlier ones. Nomenclature updates that are
// not common to the EU are stored (and shown on the portal and in the feed) but sent to nobody (the
// FAQ). A refusal is Errors.
func (s *Service) Publish(ctx context.Context, author string, p Publication) (store.Notice, error) {
	now := s.now()
	rev := store.Revision{Author: author, Published: now}
	var prev *store.Revision
	if p.Notice != 0 {
		n, err := s.s.Notice(ctx, p.Notice)
		if err != nil {
			return store.Notice{}, fmt.Errorf("notify: publish: %w", err)
		}
		prev = n.Latest()
		rev = *prev
		rev.Rev, rev.Author, rev.Published, rev.Action = prev.Rev+1, author, now, p.Action
		inherit(&rev, &p)
	} else {
		rev.Rev, rev.System, rev.Kind, rev.Action = 1, p.System, p.Kind, p.Action
		if rev.Action == "" {
			rev.Action = store.ActionPublish
		}
		inherit(&rev, &p)
	}
	if rev.Action == store.ActionEnd && p.End.IsZero() {
		rev.End = now // the unavailability is over now unless the administrator says when
	}
	var systems []store.InfoSystem
	if p.Notice == 0 {
		if sys, err := s.s.System(ctx, rev.System); err == nil {
			systems = append(systems, sys)
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Notice{}, fmt.Errorf("notify: publish: %w", err)
		}
	}
	if errs := checkRevision(&rev, prev, systems, now); len(errs) > 0 {
		return store.Notice{}, errs
	}
	err := s.s.Publish(ctx, &rev, func(n store.Notice, subs []store.Subscription, hooks []store.Webhook) []store.OutboxItem {
		return s.plan(&rev, subs, hooks, now)
	})
	if err != nil {
		return store.Notice{}, fmt.Errorf("notify: publish: %w", err)
	}
	s.queued()
	return s.s.Notice(ctx, rev.Notice)
}

// inherit copies into r the fields p gives.
func inherit(r *store.Revision, p *Publication) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.Title, p.Title)
	set(&r.Text, p.Text)
	set(&r.TitleEN, p.TitleEN)
	set(&r.TextEN, p.TextEN)
	set(&r.Link, p.Link)
	set(&r.CodeList, p.CodeList)
	set(&r.Version, p.Version)
	if r.Rev == 1 {
		r.Planned, r.EUCommon = p.Planned, p.EUCommon
	} else if p.EUCommon {
		r.EUCommon = true
	}
	if !p.Start.IsZero() {
		r.Start = p.Start.UTC()
	}
	if !p.End.IsZero() {
		r.End = p.End.UTC()
	}
	if p.File != nil {
		r.File, r.FileName, r.FileType = p.File, path.Base(strings.ReplaceAll(p.FileName, `\`, "/")), p.FileType
		if r.FileType == "" {
			r.FileType = "application/octet-stream"
		}
	}
}

// checkRevision applies the rules of a notice's revision (docs/notices.md, "Publishing").
func checkRevision(r *store.Revision, prev *store.Revision, systems []store.InfoSystem, now time.Time) Errors {
	var errs Errors
	add := func(field, key string, args ...any) { errs = append(errs, FieldError{field, i18n.M(key, args...)}) }
	if prev == nil {
		if !r.Kind.Event().Valid() {
			add("kind", "notify.field.kind")
			return errs
		}
		if !has(systems, r.System) {
			add("system", "notify.field.system_unknown", r.System)
		}
		if r.Action != store.ActionPublish {
			add("action", "notify.field.action_first")
		}
	} else {
		if prev.Action == store.ActionCancel || prev.Action == store.ActionEnd {
			add("action", "notify.field.action_closed")
		}
		allowed := []store.Action{store.ActionUpdate}
		if r.Kind == store.NoticeOperability {
			allowed = []store.Action{store.ActionChange, store.ActionCancel, store.ActionEnd}
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == r.Action
		}
		if !ok {
			add("action", "notify.field.action", string(r.Action), string(r.Kind))
		}
		if r.Action == store.ActionCancel && !r.Planned {
			add("action", "notify.field.cancel_unplanned")
		}
	}
	text := func(field, v string, limit int, required bool) {
		switch {
		case required && strings.TrimSpace(v) == "":
			add(field, "notify.field.required")
		case utf8.RuneCountInString(v) > limit:
			add(field, "notify.field.too_long", limit)
		case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			add(field, "notify.field.bad_chars")
		}
	}
	text("title", r.Title, maxTitle, true)
	if strings.ContainsAny(r.Title+r.TitleEN, "\r\n") {
		add("title", "notify.field.bad_chars")
	}
	text("text", r.Text, maxText, true)
	text("title_en", r.TitleEN, maxTitle, false)
	text("text_en", r.TextEN, maxText, false)
	if r.Link != "" && !strings.HasPrefix(r.Link, "https://") && !strings.HasPrefix(r.Link, "http://") {
		add("link", "notify.field.link")
	}
	if len(r.File) > MaxFile {
		add("file", "notify.field.file_too_big", MaxFile>>20)
	}
	if r.File != nil && (r.FileName == "" || r.FileName == "." || r.FileName == "/" || strings.ContainsAny(r.FileName, "\r\n\"\x00")) {
		add("file_name", "notify.field.file_name")
	}
	switch r.Kind {
	case store.NoticeOperability:
		if r.File != nil {
			add("file", "notify.field.file_operability")
		}
		if r.Start.IsZero() {
			add("start", "notify.field.start_required")
		}
		if r.Planned && r.End.IsZero() {
			add("end", "notify.field.end_required")
		}
		if !r.End.IsZero() && !r.Start.IsZero() && !r.End.After(r.Start) {
			add("end", "notify.field.end_before_start")
		}
		if r.Planned && r.Action == store.ActionPublish && !r.Start.IsZero() && r.Start.Before(now) {
			add("start", "notify.field.start_past")
		}
	case store.NoticeNomenclature:
		text("code_list", r.CodeList, 64, true)
		text("version", r.Version, 64, true)
	case store.NoticeDocument:
		if r.File == nil && r.Link == "" {
			add("file", "notify.field.document_file")
		}
	}
	return errs
}

// plan gives the outbox rows of revision r for the subscriptions and the webhooks that follow its event.
func (s *Service) plan(r *store.Revision, subs []store.Subscription, hooks []store.Webhook, now time.Time) []store.OutboxItem {
	if r.Kind == store.NoticeNomenclature && !r.EUCommon {
		return nil // the FAQ: only EU-common nomenclature updates are sent
	}
	var out []store.OutboxItem
	for _, h := range hooks {
		out = append(out, store.OutboxItem{Key: fmt.Sprintf("%s.w%d", revKey(r), h.ID), Kind: store.OutboxWebhook,
			Webhook: h.ID, NextAttempt: now, Created: now})
	}
	for _, sub := range subs {
		key := fmt.Sprintf("%s.s%d", revKey(r), sub.ID)
		out = append(out, store.OutboxItem{Key: key, Kind: store.OutboxNotice, Subscription: sub.ID, NextAttempt: now, Created: now})
		if r.Kind != store.NoticeOperability || !r.Planned || (r.Action != store.ActionPublish && r.Action != store.ActionChange) {
			continue
		}
		for _, before := range s.cfg.Reminders {
			at := r.Start.Add(-before)
			if !at.After(now) {
				continue // too late for this reminder: the notice itself says as much
			}
			out = append(out, store.OutboxItem{Key: fmt.Sprintf("%s.m%d", key, int64(before/time.Minute)), Kind: store.OutboxReminder,
				Subscription: sub.ID, NextAttempt: at, Created: now})
		}
	}
	return out
}

// revKey names a revision in outbox keys, and so in Message-IDs: the notice, the revision and the time
// it was published (base 36 milliseconds), so that a database started afresh never repeats a Message-ID
// that receivers have seen (some drop a message whose Message-ID they know).
func revKey(r *store.Revision) string {
	return fmt.Sprintf("n%d.r%d.%s", r.Notice, r.Rev, strconv.FormatInt(r.Published.UnixMilli(), 36))
}

// ScheduleMaintenance publishes a planned unavailability of system from start to end: what akciz server
// does when an administrator schedules maintenance.
func (s *Service) ScheduleMaintenance(ctx context.Context, author, system string, start, end time.Time, title, text string) (store.Notice, error) {
	return s.Publish(ctx, author, Publication{System: system, Kind: store.NoticeOperability, Planned: true,
		Start: start, End: end, Title: title, Text: text})
}

// RaiseUnavailable publishes an unplanned unavailability of system since the given time, in both
// languages from the catalogue, unless one the server raised is still open: then it gives that one and
// false. akciz server calls it when its intake is down (docs/notices.md: "Raised by the server").
func (s *Service) RaiseUnavailable(ctx context.Context, system string, since time.Time, detail string) (store.Notice, bool, error) {
	if n, ok, err := s.openUnplanned(ctx, system); err != nil || ok {
		return n, false, err
	}
	sys, err := s.s.System(ctx, system)
	if err != nil {
		return store.Notice{}, false, fmt.Errorf("notify: raise unavailable: %w", err)
	}
	bg, en := i18n.For(i18n.BG), i18n.For(i18n.EN)
	p := Publication{System: system, Kind: store.NoticeOperability, Start: since,
		Title:   bg.T("notify.unavailable.title", sys.Name),
		Text:    bg.T("notify.unavailable.text", sys.Name, FormatTime(bg, since), detail),
		TitleEN: en.T("notify.unavailable.title", nameIn(sys, i18n.EN)),
		TextEN:  en.T("notify.unavailable.text", nameIn(sys, i18n.EN), FormatTime(en, since), detail)}
	n, err := s.Publish(ctx, Author, p)
	return n, err == nil, err
}

// EndUnavailable ends the open unplanned unavailability the server raised for system, if any, at the
// given time; ok is false when none was open.
func (s *Service) EndUnavailable(ctx context.Context, system string, at time.Time) (n store.Notice, ok bool, err error) {
	open, ok, err := s.openUnplanned(ctx, system)
	if err != nil || !ok {
		return open, false, err
	}
	n, err = s.Publish(ctx, Author, Publication{Notice: open.ID, Action: store.ActionEnd, End: at})
	return n, err == nil, err
}

func (s *Service) openUnplanned(ctx context.Context, system string) (store.Notice, bool, error) {
	ns, err := s.s.Notices(ctx, store.NoticeFilter{System: system, Kind: store.NoticeOperability, Limit: 50})
	if err != nil {
		return store.Notice{}, false, fmt.Errorf("notify: %w", err)
	}
	for _, n := range ns {
		r := n.Latest()
		if !r.Planned && n.Revisions[0].Author == Author && r.Action != store.ActionEnd && r.Action != store.ActionCancel {
			return n, true, nil
		}
	}
	return store.Notice{}, false, nil
}

func nameIn(sys store.InfoSystem, l i18n.Lang) string {
	if l == i18n.EN && sys.NameEN != "" {
		return sys.NameEN
	}
	return sys.Name
}

// FormatTime gives t as people read it: in Europe/Sofia, with the zone named (EET or EEST and the offset
// from UTC), so that nobody has to guess which time is meant.
func FormatTime(p *i18n.Printer, t time.Time) string {
	lt := t.In(Sofia)
	zone, _ := lt.Zone()
	return p.T("notify.time", lt.Format("02.01.2006 15:04"), zone, lt.Format("-07:00"))
}
