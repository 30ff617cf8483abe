package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

func mailAddress(name, addr string) mail.Address { return mail.Address{Name: name, Address: addr} }

// parsed is a received message taken apart with go-message.
type parsed struct {
	h           gomail.Header
	text, html  string
	calendar    string
	calParams   map[string]string
	attachments map[string][]byte // file name → content
	types       []string          // every leaf part's media type, in order
}

func parse(t *testing.T, data []byte) *parsed {
	t.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	p := &parsed{h: r.Header, attachments: map[string][]byte{}}
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parse part: %v", err)
		}
		body, _ := io.ReadAll(part.Body)
		switch h := part.Header.(type) {
		case *gomail.InlineHeader:
			ct, params, _ := h.ContentType()
			p.types = append(p.types, ct)
			switch ct {
			case "text/plain":
				p.text = string(body)
			case "text/html":
				p.html = string(body)
			case "text/calendar":
				p.calendar, p.calParams = string(body), params
			}
		case *gomail.AttachmentHeader:
			ct, _, _ := h.ContentType()
			name, _ := h.Filename()
			p.types = append(p.types, ct)
			p.attachments[name] = body
		}
	}
	return p
}

// verify checks the message's one DKIM signature against the published key, and that it covers the
// one-click unsubscribe headers when the message has them.
func verify(t *testing.T, f *fixture, data []byte) {
	t.Helper()
	record, err := f.dkim.Record()
	must(t, err)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
		if domain != "notices._domainkey.customs.bg" {
			return nil, fmt.Errorf("no TXT at %s", domain)
		}
		return []string{record}, nil
	}})
	must(t, err)
	if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "customs.bg" {
		t.Fatalf("dkim: %+v", vs)
	}
	if bytes.Contains(data, []byte("List-Unsubscribe-Post:")) {
		signed := strings.Join(vs[0].HeaderKeys, ",")
		keys := []string{"List-Unsubscribe", "List-Unsubscribe-Post", "From", "To", "Subject", "Date", "Message-ID", "Content-Type"}
		if bytes.Contains(data, []byte("In-Reply-To:")) {
			keys = append(keys, "In-Reply-To", "References")
		}
		for _, k := range keys {
			if !strings.Contains(","+signed+",", ","+k+",") {
				t.Errorf("dkim signature does not cover %s (h=%s)", k, signed)
			}
		}
	}
}

func msgID(t *testing.T, p *parsed) string {
	t.Helper()
	id, err := p.h.MessageID()
	must(t, err)
	return id
}

func sendAll(t *testing.T, w *Sender) int {
	t.Helper()
	n, err := w.SendDue(t.Context())
	must(t, err)
	return n
}

func TestSubscriptionRules(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	u := user("u-ivan", "ivan@firma.bg")
	u.Lang = i18n.BG
	// The FAQ: operability cannot come with an attachment; the refusal names the field and says why.
	_, err := f.svc.Subscribe(ctx, u, Form{FirstName: "Иван", LastName: "Петров", Email: "ivan@firma.bg", System: "BACIS",
		Events: []store.EventKind{store.EventOperability, store.EventDocuments}, Delivery: store.DeliveryAttachment})
	var fe Errors
	if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Field != "delivery" {
		t.Fatalf("operability with attachment: %v, want one refusal of delivery", err)
	}
	if got := i18n.For(i18n.BG).Msg(fe[0].Msg); !strings.Contains(got, "прикачен файл") || !strings.Contains(got, "работоспособност") {
		t.Errorf("the reason in Bulgarian: %q", got)
	}
	// Every field at once, in the form's order.
	_, err = f.svc.Subscribe(ctx, u, Form{Email: "not an address", System: "SECRET", Events: []store.EventKind{"weather"}, Delivery: "fax"})
	if !errors.As(err, &fe) {
		t.Fatalf("bad form: %v", err)
	}
	var fields []string
	for _, e := range fe {
		fields = append(fields, e.Field)
	}
	if got := strings.Join(fields, ","); got != "first_name,last_name,email,system,events,delivery" {
		t.Errorf("refused fields %s", got)
	}
	// A system the certificate has no access to is refused even if it exists.
	must(t, f.svc.PutSystem(ctx, store.InfoSystem{Code: "NCTS", Name: "НКТС"}))
	_, err = f.svc.Subscribe(ctx, u, Form{FirstName: "И", LastName: "П", Email: "ivan@firma.bg", System: "NCTS",
		Events: []store.EventKind{store.EventDocuments}, Delivery: store.DeliveryEmail})
	if m, ok := fieldOf(err, "system"); !ok || m.Key != "notify.field.system_denied" {
		t.Errorf("system without access: %v", err)
	}
	// The certificate's own address is confirmed at once; one subscription per system; several systems.
	form := Prefill(u)
	form.System, form.Events = "BACIS", []store.EventKind{store.EventOperability}
	if form.Email != "ivan@firma.bg" {
		t.Errorf("prefilled e-mail %q, want the certificate's", form.Email)
	}
	sub, err := f.svc.Subscribe(ctx, u, form)
	must(t, err)
	if !sub.Confirmed || !sub.Active || sub.Token != "" {
		t.Errorf("subscription with the certificate's address: %+v", sub)
	}
	if _, err := f.svc.Subscribe(ctx, u, form); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("second subscription to BACIS: %v, want ErrDuplicate", err)
	}
	form.System = "EMCS"
	_, err = f.svc.Subscribe(ctx, u, form)
	must(t, err)
	// Editing to attachments with operability is refused; editing another user's is not found.
	form.System, form.Delivery = "BACIS", store.DeliveryAttachment
	if _, err := f.svc.Edit(ctx, u, sub.ID, form); err == nil {
		t.Error("edit to operability with attachment accepted")
	}
	form.Delivery = store.DeliveryEmail
	if _, err := f.svc.Edit(ctx, user("u-other", "x@y.bg"), sub.ID, form); !errors.Is(err, ErrNotFound) {
		t.Errorf("edit of another user's subscription: %v, want ErrNotFound", err)
	}
	// Deactivate and activate at any time.
	got, err := f.svc.SetActive(ctx, u, sub.ID, false)
	if err != nil || got.Active {
		t.Errorf("deactivate: %+v, %v", got, err)
	}
	got, err = f.svc.SetActive(ctx, u, sub.ID, true)
	if err != nil || !got.Active {
		t.Errorf("activate: %+v, %v", got, err)
	}
	// Another address waits for its link; changing to it later asks again.
	form.Email = "office@firma.bg"
	got, err = f.svc.Edit(ctx, u, sub.ID, form)
	if err != nil || got.Confirmed || got.Token == "" {
		t.Fatalf("edit to another address: %+v, %v", got, err)
	}
	if _, err := f.svc.Confirm(ctx, got.Unsubscribe); !errors.Is(err, ErrNotFound) {
		t.Errorf("confirm with the unsubscribe token: %v, want ErrNotFound", err)
	}
	c, err := f.svc.Confirm(ctx, got.Token)
	if err != nil || !c.Confirmed || c.Token != "" {
		t.Errorf("confirm: %+v, %v", c, err)
	}
	if _, err := f.svc.Confirm(ctx, got.Token); !errors.Is(err, ErrNotFound) {
		t.Errorf("confirm twice: %v, want ErrNotFound", err)
	}
}

func fieldOf(err error, name string) (i18n.Message, bool) {
	var fe Errors
	if !errors.As(err, &fe) {
		return i18n.Message{}, false
	}
	return fe.Field(name)
}

// TestDelivery runs the FAQ end to end through a real SMTP server: the right people, the right
// attachments, never one on operability, confirmation before anything else, threading, the calendar
// alternative, reminders on a fake clock, and DKIM on every message.
func TestDelivery(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	box, conn := startSMTP(t)
	w := NewSender(f.svc, conn)

	// alice follows operability and documents by e-mail, bob documents and nomenclatures with
	// attachments, carol documents at an address that is not her certificate's.
	alice, bob, carol := user("alice", "alice@firma.bg"), user("bob", "bob@firma.bg"), user("carol", "carol@firma.bg")
	bob.Lang = i18n.EN
	sub := func(u User, email string, d store.Delivery, events ...store.EventKind) store.Subscription {
		form := Prefill(u)
		form.Email, form.System, form.Events, form.Delivery = email, "BACIS", events, d
		s, err := f.svc.Subscribe(ctx, u, form)
		must(t, err)
		return s
	}
	sa := sub(alice, "alice@firma.bg", store.DeliveryEmail, store.EventOperability, store.EventDocuments)
	sb := sub(bob, "bob@firma.bg", store.DeliveryAttachment, store.EventDocuments, store.EventNomenclatures)
	sc := sub(carol, "carol.home@mail.bg", store.DeliveryEmail, store.EventDocuments)

	// Only carol's confirmation goes out at first.
	if n := sendAll(t, w); n != 1 {
		t.Fatalf("sent %d, want carol's confirmation only", n)
	}
	conf := box.to("carol.home@mail.bg")
	if len(conf) != 1 || !conf[0].TLS || conf[0].User != smtpUser {
		t.Fatalf("confirmation: %+v", conf)
	}
	verify(t, f, conf[0].Data)
	cp := parse(t, conf[0].Data)
	if !strings.Contains(cp.text, "https://portal.customs.bg/api/v1/notices/confirm/"+sc.Token) {
		t.Errorf("confirmation without its link:\n%s", cp.text)
	}

	// A document with its file: bob gets the file, alice a link, carol (unconfirmed) nothing.
	pdf := []byte("%PDF-1.7 ръководство")
	doc, err := f.svc.Publish(ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument,
		Title: "Ръководство за БАЦИС", Text: "Публикувана е нова версия на ръководството.", TitleEN: "BACIS guide",
		FileName: "guide.pdf", FileType: "application/pdf", File: pdf})
	must(t, err)
	if n := sendAll(t, w); n != 2 {
		t.Fatalf("document sent to %d, want alice and bob", n)
	}
	ma, mb := box.to("alice@firma.bg"), box.to("bob@firma.bg")
	if len(ma) != 1 || len(mb) != 1 || len(box.to("carol.home@mail.bg")) != 1 {
		t.Fatalf("document: alice %d, bob %d, carol %d messages", len(ma), len(mb), len(box.to("carol.home@mail.bg")))
	}
	pa, pb := parse(t, ma[0].Data), parse(t, mb[0].Data)
	verify(t, f, ma[0].Data)
	verify(t, f, mb[0].Data)
	if len(pa.attachments) != 0 || !strings.Contains(pa.text, fmt.Sprintf("/api/v1/notices/notices/%d/revisions/1/file", doc.ID)) {
		t.Errorf("alice (e-mail) should get a link, not the file: %v\n%s", pa.types, pa.text)
	}
	if !bytes.Equal(pb.attachments["guide.pdf"], pdf) {
		t.Errorf("bob (e-mail with attachment) did not get the file: %v", pb.types)
	}
	if s, _ := pb.h.Subject(); s != "[BACIS] BACIS guide" {
		t.Errorf("bob reads English: subject %q", s)
	}
	if s, _ := pa.h.Subject(); s != "[БАЦИС] Ръководство за БАЦИС" {
		t.Errorf("alice's subject %q", s)
	}
	if d := pa.h.Get("Date"); !strings.HasSuffix(d, "+0200") {
		t.Errorf("Date %q is not in Sofia's time", d)
	}
	if id := msgID(t, pa); id != fmt.Sprintf("akciz.n%d.r1.%s.s%d@customs.bg", doc.ID, strconv.FormatInt(start.UnixMilli(), 36), sa.ID) {
		t.Errorf("Message-ID %q", id)
	}
	if got := pa.h.Get("List-Unsubscribe"); got != "<https://portal.customs.bg/api/v1/notices/unsubscribe/"+sa.Unsubscribe+">" ||
		pa.h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe %q, Post %q", got, pa.h.Get("List-Unsubscribe-Post"))
	}
	if pa.html == "" || !strings.Contains(pa.html, "Ръководство за БАЦИС") {
		t.Error("no HTML alternative")
	}

	// Carol confirms; the next document reaches her too.
	_, err = f.svc.Confirm(ctx, sc.Token)
	must(t, err)

	// A planned window two days ahead: alice only (bob and carol do not follow operability), with the
	// calendar as an alternative and never an attachment.
	winStart := start.Add(48 * time.Hour)
	op, err := f.svc.ScheduleMaintenance(ctx, "admin", "BACIS", winStart, winStart.Add(2*time.Hour),
		"Профилактика на БАЦИС", "Системата няма да приема данни по време на профилактиката.")
	must(t, err)
	if n := sendAll(t, w); n != 1 {
		t.Fatalf("operability sent %d, want 1", n)
	}
	m1 := box.to("alice@firma.bg")[1]
	verify(t, f, m1.Data)
	p1 := parse(t, m1.Data)
	if len(p1.attachments) != 0 || strings.Join(p1.types, ",") != "text/plain,text/html,text/calendar" {
		t.Errorf("operability parts %v, attachments %v", p1.types, p1.attachments)
	}
	if p1.calParams["method"] != "PUBLISH" || !strings.Contains(p1.calendar, "METHOD:PUBLISH") ||
		!strings.Contains(p1.calendar, fmt.Sprintf("UID:notice-%d@customs.bg", op.ID)) || !strings.Contains(p1.calendar, "SEQUENCE:0") ||
		!strings.Contains(p1.calendar, "DTSTART;TZID=Europe/Sofia:20261124T100000") || !strings.Contains(p1.calendar, "STATUS:CONFIRMED") {
		t.Errorf("calendar part (%v):\n%s", p1.calParams, p1.calendar)
	}
	// Every time in Europe/Sofia with its zone named: 08:00 UTC is 10:00 EET.
	if !strings.Contains(p1.text, "24.11.2026 10:00 ч. EET (UTC+02:00, София)") {
		t.Errorf("window not in Sofia time:\n%s", p1.text)
	}
	if !strings.Contains(p1.text, "Системата няма да приема данни") {
		t.Error("the notice's text is not in the message")
	}

	// A change moves the window: threaded under the first message, SEQUENCE 1, the old reminders
	// replaced by new ones.
	newStart := winStart.Add(3 * time.Hour)
	_, err = f.svc.Publish(ctx, "admin", Publication{Notice: op.ID, Action: store.ActionChange, Start: newStart, End: newStart.Add(2 * time.Hour)})
	must(t, err)
	sendAll(t, w)
	m2 := box.to("alice@firma.bg")[2]
	verify(t, f, m2.Data)
	p2 := parse(t, m2.Data)
	first := msgID(t, p1)
	if irt, _ := p2.h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != first {
		t.Errorf("change In-Reply-To %v, want %s", irt, first)
	}
	if refs, _ := p2.h.MsgIDList("References"); len(refs) == 0 || refs[0] != first {
		t.Errorf("change References %v", refs)
	}
	if s, _ := p2.h.Subject(); !strings.HasPrefix(s, "[БАЦИС] Промяна: ") {
		t.Errorf("change subject %q", s)
	}
	if !strings.Contains(p2.calendar, "SEQUENCE:1") || !strings.Contains(p2.calendar, fmt.Sprintf("UID:notice-%d@customs.bg", op.ID)) ||
		!strings.Contains(p2.calendar, "DTSTART;TZID=Europe/Sofia:20261124T130000") || !strings.Contains(p2.text, "Системата няма да приема данни") {
		t.Errorf("change calendar:\n%s\ntext:\n%s", p2.calendar, p2.text)
	}

	// Reminders: 24 h before the new start one goes out, threaded; none for the old window.
	f.clock.Set(winStart.Add(-24 * time.Hour)) // the old reminder's time: cancelled
	if n := sendAll(t, w); n != 0 {
		t.Errorf("a reminder of the replaced window went out (%d)", n)
	}
	f.clock.Set(newStart.Add(-24 * time.Hour))
	if n := sendAll(t, w); n != 1 {
		t.Fatalf("24-hour reminder: sent %d", n)
	}
	m3 := box.to("alice@firma.bg")[3]
	verify(t, f, m3.Data)
	p3 := parse(t, m3.Data)
	if s, _ := p3.h.Subject(); !strings.Contains(s, "Напомняне") {
		t.Errorf("reminder subject %q", s)
	}
	if irt, _ := p3.h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != msgID(t, p2) {
		t.Errorf("reminder In-Reply-To %v", irt)
	}

	// A cancellation: STATUS:CANCELLED, SEQUENCE 2, and the 1-hour reminder never goes.
	_, err = f.svc.Publish(ctx, "admin", Publication{Notice: op.ID, Action: store.ActionCancel, Text: "Профилактиката се отлага."})
	must(t, err)
	sendAll(t, w)
	m4 := box.to("alice@firma.bg")[4]
	p4 := parse(t, m4.Data)
	if !strings.Contains(p4.calendar, "STATUS:CANCELLED") || !strings.Contains(p4.calendar, "SEQUENCE:2") || len(p4.attachments) != 0 {
		t.Errorf("cancellation calendar:\n%s", p4.calendar)
	}
	if !strings.Contains(p4.text, "ОТМЕНЕНО") {
		t.Errorf("cancellation text:\n%s", p4.text)
	}
	f.clock.Set(newStart.Add(-time.Hour))
	if n := sendAll(t, w); n != 0 {
		t.Errorf("a reminder of a cancelled window went out (%d)", n)
	}
	if _, err := f.svc.Publish(ctx, "admin", Publication{Notice: op.ID, Action: store.ActionChange, Title: "x"}); err == nil {
		t.Error("a change after the cancellation was accepted")
	}

	// Nomenclatures: only EU-common ones are sent (the FAQ); the others are stored, for the portal.
	before := len(box.all())
	_, err = f.svc.Publish(ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeNomenclature, Title: "Национална номенклатура",
		Text: "Нова версия.", CodeList: "BG-EXC-01", Version: "7", Link: "https://portal.customs.bg/nomenclatures/7"})
	must(t, err)
	if n := sendAll(t, w); n != 0 || len(box.all()) != before {
		t.Errorf("a national nomenclature was sent (%d)", n)
	}
	_, err = f.svc.Publish(ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeNomenclature, Title: "CL175",
		Text: "Нова версия на CL175.", CodeList: "CL175", Version: "12", EUCommon: true, FileName: "cl175.xml",
		FileType: "application/xml", File: []byte("<codes/>")})
	must(t, err)
	if n := sendAll(t, w); n != 1 {
		t.Fatalf("EU-common nomenclature sent %d, want bob only", n)
	}
	last := box.to("bob@firma.bg")
	if p := parse(t, last[len(last)-1].Data); string(p.attachments["cl175.xml"]) != "<codes/>" || !strings.Contains(p.text, "CL175") {
		t.Errorf("nomenclature to bob: %v", p.types)
	}

	// Carol, confirmed now, gets the next document; the envelope is ours, the connection TLS.
	_, err = f.svc.Publish(ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Указания",
		Text: "Нови указания.", Link: "https://portal.customs.bg/docs/1"})
	must(t, err)
	sendAll(t, w)
	if got := box.to("carol.home@mail.bg"); len(got) != 2 || got[1].From != "notices@customs.bg" || !got[1].TLS {
		t.Errorf("carol after confirming: %d messages", len(got))
	}
	// One message per notice revision per subscriber: no Message-ID twice.
	seen := map[string]bool{}
	for _, m := range box.all() {
		id := msgID(t, parse(t, m.Data))
		if seen[id] {
			t.Errorf("Message-ID %s sent twice", id)
		}
		seen[id] = true
	}
	_ = sb
}

// TestNoDuplicateAcrossCrash kills the worker at the two moments that matter and restarts it: before
// the final dot (the server has nothing: sent once after the restart) and after it (the server has it:
// never sent again, the row is left unsure for an administrator).
func TestNoDuplicateAcrossCrash(t *testing.T) {
	for _, step := range []string{"mail", "data", "unsure", "dot"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t)
			box, conn := startSMTP(t)
			u := user("alice", "alice@firma.bg")
			form := Prefill(u)
			form.System, form.Events = "BACIS", []store.EventKind{store.EventDocuments}
			_, err := f.svc.Subscribe(f.ctx, u, form)
			must(t, err)
			n, err := f.svc.Publish(f.ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Документ",
				Text: "Текст", Link: "https://portal.customs.bg/d"})
			must(t, err)

			w := NewSender(f.svc, conn)
			w.crash = func(s string) bool { return s == step }
			if _, err := w.SendDue(f.ctx); !errors.Is(err, errCrash) {
				t.Fatalf("crash at %s: %v", step, err)
			}
			taken := step == "dot"
			if got := len(box.all()); got != map[bool]int{true: 1, false: 0}[taken] {
				t.Fatalf("after a crash at %s the server has %d messages", step, got)
			}
			// A new worker: within the lease it leaves the row alone; after it, it decides.
			w2 := NewSender(f.svc, conn)
			if sent := sendAll(t, w2); sent != 0 {
				t.Errorf("a row within another worker's lease was sent (%d)", sent)
			}
			f.clock.Advance(w2.Lease + time.Second)
			sendAll(t, w2)
			f.clock.Advance(time.Hour)
			sendAll(t, w2)
			wantN := 1
			if step == "unsure" {
				wantN = 0 // marked unsure, crashed before the dot: held back, never guessed
			}
			if got := len(box.all()); got != wantN {
				t.Errorf("after a crash at %s and a restart the server has %d messages, want %d", step, got, wantN)
			}
			rows, err := f.st.Outbox(f.ctx, store.OutboxFilter{Notice: n.ID})
			must(t, err)
			want := store.OutboxSent
			if step == "unsure" || step == "dot" {
				want = store.OutboxUnsure // the dot may have gone: never sent again on our own
			}
			if len(rows) != 1 || rows[0].State != want {
				t.Errorf("row after a crash at %s: %+v, want %s", step, rows, want)
			}
			if step == "unsure" {
				// The administrator checks with the recipient and resends.
				must(t, f.svc.Resend(f.ctx, rows[0].ID))
				sendAll(t, w2)
				if got := len(box.all()); got != 1 {
					t.Errorf("resend: %d messages", got)
				}
			}
		})
	}
}

func TestFailuresAndRetries(t *testing.T) {
	f := newFixture(t)
	box, conn := startSMTP(t)
	w := NewSender(f.svc, conn)
	u1, u2 := user("gone", "gone@firma.bg"), user("busy", "busy@firma.bg")
	for _, u := range []User{u1, u2} {
		form := Prefill(u)
		form.System, form.Events = "BACIS", []store.EventKind{store.EventDocuments}
		_, err := f.svc.Subscribe(f.ctx, u, form)
		must(t, err)
	}
	box.rcpt["gone@firma.bg"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	box.tempData = 1
	n, err := f.svc.Publish(f.ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Документ",
		Text: "Текст", Link: "https://portal.customs.bg/d"})
	must(t, err)
	sendAll(t, w)
	ds, err := f.svc.Deliveries(f.ctx, n.ID)
	must(t, err)
	states := map[string]Delivery{}
	for _, d := range ds {
		states[d.Email] = d
	}
	if d := states["gone@firma.bg"]; d.State != store.OutboxFailed || !strings.Contains(d.Error, "550") {
		t.Errorf("permanent failure: %+v", d)
	}
	if d := states["busy@firma.bg"]; d.State != store.OutboxPending || d.Attempts != 1 || !d.Next.Equal(start.Add(time.Minute)) {
		t.Errorf("temporary failure: %+v", d)
	}
	// The address is quarantined (shown to its owner), the retry goes after its back-off.
	subs, _ := f.svc.Subscriptions(f.ctx, u1)
	if len(subs) != 1 || subs[0].Quarantined.IsZero() || !strings.Contains(subs[0].Bounce, "5.1.1") {
		t.Errorf("quarantine: %+v", subs)
	}
	if sent := sendAll(t, w); sent != 0 {
		t.Error("retried before the back-off")
	}
	f.clock.Advance(time.Minute)
	if sent := sendAll(t, w); sent != 1 {
		t.Errorf("retry after the back-off sent %d", sent)
	}
	// The quarantined subscriber gets nothing more until activated again.
	_, err = f.svc.Publish(f.ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Още",
		Text: "Текст", Link: "https://portal.customs.bg/d2"})
	must(t, err)
	sendAll(t, w)
	if got := len(box.to("gone@firma.bg")); got != 0 {
		t.Errorf("quarantined address got %d", got)
	}
	// A server that refuses the password: nothing is sent, rows wait.
	bad := conn
	bad.Password = "wrong"
	w3 := NewSender(f.svc, bad)
	_, err = f.svc.Publish(f.ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Трети",
		Text: "Текст", Link: "https://portal.customs.bg/d3"})
	must(t, err)
	if _, err := w3.SendDue(f.ctx); err == nil || !strings.Contains(err.Error(), "auth") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestDynamicKeys(t *testing.T) {
	for _, k := range []string{"document", "operability", "nomenclature"} {
		for _, l := range i18n.Langs {
			if !i18n.Has(l, "notify.kind."+k) {
				t.Errorf("notify.kind.%s missing in %s", k, l)
			}
		}
	}
	keys := []string{}
	for _, e := range []store.EventKind{store.EventDocuments, store.EventOperability, store.EventNomenclatures} {
		keys = append(keys, "notify.event."+string(e))
	}
	for _, a := range []store.Action{store.ActionUpdate, store.ActionChange, store.ActionCancel, store.ActionEnd} {
		keys = append(keys, "notify.subject."+string(a), "notify.status."+string(a))
	}
	for _, a := range []store.Action{store.ActionPublish, store.ActionUpdate, store.ActionChange, store.ActionCancel, store.ActionEnd} {
		keys = append(keys, "notify.history."+string(a), "notices.web.action."+string(a))
	}
	for _, k := range []store.OutboxKind{store.OutboxNotice, store.OutboxReminder, store.OutboxConfirm, store.OutboxWebhook, store.OutboxAlarm} {
		keys = append(keys, "notices.web.outbox."+string(k))
	}
	for _, st := range []store.OutboxState{store.OutboxPending, store.OutboxSending, store.OutboxUnsure, store.OutboxSent, store.OutboxFailed, store.OutboxCancelled} {
		keys = append(keys, "notices.web.delivery."+string(st))
	}
	for _, p := range []string{"confirm", "unsubscribe"} {
		keys = append(keys, "notify.page."+p+".title", "notify.page."+p+".text", "notify.page."+p+".button")
	}
	for _, k := range keys {
		for _, l := range i18n.Langs {
			if !i18n.Has(l, k) {
				t.Errorf("%s missing in %s", k, l)
			}
		}
	}
}
