package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// testConsole checks the Console part of store.Store: people, their certificates, sessions (expiry,
// the idle expiry never past the absolute end) and the audit log.
func testConsole(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := eik(t, 0)

	// People: validation, create, update, list.
	for _, bad := range []store.Person{
		{Name: "", Role: store.RoleAdmin},
		{Name: "x", Role: "boss"},
		{Name: "x", Role: store.RoleOperator},
		{Name: "x", Role: store.RoleOfficer},
		{Name: "x", Role: store.RoleOfficer, Office: "BG001000", Operator: op},
		{Name: "x", Role: store.RoleAdmin, Office: "BG001000"},
	} {
		if _, err := s.PutPerson(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutPerson(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	officer := store.Person{Name: "Иван Петров", Email: "ivan@customs.bg", Role: store.RoleOfficer, Office: "BG001000"}
	id, err := s.PutPerson(ctx, officer)
	must(t, err)
	if id == 0 {
		t.Fatal("PutPerson gave id 0")
	}
	opID, err := s.PutPerson(ctx, store.Person{Name: "Мария", Role: store.RoleOperator, Operator: op})
	must(t, err)
	if opID == id {
		t.Fatal("two people with one id")
	}
	officer.ID, officer.Name = id, "Иван Петров Иванов"
	if got, err := s.PutPerson(ctx, officer); err != nil || got != id {
		t.Fatalf("update person = %d, %v", got, err)
	}
	if _, err := s.PutPerson(ctx, store.Person{ID: 999999, Name: "x", Role: store.RoleAdmin}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing person = %v, want ErrNotFound", err)
	}
	p, err := s.Person(ctx, id)
	must(t, err)
	if p.Name != "Иван Петров Иванов" || p.Role != store.RoleOfficer || p.Office != "BG001000" || p.Email != "ivan@customs.bg" || p.Created.IsZero() {
		t.Errorf("person = %+v", p)
	}
	if _, err := s.Person(ctx, 424242); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing person = %v", err)
	}
	people, err := s.People(ctx)
	must(t, err)
	if len(people) != 2 || people[0].ID != id || people[1].ID != opID {
		t.Errorf("people = %+v", people)
	}

	// Certificates.
	der := []byte("certificate of Ivan")
	fp := store.Fingerprint(der)
	if err := s.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: fp, Person: id, DER: []byte("other")}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("certificate with a wrong fingerprint = %v", err)
	}
	if err := s.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: fp, Person: 777777, DER: der}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("certificate of a missing person = %v", err)
	}
	na := t0.AddDate(2, 0, 0)
	must(t, s.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: fp, Person: id, DER: der, Subject: "CN=Ivan", NotAfter: na}))
	must(t, s.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: fp, Person: id, DER: der, Subject: "CN=Ivan Petrov", NotAfter: na}))
	if err := s.PutPersonCertificate(ctx, store.PersonCertificate{Fingerprint: fp, Person: opID, DER: der}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("one certificate for two people = %v, want ErrInvalid", err)
	}
	who, c, err := s.PersonByCertificate(ctx, fp)
	must(t, err)
	if who.ID != id || c.Subject != "CN=Ivan Petrov" || !c.NotAfter.Equal(na) || string(c.DER) != string(der) {
		t.Errorf("person by certificate = %+v, %+v", who, c)
	}
	if _, _, err := s.PersonByCertificate(ctx, store.Fingerprint([]byte("nobody"))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown certificate = %v", err)
	}
	certs, err := s.PersonCertificates(ctx, id)
	must(t, err)
	if len(certs) != 1 || certs[0].Fingerprint != fp {
		t.Errorf("certificates = %+v", certs)
	}
	if all, _ := s.PersonCertificates(ctx, 0); len(all) != 1 {
		t.Errorf("all certificates = %+v", all)
	}
	if none, _ := s.PersonCertificates(ctx, opID); len(none) != 0 {
		t.Errorf("operator's certificates = %+v", none)
	}

	// Sessions: expiry, touch within the absolute end, delete, sweep.
	if err := s.CreateSession(ctx, store.Session{ID: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("incomplete session = %v", err)
	}
	start := t0
	ss := store.Session{ID: "s1", Person: id, Certificate: fp, CSRF: "token", Created: start, Seen: start,
		Expires: start.Add(30 * time.Minute), End: start.Add(8 * time.Hour), Remote: "192.0.2.1"}
	must(t, s.CreateSession(ctx, ss))
	got, err := s.Session(ctx, "s1", start.Add(time.Minute))
	must(t, err)
	if got.Person != id || got.Certificate != fp || got.CSRF != "token" || !got.Expires.Equal(ss.Expires) || !got.End.Equal(ss.End) || got.Remote != "192.0.2.1" {
		t.Errorf("session = %+v", got)
	}
	if _, err := s.Session(ctx, "s1", start.Add(30*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session at its idle expiry = %v, want ErrNotFound", err)
	}
	must(t, s.TouchSession(ctx, "s1", start.Add(29*time.Minute), start.Add(59*time.Minute)))
	if _, err := s.Session(ctx, "s1", start.Add(45*time.Minute)); err != nil {
		t.Errorf("touched session: %v", err)
	}
	must(t, s.TouchSession(ctx, "s1", start.Add(7*time.Hour), start.Add(9*time.Hour)))
	got, err = s.Session(ctx, "s1", start.Add(7*time.Hour+time.Minute))
	must(t, err)
	if !got.Expires.Equal(ss.End) {
		t.Errorf("touch past the end: expires %v, want the end %v", got.Expires, ss.End)
	}
	if _, err := s.Session(ctx, "s1", ss.End); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session at its end = %v", err)
	}
	if err := s.TouchSession(ctx, "nope", start, start); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("touch of a missing session = %v", err)
	}
	ss2 := ss
	ss2.ID, ss2.Expires, ss2.End = "s2", start.Add(time.Hour), start.Add(time.Hour)
	must(t, s.CreateSession(ctx, ss2))
	ss3 := ss
	ss3.ID, ss3.Expires, ss3.End = "s3", start.Add(10*time.Hour), start.Add(10*time.Hour)
	must(t, s.CreateSession(ctx, ss3))
	n, err := s.DeleteExpiredSessions(ctx, start.Add(9*time.Hour))
	must(t, err)
	if n != 2 {
		t.Errorf("swept %d sessions, want 2 (s1 and s2)", n)
	}
	if _, err := s.Session(ctx, "s3", start.Add(9*time.Hour)); err != nil {
		t.Errorf("s3 after the sweep: %v", err)
	}
	must(t, s.DeleteSession(ctx, "s3"))
	must(t, s.DeleteSession(ctx, "s3"))
	if _, err := s.Session(ctx, "s3", start); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session = %v", err)
	}
	// Deleting a certificate ends its sessions.
	ss4 := ss
	ss4.ID = "s4"
	must(t, s.CreateSession(ctx, ss4))
	must(t, s.DeletePersonCertificate(ctx, fp))
	if _, err := s.Session(ctx, "s4", start); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a deleted certificate = %v", err)
	}
	if err := s.DeletePersonCertificate(ctx, fp); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete a missing certificate = %v", err)
	}

	// Audit: newest first, filters, limit.
	if _, err := s.AddAudit(ctx, store.AuditEntry{Person: id}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("audit without an action = %v", err)
	}
	for i, e := range []store.AuditEntry{
		{Time: t0, Person: id, Name: "Иван", Action: "alarm.ack", Site: "BGNCA00005001", Object: "7", Detail: "видях", Remote: "192.0.2.1"},
		{Time: t0.Add(time.Minute), Person: opID, Name: "Мария", Action: "config.upload", Site: "BGNCA00005001"},
		{Time: t0.Add(2 * time.Minute), Person: id, Name: "Иван", Action: "site.state", Site: "BGNCA00006001"},
	} {
		aid, err := s.AddAudit(ctx, e)
		must(t, err)
		if aid == 0 {
			t.Errorf("audit entry %d got id 0", i)
		}
	}
	all, err := s.Audit(ctx, store.AuditFilter{})
	must(t, err)
	if len(all) != 3 || all[0].Action != "site.state" || all[2].Action != "alarm.ack" {
		t.Fatalf("audit = %+v", all)
	}
	if e := all[2]; e.Person != id || e.Name != "Иван" || e.Object != "7" || e.Detail != "видях" || e.Remote != "192.0.2.1" || !e.Time.Equal(t0) {
		t.Errorf("audit entry = %+v", e)
	}
	for _, c := range []struct {
		f    store.AuditFilter
		want int
	}{
		{store.AuditFilter{Person: id}, 2},
		{store.AuditFilter{Site: "BGNCA00005001"}, 2},
		{store.AuditFilter{Since: t0.Add(time.Minute)}, 2},
		{store.AuditFilter{Until: t0.Add(time.Minute)}, 1},
		{store.AuditFilter{Limit: 1}, 1},
		{store.AuditFilter{Person: opID, Site: "BGNCA00006001"}, 0},
	} {
		got, err := s.Audit(ctx, c.f)
		must(t, err)
		if len(got) != c.want {
			t.Errorf("Audit(%+v): %d entries, want %d", c.f, len(got), c.want)
		}
	}
}
