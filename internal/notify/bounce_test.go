package notify

import (
	"bytes"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/akciz/akciz/internal/store"
)

// dsn is a delivery report as Postfix writes one (RFC 3464), with the returned headers.
const dsn = "From: MAILER-DAEMON@mx.firma.bg (Mail Delivery System)\r\n" +
	"To: bounces+%ID%@customs.bg\r\n" +
	"Subject: Undelivered Mail Returned to Sender\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n" +
	"\r\n" +
	"--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n" +
	"--B1\r\nContent-Type: message/delivery-status\r\n\r\n" +
	"Reporting-MTA: dns; mx.firma.bg\r\nArrival-Date: Sun, 22 Nov 2026 10:00:00 +0200 (EET)\r\n\r\n" +
	"Final-Recipient: rfc822; gone@firma.bg\r\nOriginal-Recipient: rfc822;gone@firma.bg\r\nAction: failed\r\n" +
	"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@firma.bg>: Recipient address rejected\r\n\r\n" +
	"--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <akciz.n1.r1.s1@customs.bg>\r\n" +
	"--B1--\r\n"

func TestParseDSN(t *testing.T) {
	d, err := ParseDSN(strings.NewReader(dsn))
	must(t, err)
	if d.Reporter != "mx.firma.bg" || len(d.Recipients) != 1 {
		t.Fatalf("dsn: %+v", d)
	}
	r := d.Recipients[0]
	if r.Final != "gone@firma.bg" || r.Status != "5.1.1" || !r.Permanent() || !strings.Contains(r.Diagnostic, "rejected") {
		t.Errorf("recipient: %+v", r)
	}
	delayed := strings.Replace(strings.Replace(dsn, "Action: failed", "Action: delayed", 1), "Status: 5.1.1", "Status: 4.4.1", 1)
	if d, err := ParseDSN(strings.NewReader(delayed)); err != nil || d.Recipients[0].Permanent() {
		t.Errorf("a delay is not permanent: %+v, %v", d, err)
	}
	for name, bad := range map[string]string{
		"not a report":  "Content-Type: text/plain\r\n\r\nhello\r\n",
		"no status":     strings.Replace(dsn, "message/delivery-status", "text/plain", 1),
		"no recipients": strings.Replace(dsn, "Final-Recipient: rfc822; gone@firma.bg\r\nOriginal-Recipient: rfc822;gone@firma.bg\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@firma.bg>: Recipient address rejected\r\n\r\n", "", 1),
		"too big":       "Content-Type: text/plain\r\n\r\n" + strings.Repeat("x", MaxDSN),
	} {
		if _, err := ParseDSN(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestBounces: permanent failures "as RFC 3464 reports to a per-subscription envelope sender" (issue #8)
// quarantine the address: a report delivered to the bounce address of a subscription (through the bounce
// backend, over SMTP) quarantines it; other addresses are refused, and a forged report (the bare id, a
// wrong tag) changes nothing.
func TestBounces(t *testing.T) {
	f := newFixture(t)
	svc, err := New(f.st, Config{Portal: "https://portal.customs.bg", Clock: f.clock, Bounce: "bounces+%d@customs.bg",
		From: mailAddress("Агенция „Митници“", "notices@customs.bg")})
	must(t, err)
	u := user("gone", "gone@firma.bg")
	form := Prefill(u)
	form.System, form.Events = "BACIS", []store.EventKind{store.EventDocuments}
	sub, err := svc.Subscribe(f.ctx, u, form)
	must(t, err)
	// The envelope sender of its messages names it.
	box, conn := startSMTP(t)
	_, err = svc.Publish(f.ctx, "admin", Publication{System: "BACIS", Kind: store.NoticeDocument, Title: "Д", Text: "Т", Link: "https://x.bg/d"})
	must(t, err)
	sendAll(t, NewSender(svc, conn))
	bounce := svc.bounceAddr(sub)
	if got := box.all(); len(got) != 1 || got[0].From != bounce || !regexp.MustCompile(`^bounces\+[0-9]+\.[a-z2-7]{8}@customs\.bg$`).MatchString(bounce) {
		t.Fatalf("envelope sender: %+v", got)
	}

	srv := smtp.NewServer(svc.BounceBackend())
	srv.Domain, srv.AllowInsecureAuth = "bounces.test", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := smtp.Dial(ln.Addr().String())
	must(t, err)
	defer c.Close()
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("postmaster@customs.bg", nil); err == nil {
		t.Error("the bounce receiver took mail for another address")
	}
	// A forged report to the bare id, or with another tag, changes nothing (anyone can mail the bounce
	// domain); the tag is checked, not merely its form.
	for _, forged := range []string{"bounces+" + itoa(sub.ID) + "@customs.bg", "bounces+" + itoa(sub.ID) + ".aaaaaaaa@customs.bg"} {
		if ok, _ := svc.HandleBounce(f.ctx, forged, strings.NewReader(dsn)); ok {
			t.Errorf("a forged report to %s quarantined", forged)
		}
	}
	if got, _ := f.st.Subscription(f.ctx, sub.ID); !got.Quarantined.IsZero() {
		t.Fatal("quarantined by a forged report")
	}
	must(t, c.Rcpt(strings.ToUpper(bounce), nil)) // an MTA may fold the case
	w, err := c.Data()
	must(t, err)
	w.Write([]byte(strings.ReplaceAll(dsn, "%ID%", itoa(sub.ID))))
	must(t, w.Close())
	got, err := f.st.Subscription(f.ctx, sub.ID)
	must(t, err)
	if got.Quarantined.IsZero() || !strings.Contains(got.Bounce, "5.1.1") {
		t.Errorf("after the report: %+v", got)
	}
	// A report to a bounce address of no subscription, or not a report: nothing happens, no error.
	if ok, err := svc.HandleBounce(f.ctx, "bounces+999@customs.bg", strings.NewReader(dsn)); ok || err == nil {
		t.Errorf("unknown subscription: %v, %v", ok, err)
	}
	if ok, err := svc.HandleBounce(f.ctx, "someone@customs.bg", strings.NewReader(dsn)); ok || err == nil {
		t.Errorf("not a bounce address: %v, %v", ok, err)
	}
}

func FuzzParseDSN(f *testing.F) {
	f.Add([]byte(dsn))
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.0.0\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDSN(bytes.NewReader(b))
		if err == nil && len(d.Recipients) == 0 {
			t.Error("a report without recipients accepted")
		}
	})
}
