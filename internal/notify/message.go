package notify

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Message is one composed e-mail, ready for SMTP.
type Message struct {
	ID       string // the Message-ID without angle brackets
	From     string // the envelope sender
	To       string // the one recipient
	Bytes    []byte // the message, CRLF-terminated, DKIM-signed when configured
	Calendar bool   // it carries a text/calendar alternative
	Attached bool   // it carries the notice's file
}

// messageID gives the Message-ID of an outbox row: fixed by its key, so that a retry of the row is the
// same message and receivers that remove duplicates by Message-ID see one.
func (s *Service) messageID(key string) string { return "akciz." + key + "@" + s.domain() }

// URLs of the API that messages link to (docs/openapi-notices.yaml).
func (s *Service) noticeURL(id int64) string {
	return fmt.Sprintf("%s/api/v1/notices/notices/%d", s.cfg.Portal, id)
}
func (s *Service) fileURL(id int64, rev int) string {
	return fmt.Sprintf("%s/api/v1/notices/notices/%d/revisions/%d/file", s.cfg.Portal, id, rev)
}
func (s *Service) unsubscribeURL(tok string) string {
	return s.cfg.Portal + "/api/v1/notices/unsubscribe/" + tok
}
func (s *Service) confirmURL(tok string) string {
	return s.cfg.Portal + "/api/v1/notices/confirm/" + tok
}

// view is a message's content, rendered both as text and as HTML.
type view struct {
	Lang   string
	Title  string
	Lines  [][2]string // label, value
	Status string      // a change, cancellation or end, said first
	Text   string
	Link   [2]string // label, URL
	Footer string
	Unsub  [2]string
}

var htmlBody = template.Must(template.New("").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;line-height:1.4">
<h1 style="font-size:1.3em">{{.Title}}</h1>
{{if .Status}}<p><strong>{{.Status}}</strong></p>{{end}}
{{if .Lines}}<table>{{range .Lines}}<tr><th style="text-align:left;padding-right:1em">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>{{end}}
<div style="white-space:pre-wrap;margin:1em 0">{{.Text}}</div>
{{with .Link}}{{if index . 1}}<p>{{index . 0}}: <a href="{{index . 1}}">{{index . 1}}</a></p>{{end}}{{end}}
<hr><p style="font-size:0.85em;color:#555">{{.Footer}}{{with .Unsub}}{{if index . 1}}<br><a href="{{index . 1}}">{{index . 0}}</a>{{end}}{{end}}</p>
</body></html>
`))

func (v *view) text() string {
	var b strings.Builder
	b.WriteString(v.Title + "\n" + strings.Repeat("=", len([]rune(v.Title))) + "\n\n")
	if v.Status != "" {
		b.WriteString(v.Status + "\n\n")
	}
	for _, l := range v.Lines {
		b.WriteString(l[0] + ": " + l[1] + "\n")
	}
	if len(v.Lines) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(strings.TrimSpace(v.Text) + "\n")
	if v.Link[1] != "" {
		b.WriteString("\n" + v.Link[0] + ": " + v.Link[1] + "\n")
	}
	b.WriteString("\n-- \n" + v.Footer + "\n")
	if v.Unsub[1] != "" {
		b.WriteString(v.Unsub[0] + ": " + v.Unsub[1] + "\n")
	}
	return b.String()
}

// Compose builds the message of an outbox row from its subscription and notice as stored now.
func (s *Service) Compose(ctx context.Context, item store.OutboxItem) (*Message, error) {
	return s.compose(ctx, item, newCache(s.s))
}

// cache keeps the notices and systems one pass of the worker reads, so that a notice with a 10 MB file
// sent to thousands of subscribers is read once, not once per message.
type cache struct {
	s       store.Notices
	notices map[int64]store.Notice
	systems map[string]store.InfoSystem
}

func newCache(s store.Notices) *cache {
	return &cache{s: s, notices: map[int64]store.Notice{}, systems: map[string]store.InfoSystem{}}
}

func (c *cache) notice(ctx context.Context, id int64) (store.Notice, error) {
	if n, ok := c.notices[id]; ok {
		return n, nil
	}
	n, err := c.s.Notice(ctx, id)
	if err == nil {
		c.notices[id] = n
	}
	return n, err
}

func (c *cache) system(ctx context.Context, code string) (store.InfoSystem, error) {
	if sys, ok := c.systems[code]; ok {
		return sys, nil
	}
	sys, err := c.s.System(ctx, code)
	if err == nil {
		c.systems[code] = sys
	}
	return sys, err
}

func (s *Service) compose(ctx context.Context, item store.OutboxItem, c *cache) (*Message, error) {
	sub, err := s.s.Subscription(ctx, item.Subscription)
	if err != nil {
		return nil, fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	sys, err := c.system(ctx, sub.System)
	if err != nil {
		return nil, fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	p := printer(sub.Lang)
	m := &Message{ID: s.messageID(item.Key), From: s.cfg.From.Address, To: sub.Email}
	if s.cfg.Bounce != "" {
		m.From = s.bounceAddr(sub)
	}
	var h mail.Header
	h.SetAddressList("From", []*mail.Address{{Name: s.cfg.From.Name, Address: s.cfg.From.Address}})
	h.SetAddressList("To", []*mail.Address{{Name: strings.TrimSpace(sub.FirstName + " " + sub.LastName), Address: sub.Email}})
	h.SetDate(s.cfg.Clock.Now().In(Sofia)) // the agency's time, like every time in the message
	h.SetMessageID(m.ID)
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("Content-Language", string(p.Lang()))
	h.Set("MIME-Version", "1.0")

	var v view
	v.Lang = string(p.Lang())
	var rev *store.Revision
	var n store.Notice
	switch item.Kind {
	case store.OutboxConfirm:
		h.SetSubject(p.T("notify.confirm.subject"))
		v.Title = p.T("notify.confirm.subject")
		v.Text = p.T("notify.confirm.text", sub.FirstName, nameIn(sys, p.Lang()))
		v.Link = [2]string{p.T("notify.confirm.link"), s.confirmURL(sub.Token)}
		v.Footer = p.T("notify.confirm.footer")
	case store.OutboxNotice, store.OutboxReminder:
		n, err = c.notice(ctx, item.Notice)
		if err != nil {
			return nil, fmt.Errorf("notify: compose %s: %w", item.Key, err)
		}
		if item.Rev < 1 || item.Rev > len(n.Revisions) {
			return nil, fmt.Errorf("notify: compose %s: notice %d has no revision %d", item.Key, n.ID, item.Rev)
		}
		rev = &n.Revisions[item.Rev-1]
		s.noticeView(&v, p, sys, &n, rev, item.Kind == store.OutboxReminder)
		h.SetSubject(v.Title)
		h.Set("List-Id", fmt.Sprintf("%s <%s.notices.%s>", mimeWord(nameIn(sys, p.Lang())), strings.ToLower(sys.Code), s.domain()))
		h.Set("List-Unsubscribe", "<"+s.unsubscribeURL(sub.Unsubscribe)+">")
		h.Set("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		v.Footer = p.T("notify.footer", eventNames(p, sub.Events), nameIn(sys, p.Lang()))
		v.Unsub = [2]string{p.T("notify.unsubscribe"), s.unsubscribeURL(sub.Unsubscribe)}
		if item.Rev > 1 || item.Kind == store.OutboxReminder {
			// Threaded under the notice's first message to this subscriber (and the previous revision's).
			of := func(rev int) string { return s.messageID(fmt.Sprintf("%s.s%d", revKey(&n.Revisions[rev-1]), sub.ID)) }
			refs := []string{of(1)}
			if item.Rev > 2 {
				refs = append(refs, of(item.Rev-1))
			}
			if item.Kind == store.OutboxReminder && item.Rev > 1 {
				refs = append(refs, of(item.Rev))
			}
			h.SetMsgIDList("In-Reply-To", refs[len(refs)-1:])
			h.SetMsgIDList("References", refs)
		}
	default:
		return nil, fmt.Errorf("notify: compose %s: unknown kind %q", item.Key, item.Kind)
	}
	attach := rev != nil && rev.File != nil && sub.Delivery == store.DeliveryAttachment && rev.Kind != store.NoticeOperability
	if rev != nil && rev.File != nil && !attach {
		v.Link = [2]string{p.T("notify.file_link", rev.FileName), s.fileURL(n.ID, rev.Rev)}
	}
	var cal string
	if rev != nil && rev.Kind == store.NoticeOperability && rev.Planned {
		cal = s.calendar(p, "", []store.Notice{{ID: n.ID, System: n.System, Kind: n.Kind, Revisions: []store.Revision{*rev}}})
	}
	var html bytes.Buffer
	if err := htmlBody.Execute(&html, &v); err != nil {
		return nil, fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	var buf bytes.Buffer
	if err := writeBody(&buf, h, v.text(), html.String(), cal, rev, attach); err != nil {
		return nil, fmt.Errorf("notify: compose %s: %w", item.Key, err)
	}
	m.Calendar, m.Attached = cal != "", attach
	if m.Bytes, err = s.signed(item.Key, buf.Bytes()); err != nil {
		return nil, err
	}
	return m, nil
}

// signed gives the message of row key with a DKIM signature when the service signs, else as it is.
func (s *Service) signed(key string, b []byte) ([]byte, error) {
	if s.cfg.DKIM == nil {
		return b, nil
	}
	// The header as written (the writer adds Content-Type), for the fields the signature covers.
	top, err := message.Read(bytes.NewReader(b))
	if err != nil && !message.IsUnknownCharset(err) {
		return nil, fmt.Errorf("notify: compose %s: %w", key, err)
	}
	return s.cfg.DKIM.sign(b, func(k string) bool { return top.Header.Has(k) })
}

// writeBody writes the MIME structure: multipart/alternative (text, HTML and, for a planned window, the
// calendar — an alternative, never an attachment, so that mail clients offer to add the event), inside
// multipart/mixed only when the notice's file is attached.
func writeBody(w io.Writer, h mail.Header, text, html, cal string, rev *store.Revision, attach bool) error {
	parts := func(iw *mail.InlineWriter) error {
		add := func(ct string, params map[string]string, body string) error {
			var ih mail.InlineHeader
			ih.SetContentType(ct, params)
			ih.Set("Content-Transfer-Encoding", "quoted-printable")
			pw, err := iw.CreatePart(ih)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(pw, body); err != nil {
				return err
			}
			return pw.Close()
		}
		if err := add("text/plain", map[string]string{"charset": "utf-8"}, text); err != nil {
			return err
		}
		if err := add("text/html", map[string]string{"charset": "utf-8"}, html); err != nil {
			return err
		}
		if cal != "" {
			if err := add("text/calendar", map[string]string{"charset": "utf-8", "method": "PUBLISH"}, cal); err != nil {
				return err
			}
		}
		return iw.Close()
	}
	if !attach {
		iw, err := mail.CreateInlineWriter(w, h)
		if err != nil {
			return err
		}
		return parts(iw)
	}
	mw, err := mail.CreateWriter(w, h)
	if err != nil {
		return err
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return err
	}
	if err := parts(iw); err != nil {
		return err
	}
	var ah mail.AttachmentHeader
	ah.SetContentType(rev.FileType, nil)
	ah.SetFilename(rev.FileName)
	aw, err := mw.CreateAttachment(ah)
	if err != nil {
		return err
	}
	if _, err := aw.Write(rev.File); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	return mw.Close()
}

// mimeWord encodes a phrase for a structured header (List-Id's description).
func mimeWord(s string) string {
	var h message.Header
	h.SetText("X", s)
	return `"` + strings.ReplaceAll(h.Get("X"), `"`, "") + `"`
}

// noticeView fills v with a revision of a notice (or a reminder of it).
func (s *Service) noticeView(v *view, p *i18n.Printer, sys store.InfoSystem, n *store.Notice, r *store.Revision, reminder bool) {
	title, text := localized(r, p.Lang())
	v.Text = text
	sysName := nameIn(sys, p.Lang())
	switch {
	case reminder:
		v.Title = p.T("notify.subject.reminder", sysName, title, FormatTime(p, r.Start))
	case r.Rev == 1:
		v.Title = p.T("notify.subject.publish", sysName, title)
	default:
		v.Title = tk(p, "notify.subject.", string(r.Action), sysName, title)
	}
	if !reminder && r.Rev > 1 {
		v.Status = tk(p, "notify.status.", string(r.Action), FormatTime(p, n.Revisions[0].Published))
	}
	v.Lines = append(v.Lines, [2]string{p.T("notify.label.system"), sysName}, [2]string{p.T("notify.label.kind"), tk(p, "notify.kind.", string(r.Kind))})
	switch r.Kind {
	case store.NoticeOperability:
		what := "notify.unplanned"
		if r.Planned {
			what = "notify.planned"
		}
		v.Lines = append(v.Lines, [2]string{p.T("notify.label.unavailability"), p.T(what)},
			[2]string{p.T("notify.label.window"), timeRange(p, r.Start, r.End)})
		if r.Rev > 1 {
			if first := &n.Revisions[0]; !first.Start.Equal(r.Start) || !first.End.Equal(r.End) {
				v.Lines = append(v.Lines, [2]string{p.T("notify.label.was"), timeRange(p, first.Start, first.End)})
			}
		}
	case store.NoticeNomenclature:
		eu := "notify.no"
		if r.EUCommon {
			eu = "notify.yes"
		}
		v.Lines = append(v.Lines, [2]string{p.T("notify.label.code_list"), r.CodeList},
			[2]string{p.T("notify.label.version"), r.Version}, [2]string{p.T("notify.label.eu_common"), p.T(eu)})
	}
	if r.File != nil {
		v.Lines = append(v.Lines, [2]string{p.T("notify.label.file"), r.FileName})
	}
	v.Lines = append(v.Lines, [2]string{p.T("notify.label.published"), FormatTime(p, r.Published)})
	if r.Link != "" {
		v.Link = [2]string{p.T("notify.label.link"), r.Link}
	} else {
		v.Link = [2]string{p.T("notify.label.link"), s.noticeURL(n.ID)}
	}
}

func eventNames(p *i18n.Printer, es []store.EventKind) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = tk(p, "notify.event.", string(e))
	}
	return strings.Join(names, ", ")
}
