package notify

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// feedSize is how many notices a feed holds: the latest ones.
const feedSize = 50

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomCategory struct {
	Term  string `xml:"term,attr"`
	Label string `xml:"label,attr"`
}

type atomEntry struct {
	ID        string         `xml:"id"`
	Title     string         `xml:"title"`
	Updated   string         `xml:"updated"`
	Published string         `xml:"published"`
	Link      atomLink       `xml:"link"`
	Category  []atomCategory `xml:"category"`
	Content   atomText       `xml:"content"`
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  string      `xml:"author>name"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

// tag gives a tag URI (RFC 4151) under the agency's domain.
func (s *Service) tag(t time.Time, what string) string {
	return fmt.Sprintf("tag:%s,%s:%s", s.domain(), t.UTC().Format("2006-01-02"), what)
}

// WriteAtom writes the Atom feed (RFC 4287) of a system's latest notices, each as of its latest revision,
// with its whole text: for operators who automate. Nomenclature updates that are not EU-common are in the
// feed too: they are published on the portal, only not sent.
func (s *Service) WriteAtom(ctx context.Context, w io.Writer, p *i18n.Printer, system string) error {
	sys, err := s.s.System(ctx, system)
	if err != nil {
		return fmt.Errorf("notify: feed: %w", err)
	}
	ns, err := s.s.Notices(ctx, store.NoticeFilter{System: system, Limit: feedSize})
	if err != nil {
		return fmt.Errorf("notify: feed: %w", err)
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := atomFeed{Lang: string(p.Lang()), ID: s.tag(epoch, "notices:"+sys.Code),
		Title:  p.T("notify.feed.title", nameIn(sys, p.Lang())),
		Author: s.cfg.From.Name, Updated: epoch.Format(time.RFC3339),
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: s.cfg.Portal + "/api/v1/notices/systems/" + sys.Code + "/feed.atom"},
			{Rel: "related", Type: "text/calendar", Href: s.cfg.Portal + "/api/v1/notices/systems/" + sys.Code + "/calendar.ics"}}}
	if f.Author == "" {
		f.Author = s.cfg.From.Address
	}
	for i := range ns {
		n := &ns[i]
		r := n.Latest()
		first := n.Revisions[0].Published
		if i == 0 {
			f.Updated = r.Published.UTC().Format(time.RFC3339)
		}
		var v view
		s.noticeView(&v, p, sys, n, r, false)
		f.Entries = append(f.Entries, atomEntry{
			ID: s.tag(first, fmt.Sprintf("notice-%d", n.ID)), Title: v.Title,
			Updated: r.Published.UTC().Format(time.RFC3339), Published: first.UTC().Format(time.RFC3339),
			Link:     atomLink{Rel: "alternate", Href: s.noticeURL(n.ID)},
			Category: []atomCategory{{Term: string(n.Kind), Label: tk(p, "notify.kind.", string(n.Kind))}},
			Content:  atomText{Type: "text", Body: v.text()},
		})
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	e := xml.NewEncoder(w)
	e.Indent("", " ")
	if err := e.Encode(&f); err != nil {
		return fmt.Errorf("notify: feed: %w", err)
	}
	return e.Close()
}

// WriteCalendar writes the iCalendar feed (RFC 5545) of a system's planned windows: every planned
// operability notice as one event, updated in place by its revisions.
func (s *Service) WriteCalendar(ctx context.Context, w io.Writer, p *i18n.Printer, system string) error {
	sys, err := s.s.System(ctx, system)
	if err != nil {
		return fmt.Errorf("notify: calendar: %w", err)
	}
	ns, err := s.s.Notices(ctx, store.NoticeFilter{System: system, Kind: store.NoticeOperability, Limit: 500})
	if err != nil {
		return fmt.Errorf("notify: calendar: %w", err)
	}
	_, err = io.WriteString(w, s.calendar(p, p.T("notify.calendar.name", nameIn(sys, p.Lang())), ns))
	return err
}
