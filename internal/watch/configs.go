package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/config/change"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/workday"
)

// Configs keeps the versions of sites' automation_config.xml (чл. 25–26).
type Configs struct {
	st       store.Store
	clock    Clock
	calendar *workday.Calendar
}

// NewConfigs gives the configuration versions over st (clock nil: the wall clock; calendar nil:
// workday.Bulgaria()).
func NewConfigs(st store.Store, clock Clock, cal *workday.Calendar) *Configs {
	if clock == nil {
		clock = SystemClock{}
	}
	if cal == nil {
		cal = workday.Bulgaria()
	}
	return &Configs{st: st, clock: clock, calendar: cal}
}

// UploadOptions are what a person says with an upload.
type UploadOptions struct {
	// FirstUse, if set, is the day the added product codes are first used: the notice's due date is then
	// the last working day it may be given (чл. 26(3)).
	FirstUse workday.Date
}

// Upload checks an uploaded automation_config.xml for the site and stores it as the site's next version,
// accepted or refused with the reasons. It is refused when the file does not load (every finding with
// its line and column), when its control points belong to another site, or when it breaks a change rule
// of чл. 26 against the site's whole history of accepted versions (a kept tag moved, a removed tag's
// address reused). An accepted version that adds or removes product codes gets its notices, with the
// due dates of чл. 26(3)–(4) in working days. A closed site takes no upload (ErrRefused, nothing stored);
// an upload that is not a configuration at all is stored as refused, so that the attempt is on record.
func (c *Configs) Upload(ctx context.Context, a Actor, warehouse, name string, data []byte, opt UploadOptions) (store.ConfigVersion, error) {
	s, err := site(ctx, c.st, a, warehouse)
	if err != nil {
		return store.ConfigVersion{}, err
	}
	if a.Role != store.RoleOperator && a.Role != store.RoleOfficer && a.Role != store.RoleAdmin {
		return store.ConfigVersion{}, refuse(ErrForbidden, "watch.actor.no_scope")
	}
	if s.State == store.SiteClosed {
		return store.ConfigVersion{}, refuse(ErrRefused, "watch.config.site_closed", warehouse)
	}
	if len(data) == 0 {
		return store.ConfigVersion{}, refuse(ErrInvalid, "watch.config.empty")
	}
	if len(data) > config.MaxFileSize {
		return store.ConfigVersion{}, refuse(ErrInvalid, "watch.config.too_large", config.MaxFileSize)
	}
	now := c.clock.Now()
	v := store.ConfigVersion{Site: warehouse, File: data, UploadedBy: a.Who, UploadedAt: now, Verdict: store.ConfigAccepted}
	cfg, diags := config.Parse(name, data)
	for _, d := range diags {
		if d.Severity == config.SeverityError {
			v.Reasons = append(v.Reasons, reason(store.ConfigReason{Kind: "invalid:" + d.Rule, Refused: true}, func(p *i18n.Printer) string {
				return d.Format(p)
			}))
		}
	}
	if cfg != nil {
		if id := cfg.Site.ID(); id != warehouse {
			v.Reasons = append(v.Reasons, reasonMsg(store.ConfigReason{Kind: "other-site", Refused: true},
				i18n.M("watch.config.other_site", name, id, warehouse)))
		}
	}
	if cfg != nil && !refused(v.Reasons) {
		if err := c.compare(ctx, &v, name, cfg, opt, now); err != nil {
			return store.ConfigVersion{}, err
		}
	}
	if refused(v.Reasons) {
		v.Verdict, v.Notices = store.ConfigRefused, nil
	}
	got, err := c.st.AddConfigVersion(ctx, v)
	if err != nil {
		return got, fmt.Errorf("watch: %w", err)
	}
	return got, nil
}

// compare applies the change rules against the latest accepted version and every accepted one before it.
func (c *Configs) compare(ctx context.Context, v *store.ConfigVersion, name string, cfg *config.Config, opt UploadOptions,
	now time.Time) error {
	versions, err := c.st.ConfigVersions(ctx, v.Site)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	var history []*change.Version
	for _, h := range versions {
		if h.Verdict != store.ConfigAccepted {
			continue
		}
		full, err := c.st.ConfigVersion(ctx, v.Site, h.Version)
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		file := fmt.Sprintf("v%d", h.Version)
		old, diags := config.Parse(file, full.File)
		if old == nil {
			// An accepted version the validator no longer takes cannot be compared with: its addresses are
			// still the history, so the new version is refused until someone looks (docs/watching.md).
			v.Reasons = append(v.Reasons, reasonMsg(store.ConfigReason{Kind: "history-unreadable", Refused: true},
				i18n.M("watch.config.history_unreadable", h.Version, len(diags))))
			return nil
		}
		history = append(history, change.FromConfig(file, old))
	}
	if len(history) == 0 {
		return nil // the first version: nothing to keep addresses with
	}
	next := change.FromConfig(name, cfg)
	r := change.Compare(history[len(history)-1], next, history, change.Options{Date: workday.Of(now), FirstUse: opt.FirstUse,
		Calendar: c.calendar})
	for _, f := range r.Findings {
		cr := store.ConfigReason{Kind: string(f.Kind), Refused: f.Refused, Late: f.Late}
		if f.Tag != nil {
			cr.Tag, cr.Point = f.Tag.Name, f.Tag.Point
		}
		if f.Product != nil {
			cr.Point, cr.Product = f.Product.Point, f.Product.Code
		}
		var n *store.ProductNotice
		switch f.Kind {
		case change.ProductAdded:
			due := workday.Of(now) // notice today, first use from f.EarliestUse
			if !f.NoticeBy.IsZero() {
				due = f.NoticeBy
			}
			cr.Due = due.String()
			n = &store.ProductNotice{Point: f.Product.Point, Product: f.Product.Code, Change: "added", Due: cr.Due}
		case change.ProductRemoved:
			cr.Due = f.Deadline.String()
			n = &store.ProductNotice{Point: f.Product.Point, Product: f.Product.Code, Change: "removed", Due: cr.Due}
		}
		if n != nil {
			v.Notices = append(v.Notices, *n)
		}
		v.Reasons = append(v.Reasons, reason(cr, func(p *i18n.Printer) string { return config.Text(p, f.Msg) }))
	}
	return nil
}

func refused(rs []store.ConfigReason) bool {
	for _, r := range rs {
		if r.Refused {
			return true
		}
	}
	return false
}

// reason renders a finding in both languages: it is kept as it was said when the version was checked.
func reason(r store.ConfigReason, text func(p *i18n.Printer) string) store.ConfigReason {
	r.Text = map[string]string{string(i18n.BG): text(i18n.For(i18n.BG)), string(i18n.EN): text(i18n.For(i18n.EN))}
	return r
}

func reasonMsg(r store.ConfigReason, m i18n.Message) store.ConfigReason {
	return reason(r, func(p *i18n.Printer) string { return p.Msg(m) })
}

// Versions gives the site's configuration versions, oldest first, if the actor sees the site.
func (c *Configs) Versions(ctx context.Context, a Actor, warehouse string) ([]store.ConfigVersion, error) {
	if _, err := site(ctx, c.st, a, warehouse); err != nil {
		return nil, err
	}
	vs, err := c.st.ConfigVersions(ctx, warehouse)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return vs, nil
}

// GiveNotice records that the product-code notice id was given (an officer or an admin records it).
func (c *Configs) GiveNotice(ctx context.Context, a Actor, id int64) (store.ProductNotice, error) {
	if a.Role != store.RoleOfficer && a.Role != store.RoleAdmin {
		return store.ProductNotice{}, refuse(ErrForbidden, "watch.notice.officer_only")
	}
	n, err := c.st.ProductNotice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return n, refuse(ErrNotFound, "watch.notice.not_found", id)
	}
	if err != nil {
		return n, fmt.Errorf("watch: give notice %d: %w", id, err)
	}
	if _, err := site(ctx, c.st, a, n.Site); errors.Is(err, ErrNotFound) {
		// Another office's notice is not found, as its site is not: nothing tells which ids exist.
		return store.ProductNotice{}, refuse(ErrNotFound, "watch.notice.not_found", id)
	} else if err != nil {
		return store.ProductNotice{}, fmt.Errorf("watch: give notice %d: %w", id, err)
	}
	got, err := c.st.GiveProductNotice(ctx, id, a.Who, c.clock.Now())
	if errors.Is(err, store.ErrInvalid) {
		return got, refuse(ErrRefused, "watch.notice.given_already", id)
	}
	if err != nil {
		return got, fmt.Errorf("watch: give notice %d: %w", id, err)
	}
	return got, nil
}
