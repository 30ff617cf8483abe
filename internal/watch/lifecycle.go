package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// move is one allowed lifecycle move and who may make it.
type move struct {
	from, to store.SiteState
	roles    []store.Role
	// needs, if set, is a condition the site must meet, checked in the store (e.g. a commissioning).
	needs func(ctx context.Context, st store.Store, site string) error
	// article is where the move comes from, for docs/watching.md and the log's reason.
	article string
}

// moves are the lifecycle moves of чл. 6, 17–21 (docs/watching.md, "Site lifecycle"). An admin (ЦМУ) may
// make every move an officer may; the log says who made it.
var moves = []move{
	// чл. 6 т. 3–4: the project is handed in and approved by the customs office.
	{store.SiteDraft, store.SiteApproved, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, "чл. 6 т. 4"},
	// чл. 6 т. 8, чл. 17: the operator starts the tests in configuration mode once a configuration is accepted.
	{store.SiteApproved, store.SiteTesting, []store.Role{store.RoleOperator, store.RoleOfficer, store.RoleAdmin}, needsConfig, "чл. 17"},
	// чл. 17(2): discrepancies found are fixed and the tests repeated; the project may go back for changes.
	{store.SiteTesting, store.SiteApproved, []store.Role{store.RoleOperator, store.RoleOfficer, store.RoleAdmin}, nil, "чл. 17, ал. 2"},
	// чл. 21: live operation, after the commissioning by the officers.
	{store.SiteTesting, store.SiteLive, []store.Role{store.RoleOfficer, store.RoleAdmin}, needsCommissioning, "чл. 21"},
	// Suspension and resumption (чл. 28: the officers give instructions when a site does not function).
	{store.SiteLive, store.SiteSuspended, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, "чл. 28"},
	{store.SiteSuspended, store.SiteLive, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, "чл. 28"},
	// A suspended site may have to be tested again (a new configuration, a replaced meter).
	{store.SiteSuspended, store.SiteTesting, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, "чл. 17"},
	// Closing: the operator may withdraw its own draft; otherwise the officers close.
	{store.SiteDraft, store.SiteClosed, []store.Role{store.RoleOperator, store.RoleOfficer, store.RoleAdmin}, nil, ""},
	{store.SiteApproved, store.SiteClosed, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, ""},
	{store.SiteTesting, store.SiteClosed, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, ""},
	{store.SiteLive, store.SiteClosed, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, ""},
	{store.SiteSuspended, store.SiteClosed, []store.Role{store.RoleOfficer, store.RoleAdmin}, nil, ""},
}

func needsConfig(ctx context.Context, st store.Store, site string) error {
	vs, err := st.ConfigVersions(ctx, site)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Verdict == store.ConfigAccepted {
			return nil
		}
	}
	return refuse(ErrRefused, "watch.move.needs_config", site)
}

// needsCommissioning: a site goes live only after the commissioning of чл. 21(2)–(6) of this round of
// tests — one recorded at or after its last move into testing. A commissioning of an earlier round does
// not do: a site suspended and tested again (a new configuration, a replaced meter) is sealed and handed
// over anew.
func needsCommissioning(ctx context.Context, st store.Store, site string) error {
	cs, err := st.Commissionings(ctx, site)
	if err != nil {
		return err
	}
	moves, err := st.SiteMoves(ctx, site)
	if err != nil {
		return err
	}
	var since time.Time
	for _, m := range slices.Backward(moves) {
		if m.To == store.SiteTesting {
			since = m.Time
			break
		}
	}
	for _, c := range cs {
		if !c.Time.Before(since) {
			return nil
		}
	}
	return refuse(ErrRefused, "watch.move.needs_commissioning", site)
}

// Moves gives the states the actor may move the site to now, for the console's buttons.
func Moves(a Actor, from store.SiteState) []store.SiteState {
	var out []store.SiteState
	for _, m := range moves {
		if m.from == from && slices.Contains(m.roles, a.Role) {
			out = append(out, m.to)
		}
	}
	return out
}

// Lifecycle moves sites between the states of чл. 6, 17–21 and logs every move.
type Lifecycle struct {
	st    store.Store
	clock Clock
}

// NewLifecycle gives the lifecycle over st (clock nil: the wall clock).
func NewLifecycle(st store.Store, clock Clock) *Lifecycle {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Lifecycle{st: st, clock: clock}
}

// Move moves the site to state to, as the actor, with the reason the actor gives (a protocol's number,
// why a site is suspended; required for a suspension and a closing). A move the rules do not allow, or not for the actor's role, is refused with a
// message that says which moves there are; a move from a state the site left meanwhile is refused too.
func (l *Lifecycle) Move(ctx context.Context, a Actor, warehouse string, to store.SiteState, reason string) (store.SiteMove, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxComment {
		return store.SiteMove{}, refuse(ErrInvalid, "watch.comment.too_long", MaxComment)
	}
	if !to.Valid() {
		return store.SiteMove{}, refuse(ErrInvalid, "watch.move.unknown_state", string(to))
	}
	s, err := site(ctx, l.st, a, warehouse)
	if err != nil {
		return store.SiteMove{}, err
	}
	i := slices.IndexFunc(moves, func(m move) bool { return m.from == s.State && m.to == to })
	if i < 0 {
		return store.SiteMove{}, refuse(ErrRefused, "watch.move.not_allowed", warehouse, stateText(s.State), stateText(to),
			statesText(Moves(Actor{Role: store.RoleAdmin}, s.State)))
	}
	m := moves[i]
	if !slices.Contains(m.roles, a.Role) {
		return store.SiteMove{}, refuse(ErrForbidden, "watch.move.not_for_role", stateText(s.State), stateText(to), roleText(a.Role))
	}
	if reason == "" && (to == store.SiteSuspended || to == store.SiteClosed) {
		// The log of a suspension or a closing says why: it is what the operator is told (чл. 28).
		return store.SiteMove{}, refuse(ErrInvalid, "watch.move.reason_required", stateText(to))
	}
	if m.needs != nil {
		if err := m.needs(ctx, l.st, warehouse); err != nil {
			return store.SiteMove{}, err
		}
	}
	got, err := l.st.MoveSite(ctx, store.SiteMove{Site: warehouse, From: s.State, To: to, Who: a.Who, Role: string(a.Role),
		Time: l.clock.Now(), Reason: reason})
	if errors.Is(err, store.ErrConflict) {
		return got, refuse(ErrRefused, "watch.move.moved_meanwhile", warehouse, stateText(s.State))
	}
	if err != nil {
		return got, fmt.Errorf("watch: %w", err)
	}
	return got, nil
}

// History gives the site's moves, oldest first, if the actor sees the site.
func (l *Lifecycle) History(ctx context.Context, a Actor, warehouse string) ([]store.SiteMove, error) {
	if _, err := site(ctx, l.st, a, warehouse); err != nil {
		return nil, err
	}
	ms, err := l.st.SiteMoves(ctx, warehouse)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return ms, nil
}

// stateText is a site state in the reader's language, for the arguments of a message.
type stateText store.SiteState

// Localize gives the state's name in l.
func (s stateText) Localize(l i18n.Lang) string {
	return name(i18n.For(l), "watch.site_state.", string(s))
}

// statesText is a list of states in the reader's language ("none" when empty).
type statesText []store.SiteState

// Localize gives the states' names in l, comma-separated.
func (ss statesText) Localize(l i18n.Lang) string {
	if len(ss) == 0 {
		return i18n.For(l).T("watch.move.none")
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = stateText(s).Localize(l)
	}
	return strings.Join(parts, ", ")
}

// roleText is a role in the reader's language.
type roleText store.Role

// Localize gives the role's name in l.
func (r roleText) Localize(l i18n.Lang) string { return name(i18n.For(l), "watch.role.", string(r)) }
