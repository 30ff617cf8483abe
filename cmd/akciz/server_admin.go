package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
)

// serverAdmin are the registry's sub-commands of `akciz server`: until the console exists, the agency's
// administrator fills the registry from the command line.
var serverAdmin = map[string]func(ctx context.Context, env *environment, args []string) int{
	"operator": adminOperator,
	"site":     adminSite,
	"device":   adminDevice,
	"cert":     adminCert,
	"anchor":   adminAnchor,
}

// admin is one run of a registry sub-command: its flags (with --dir, --db and --lang) and the store.
type admin struct {
	env  *environment
	fs   *flag.FlagSet
	dir  *string
	db   *string
	help string // i18n key of the --help text
	s    store.Store
}

func newAdmin(env *environment, name, help string) *admin {
	a := &admin{env: env, help: help}
	a.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	a.fs.SetOutput(io.Discard)
	a.fs.Var(langFlag{&a.env}, "lang", "")
	a.dir = a.fs.String("dir", defaultServerDir, "")
	a.db = a.fs.String("db", "", "")
	return a
}

// parse reads the flags; a non-negative code means stop with it.
func (a *admin) parse(args []string, nargs int) int {
	if err := a.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(a.env.stdout, a.env.p.T(a.help))
			return 0
		}
		fmt.Fprintln(a.env.stderr, a.env.p.T("server.admin.bad_flag", err.Error(), a.fs.Name()))
		return 2
	}
	if a.fs.NArg() != nargs {
		fmt.Fprintln(a.env.stderr, a.env.p.T("server.admin.nargs", a.fs.Name(), nargs, a.fs.NArg()))
		return 2
	}
	return -1
}

func (a *admin) open(ctx context.Context) int {
	if *a.db == "" {
		if err := os.MkdirAll(*a.dir, 0o700); err != nil {
			fmt.Fprintln(a.env.stderr, a.env.p.T("server.dir", *a.dir, err.Error()))
			return 1
		}
	}
	s, where, err := openServerStore(ctx, *a.dir, *a.db)
	if err != nil {
		fmt.Fprintln(a.env.stderr, a.env.p.T("server.db_failed", where, err.Error()))
		return 1
	}
	a.s = s
	return -1
}

// start reads the flags and opens the store, as most sub-commands do first; a non-negative code means
// stop with it, otherwise the caller closes a.s.
func (a *admin) start(ctx context.Context, args []string, nargs int) int {
	if code := a.parse(args, nargs); code >= 0 {
		return code
	}
	return a.open(ctx)
}

func (a *admin) fail(err error) int {
	fmt.Fprintln(a.env.stderr, a.env.p.T("server.admin.failed", a.fs.Name(), err.Error()))
	return 1
}

// bad refuses an argument with a message of the catalogue.
func (a *admin) bad(key string, args ...any) int {
	fmt.Fprintln(a.env.stderr, a.env.p.T(key, args...))
	return 2
}

func (a *admin) done(key string, args ...any) int {
	fmt.Fprintln(a.env.stdout, a.env.p.T(key, args...))
	return 0
}

// adminVerb splits the verb from the arguments of sub-command name and starts its run "name verb" with
// help key help; a non-negative code means stop with it.
func adminVerb(env *environment, args []string, name, help string, verbs ...string) (*admin, string, []string, int) {
	v, args, code := verb(env, args, help, verbs...)
	if code >= 0 {
		return nil, "", nil, code
	}
	return newAdmin(env, name+" "+v, help), v, args, -1
}

// verb splits "add …" from the arguments; help for none or --help.
func verb(env *environment, args []string, help string, verbs ...string) (string, []string, int) {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprintln(env.stdout, env.p.T(help))
		if len(args) == 0 {
			return "", nil, 2
		}
		return "", nil, 0
	}
	for _, v := range verbs {
		if args[0] == v {
			return v, args[1:], -1
		}
	}
	fmt.Fprintln(env.stderr, env.p.T("server.admin.bad_verb", args[0]))
	return "", nil, 2
}

func adminOperator(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "operator", "server.operator.help", "add", "list")
	if code >= 0 {
		return code
	}
	eik := a.fs.String("eik", "", "")
	name := a.fs.String("name", "", "")
	excise := a.fs.String("excise", "", "")
	if code := a.start(ctx, args, 0); code >= 0 {
		return code
	}
	defer a.s.Close()
	if v == "list" {
		ops, err := a.s.Operators(ctx)
		if err != nil {
			return a.fail(err)
		}
		for _, o := range ops {
			fmt.Fprintf(a.env.stdout, "%s\t%s\t%s\n", o.EIK, o.Name, o.ExciseNumber)
		}
		return 0
	}
	o := store.Operator{EIK: *eik, Name: *name, ExciseNumber: *excise}
	if !core.ValidEIK(o.EIK) {
		return a.bad("server.admin.bad_eik", o.EIK)
	}
	if o.Name == "" {
		return a.bad("server.admin.no_name")
	}
	if err := o.Validate(); err != nil {
		return a.fail(err)
	}
	if err := a.s.PutOperator(ctx, o); err != nil {
		return a.fail(err)
	}
	return a.done("server.operator.added", o.EIK, o.Name)
}

func adminSite(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "site", "server.site.help", "add", "list")
	if code >= 0 {
		return code
	}
	wh := a.fs.String("warehouse", "", "")
	op := a.fs.String("operator", "", "")
	name := a.fs.String("name", "", "")
	office := a.fs.String("office", "", "")
	state := a.fs.String("state", string(store.SiteLive), "")
	if code := a.start(ctx, args, 0); code >= 0 {
		return code
	}
	defer a.s.Close()
	if v == "list" {
		sites, err := a.s.Sites(ctx, *op)
		if err != nil {
			return a.fail(err)
		}
		for _, s := range sites {
			fmt.Fprintf(a.env.stdout, "%s\t%s\t%s\t%s\t%s\n", s.Warehouse, s.Operator, s.State, s.CustomsOffice, s.Name)
		}
		return 0
	}
	site := store.Site{Warehouse: *wh, Operator: *op, Name: *name, CustomsOffice: *office, State: store.SiteState(*state)}
	switch {
	case !core.ValidWarehouseID(site.Warehouse):
		return a.bad("server.admin.bad_warehouse", site.Warehouse)
	case !core.ValidEIK(site.Operator):
		return a.bad("server.admin.bad_eik", site.Operator)
	case !site.State.Valid():
		return a.bad("server.admin.bad_state", *state)
	}
	if err := site.Validate(); err != nil {
		return a.fail(err)
	}
	if err := a.s.PutSite(ctx, site); err != nil {
		return a.fail(err)
	}
	return a.done("server.site.added", site.Warehouse, site.Operator, site.State)
}

func adminDevice(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "device", "server.device.help", "add", "list")
	if code >= 0 {
		return code
	}
	id := a.fs.String("id", "", "")
	name := a.fs.String("name", "", "")
	site := a.fs.String("site", "", "")
	if code := a.start(ctx, args, 0); code >= 0 {
		return code
	}
	defer a.s.Close()
	if v == "list" {
		devs, err := a.s.Devices(ctx, store.DeviceFilter{Site: *site})
		if err != nil {
			return a.fail(err)
		}
		for _, d := range devs {
			fmt.Fprintf(a.env.stdout, "%s\t%s\n", d.ID, d.Name)
		}
		return 0
	}
	d := store.Device{ID: *id, Name: *name}
	if !core.ValidDeviceID(d.ID) {
		return a.bad("server.admin.bad_device", d.ID)
	}
	if err := d.Validate(); err != nil {
		return a.fail(err)
	}
	if err := a.s.PutDevice(ctx, d); err != nil {
		return a.fail(err)
	}
	return a.done("server.device.added", d.ID, d.Site())
}

func adminCert(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "cert", "server.cert.help", "add", "list", "revoke")
	if code >= 0 {
		return code
	}
	op := a.fs.String("operator", "", "")
	at := a.fs.String("at", "", "")
	nargs := 1
	if v == "list" {
		nargs = 0
	}
	if code := a.parse(args, nargs); code >= 0 {
		return code
	}
	switch v {
	case "list":
		if code := a.open(ctx); code >= 0 {
			return code
		}
		defer a.s.Close()
		certs, err := a.s.Certificates(ctx, *op)
		if err != nil {
			return a.fail(err)
		}
		for _, c := range certs {
			revoked := "-"
			if !c.Revoked.IsZero() {
				revoked = c.Revoked.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(a.env.stdout, "%s\t%s\t%s\t%s\t%s\n", c.Fingerprint, c.Operator,
				c.NotAfter.UTC().Format(time.RFC3339), revoked, c.Subject)
		}
		return 0
	case "revoke":
		b, err := hex.DecodeString(a.fs.Arg(0))
		var fp store.Hash
		if err != nil || len(b) != len(fp) {
			return a.fail(fmt.Errorf("%q: want the certificate's SHA-256 fingerprint, 64 hex digits", a.fs.Arg(0)))
		}
		copy(fp[:], b)
		when := time.Now().UTC()
		if *at != "" {
			if when, err = time.Parse(time.RFC3339, *at); err != nil {
				return a.fail(fmt.Errorf("--at: %w", err))
			}
		}
		if code := a.open(ctx); code >= 0 {
			return code
		}
		defer a.s.Close()
		if err := a.s.RevokeCertificate(ctx, fp, when); err != nil {
			return a.fail(err)
		}
		return a.done("server.cert.revoked", fp.String(), when.Format(time.RFC3339))
	}
	certs, err := ingest.ReadCertificates(a.fs.Arg(0))
	if err != nil {
		return a.fail(err)
	}
	leaf := certs[0]
	if !core.ValidEIK(*op) {
		return a.bad("server.admin.bad_eik", *op)
	}
	c := store.Certificate{Fingerprint: store.Fingerprint(leaf.Raw), DER: leaf.Raw, Operator: *op,
		Subject: leaf.Subject.String(), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}
	if err := c.Validate(); err != nil {
		return a.fail(err)
	}
	if code := a.open(ctx); code >= 0 {
		return code
	}
	defer a.s.Close()
	if _, err := a.s.Operator(ctx, *op); err != nil {
		return a.fail(fmt.Errorf("operator %s: %w", *op, err))
	}
	if err := a.s.PutCertificate(ctx, c); err != nil {
		return a.fail(err)
	}
	return a.done("server.cert.added", c.Subject, c.Fingerprint.String(), c.Operator)
}

func adminAnchor(ctx context.Context, env *environment, args []string) int {
	a, v, args, code := adminVerb(env, args, "anchor", "server.anchor.help", "add", "list")
	if code >= 0 {
		return code
	}
	nargs := 1
	if v == "list" {
		nargs = 0
	}
	if code := a.parse(args, nargs); code >= 0 {
		return code
	}
	var certs []store.TrustAnchor
	if v == "add" {
		cs, err := ingest.ReadCertificates(a.fs.Arg(0))
		if err != nil {
			return a.fail(err)
		}
		for _, c := range cs {
			if !c.IsCA {
				return a.fail(fmt.Errorf("%s: %q is not a CA certificate", a.fs.Arg(0), c.Subject.String()))
			}
			certs = append(certs, store.TrustAnchor{Fingerprint: store.Fingerprint(c.Raw), DER: c.Raw, Name: c.Subject.String()})
		}
	}
	if code := a.open(ctx); code >= 0 {
		return code
	}
	defer a.s.Close()
	if v == "list" {
		as, err := a.s.TrustAnchors(ctx)
		if err != nil {
			return a.fail(err)
		}
		for _, t := range as {
			fmt.Fprintf(a.env.stdout, "%s\t%s\n", t.Fingerprint, t.Name)
		}
		return 0
	}
	for _, t := range certs {
		if err := a.s.PutTrustAnchor(ctx, t); err != nil {
			return a.fail(err)
		}
		fmt.Fprintln(a.env.stdout, a.env.p.T("server.anchor.added", t.Name, t.Fingerprint.String()))
	}
	return 0
}
