package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/akciz/akciz/internal/store"
)

// CanSee reports whether u may see site: an operator its own EIK's sites, an officer the sites of its
// customs office, an administrator every site. This is the one rule of visibility; every page and export
// that shows a site's data goes through it (SiteOf, VisibleSites).
func CanSee(u *User, site store.Site) bool {
	if u == nil || u.Person.Disabled {
		return false
	}
	switch u.Person.Role {
	case store.RoleAdmin:
		return true
	case store.RoleOfficer:
		return u.Person.Office != "" && site.CustomsOffice == u.Person.Office
	case store.RoleOperator:
		return u.Person.Operator != "" && site.Operator == u.Person.Operator
	}
	return false
}

// SiteOf gives the site with this warehouse number if the request's person may see it. Otherwise it
// answers 404 (also for a site that exists: nobody learns of another's sites) and ok is false.
func (s *Server) SiteOf(w http.ResponseWriter, r *http.Request, warehouse string) (store.Site, bool) {
	site, err := s.store.Site(r.Context(), warehouse)
	if errors.Is(err, store.ErrNotFound) || err == nil && !CanSee(UserOf(r), site) {
		s.NotFound(w, r)
		return store.Site{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return store.Site{}, false
	}
	return site, true
}

// VisibleSites lists the sites u may see, by warehouse number.
func (s *Server) VisibleSites(ctx context.Context, u *User) ([]store.Site, error) {
	operator := ""
	if u.Person.Role == store.RoleOperator {
		operator = u.Person.Operator
	}
	all, err := s.store.Sites(ctx, operator)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, site := range all {
		if CanSee(u, site) {
			out = append(out, site)
		}
	}
	return out, nil
}
