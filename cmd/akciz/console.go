package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
)

// `akciz console …`: the people of the web console (docs/console.md). An administrator registers a
// person with its role and the certificate of its electronic signature; the console itself shows them.
func init() {
	register(&command{name: "console", summary: "console.summary", run: runConsole})
}

func runConsole(ctx context.Context, env *environment, args []string) int {
	env = langFirst(env, args)
	v, args, code := verb(env, args, "console.help", "person", "cert", "audit")
	if code >= 0 {
		return code
	}
	switch v {
	case "person":
		return consolePerson(ctx, env, args)
	case "cert":
		return consoleCert(ctx, env, args)
	}
	return consoleAudit(ctx, env, args)
}

// maxCertFile bounds a certificate file: a certificate is a few KiB.
const maxCertFile = 1 << 20

// readPersonCert reads one certificate from a PEM or DER file.
func readPersonCert(path string) (*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCertFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCertFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxCertFile)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %q, want CERTIFICATE", path, blk.Type)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// addPersonCert registers the certificate in path for person id.
func addPersonCert(ctx context.Context, s store.Store, id int64, path string) (store.PersonCertificate, error) {
	c, err := readPersonCert(path)
	if err != nil {
		return store.PersonCertificate{}, err
	}
	pc := store.PersonCertificate{Fingerprint: store.Fingerprint(c.Raw), Person: id, DER: c.Raw,
		Subject: c.Subject.String(), NotAfter: c.NotAfter}
	return pc, s.PutPersonCertificate(ctx, pc)
}

func consolePerson(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "person", "console.person.help", "add", "list", "disable", "enable")
	if code >= 0 {
		return code
	}
	name := a.fs.String("name", "", "")
	email := a.fs.String("email", "", "")
	role := a.fs.String("role", "", "")
	operator := a.fs.String("operator", "", "")
	office := a.fs.String("office", "", "")
	cert := a.fs.String("cert", "", "")
	id := a.fs.Int64("id", 0, "")
	if code := a.parse(args, 0); code >= 0 {
		return code
	}
	p := store.Person{Name: strings.TrimSpace(*name), Email: *email, Role: store.Role(*role), Operator: *operator, Office: *office}
	if v == "add" {
		switch {
		case p.Name == "":
			return a.bad("server.admin.no_name")
		case !p.Role.Valid():
			return a.bad("console.bad_role", *role)
		case p.Role == store.RoleOperator && !core.ValidEIK(p.Operator):
			return a.bad("server.admin.bad_eik", p.Operator)
		case *cert == "":
			return a.bad("console.need_cert")
		}
		if err := p.Validate(); err != nil {
			return a.fail(err)
		}
	}
	if (v == "disable" || v == "enable") && *id <= 0 {
		return a.bad("console.need_id")
	}
	if code := a.open(ctx); code >= 0 {
		return code
	}
	defer a.s.Close()
	switch v {
	case "list":
		people, err := a.s.People(ctx)
		if err != nil {
			return a.fail(err)
		}
		for _, p := range people {
			certs, err := a.s.PersonCertificates(ctx, p.ID)
			if err != nil {
				return a.fail(err)
			}
			state := ""
			if p.Disabled {
				state = a.env.p.T("console.disabled")
			}
			fmt.Fprintf(a.env.stdout, "%d\t%s\t%s\t%s\t%s\n", p.ID, p.Role, p.Operator+p.Office, p.Name, state)
			for _, c := range certs {
				fmt.Fprintf(a.env.stdout, "\t%s\t%s\t%s\n", c.Fingerprint, c.NotAfter.Format("2006-01-02"), c.Subject)
			}
		}
		return 0
	case "disable", "enable":
		got, err := a.s.Person(ctx, *id)
		if err != nil {
			return a.fail(err)
		}
		got.Disabled = v == "disable"
		if _, err := a.s.PutPerson(ctx, got); err != nil {
			return a.fail(err)
		}
		key := "console.person.enabled"
		if got.Disabled {
			key = "console.person.disabled"
		}
		a.audit(ctx, "person."+v, strconv.FormatInt(got.ID, 10), got.Name)
		return a.done(key, got.ID, got.Name)
	}
	// The certificate is read before anything is stored: a bad file leaves no person without one.
	if _, err := readPersonCert(*cert); err != nil {
		return a.bad("console.bad_cert", err.Error())
	}
	newID, err := a.s.PutPerson(ctx, p)
	if err != nil {
		return a.fail(err)
	}
	pc, err := addPersonCert(ctx, a.s, newID, *cert)
	if err != nil {
		return a.fail(err)
	}
	a.audit(ctx, "person.add", strconv.FormatInt(newID, 10), fmt.Sprintf("%s %s %s%s %s", p.Name, p.Role, p.Operator, p.Office, pc.Fingerprint))
	return a.done("console.person.added", newID, p.Name, p.Role, pc.Fingerprint)
}

// audit writes a change made from the command line to the console's audit log (person 0: the
// operating system's administrator, named by $USER).
func (a *admin) audit(ctx context.Context, action, object, detail string) {
	who := os.Getenv("USER")
	if who == "" {
		who = "?"
	}
	if _, err := a.s.AddAudit(ctx, store.AuditEntry{Name: "akciz console (" + who + ")", Action: action, Object: object, Detail: detail, Remote: "cli"}); err != nil {
		fmt.Fprintln(a.env.stderr, a.env.p.T("server.admin.failed", a.fs.Name(), err.Error()))
	}
}

func consoleCert(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "cert", "console.cert.help", "add", "remove")
	if code >= 0 {
		return code
	}
	id := a.fs.Int64("person", 0, "")
	if code := a.parse(args, 1); code >= 0 {
		return code
	}
	if v == "add" && *id <= 0 {
		return a.bad("console.need_id")
	}
	var fp store.Hash
	if v == "remove" {
		b, err := hex.DecodeString(a.fs.Arg(0))
		if err != nil || len(b) != len(fp) {
			return a.bad("console.bad_fingerprint", a.fs.Arg(0))
		}
		copy(fp[:], b)
	} else if _, err := readPersonCert(a.fs.Arg(0)); err != nil {
		return a.bad("console.bad_cert", err.Error())
	}
	if code := a.open(ctx); code >= 0 {
		return code
	}
	defer a.s.Close()
	if v == "remove" {
		if err := a.s.DeletePersonCertificate(ctx, fp); err != nil {
			return a.fail(err)
		}
		a.audit(ctx, "person.cert.remove", fp.String(), "")
		return a.done("console.cert.removed", fp)
	}
	pc, err := addPersonCert(ctx, a.s, *id, a.fs.Arg(0))
	if err != nil {
		return a.fail(err)
	}
	a.audit(ctx, "person.cert.add", strconv.FormatInt(*id, 10), pc.Fingerprint.String()+" "+pc.Subject)
	return a.done("console.cert.added", pc.Fingerprint, *id)
}

func consoleAudit(ctx context.Context, env *environment, args []string) int {
	a := newAdmin(env, "audit", "console.audit.help")
	site := a.fs.String("site", "", "")
	limit := a.fs.Int("limit", 100, "")
	if code := a.start(ctx, args, 0); code >= 0 {
		return code
	}
	defer a.s.Close()
	entries, err := a.s.Audit(ctx, store.AuditFilter{Site: *site, Limit: *limit})
	if err != nil {
		return a.fail(err)
	}
	for _, e := range entries {
		fmt.Fprintf(a.env.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02T15:04:05Z"), e.Name, e.Action, e.Site, e.Object, e.Detail)
	}
	return 0
}
