package watch_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// Чл. 6, 17–21: draft → approved (officer, чл. 6 т. 4) → testing (operator, once a configuration is
// accepted, чл. 17) → live (officer, after the commissioning, чл. 21) → suspended → closed; every move
// logged with who, when and why, and the wrong ones refused with the reason.
func TestSiteLifecycle_Art6_17_21(t *testing.T) {
	f := newFixture(t, store.SiteDraft)
	l := watch.NewLifecycle(f.st, f.clock)
	refused := func(err, kind error, key string) {
		t.Helper()
		if !errors.Is(err, kind) {
			t.Fatalf("got %v, want %v", err, kind)
		}
		if m, ok := watch.Message(err); !ok || m.Key != key {
			t.Errorf("message %+v, want %s", m, key)
		}
	}
	_, err := l.Move(f.ctx, operator, site, store.SiteApproved, "")
	refused(err, watch.ErrForbidden, "watch.move.not_for_role")
	if m, _ := watch.Message(err); i18n.For(i18n.BG).Msg(m) != "преходът от „проект“ в „одобрен“ не се извършва от задължено лице" {
		t.Errorf("message %q", i18n.For(i18n.BG).Msg(m))
	}
	_, err = l.Move(f.ctx, officer, site, store.SiteLive, "")
	refused(err, watch.ErrRefused, "watch.move.not_allowed")
	_, err = l.Move(f.ctx, stranger, site, store.SiteClosed, "")
	refused(err, watch.ErrNotFound, "watch.site.not_found")

	_, err = l.Move(f.ctx, officer, site, store.SiteApproved, "проект № 12/2026")
	f.must(err)
	_, err = l.Move(f.ctx, operator, site, store.SiteTesting, "")
	refused(err, watch.ErrRefused, "watch.move.needs_config")
	f.accept()
	f.clock.Advance(time.Hour)
	_, err = l.Move(f.ctx, operator, site, store.SiteTesting, "тестове в конфигурационен режим")
	f.must(err)
	_, err = l.Move(f.ctx, officer, site, store.SiteLive, "")
	refused(err, watch.ErrRefused, "watch.move.needs_commissioning")
	_, err = f.st.AddCommissioning(f.ctx, store.Commissioning{Site: site, Officer: officer.Who, Time: f.clock.Now()})
	f.must(err)
	_, err = l.Move(f.ctx, operator, site, store.SiteLive, "")
	refused(err, watch.ErrForbidden, "watch.move.not_for_role")
	_, err = l.Move(f.ctx, officer, site, store.SiteLive, "протокол № 7")
	f.must(err)
	_, err = l.Move(f.ctx, officer, site, store.SiteSuspended, "ремонт на разходомер")
	f.must(err)
	// A suspension or a closing says why (the operator is told, чл. 28); the message names the state in
	// the reader's words.
	_, err = l.Move(f.ctx, admin, site, store.SiteClosed, "  ")
	refused(err, watch.ErrInvalid, "watch.move.reason_required")
	if m, _ := watch.Message(err); !strings.Contains(i18n.For(i18n.BG).Msg(m), "„закрит“") {
		t.Errorf("message %q", i18n.For(i18n.BG).Msg(m))
	}
	_, err = l.Move(f.ctx, admin, site, store.SiteClosed, "лицензът е отнет")
	f.must(err)
	_, err = l.Move(f.ctx, admin, site, store.SiteLive, "")
	refused(err, watch.ErrRefused, "watch.move.not_allowed")

	h, err := l.History(f.ctx, operator, site)
	f.must(err)
	var path []store.SiteState
	for _, m := range h {
		path = append(path, m.To)
	}
	want := []store.SiteState{store.SiteApproved, store.SiteTesting, store.SiteLive, store.SiteSuspended, store.SiteClosed}
	if !slices.Equal(path, want) {
		t.Errorf("moves %v, want %v", path, want)
	}
	if h[1].Who != operator.Who || h[1].Role != "operator" || !h[1].Time.Equal(t0.Add(time.Hour)) || h[0].Reason != "проект № 12/2026" {
		t.Errorf("log %+v", h[:2])
	}
	if got := watch.Moves(operator, store.SiteDraft); !slices.Equal(got, []store.SiteState{store.SiteClosed}) {
		t.Errorf("an operator's moves from draft: %v", got)
	}
}

// Чл. 21: a site goes live after the commissioning of this round of tests. Suspended and tested again,
// it needs a new one: the protocol of the first round does not seal the replaced meter.
func TestLiveNeedsThisRoundsCommissioning_Art21(t *testing.T) {
	f := newFixture(t, store.SiteTesting)
	f.accept()
	l := watch.NewLifecycle(f.st, f.clock)
	_, err := f.st.AddCommissioning(f.ctx, store.Commissioning{Site: site, Officer: officer.Who, Time: f.clock.Now()})
	f.must(err)
	_, err = l.Move(f.ctx, officer, site, store.SiteLive, "протокол № 1")
	f.must(err)
	f.clock.Advance(time.Hour)
	_, err = l.Move(f.ctx, officer, site, store.SiteSuspended, "подмяна на разходомер")
	f.must(err)
	f.clock.Advance(time.Hour)
	_, err = l.Move(f.ctx, officer, site, store.SiteTesting, "повторни тестове")
	f.must(err)
	f.clock.Advance(time.Hour)
	_, err = l.Move(f.ctx, officer, site, store.SiteLive, "")
	if m, ok := watch.Message(err); !errors.Is(err, watch.ErrRefused) || !ok || m.Key != "watch.move.needs_commissioning" {
		t.Fatalf("live on the first round's commissioning: %v", err)
	}
	_, err = f.st.AddCommissioning(f.ctx, store.Commissioning{Site: site, Officer: officer.Who, Time: f.clock.Now()})
	f.must(err)
	if _, err := l.Move(f.ctx, officer, site, store.SiteLive, "протокол № 2"); err != nil {
		t.Errorf("live after the second commissioning: %v", err)
	}
}
