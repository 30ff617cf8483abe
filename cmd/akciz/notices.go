package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/notify"
	"github.com/akciz/akciz/internal/store"
)

// noticesCommands are the sub-commands of `akciz notices`: the administrator's catalogue of systems and
// grants, publishing, and the delivery status, on the server's database (docs/notices.md). The running
// server's worker sends what they queue.
var noticesCommands = newGroup("notices", "notices")

func init() {
	register(&command{name: "notices", summary: "notices.summary", run: noticesCommands.run})
	noticesCommands.add(&command{name: "systems", summary: "notices.systems.summary", run: runNoticesSystems})
	noticesCommands.add(&command{name: "publish", summary: "notices.publish.summary", run: runNoticesPublish})
	noticesCommands.add(&command{name: "list", summary: "notices.list.summary", run: runNoticesList})
	noticesCommands.add(&command{name: "deliveries", summary: "notices.deliveries.summary", run: runNoticesDeliveries})
}

// noticesService opens a service over the admin's store; reminders are planned when a notice is
// published, so publishing takes --reminders as the server does.
func noticeService(a *admin, reminders string) (*notify.Service, error) {
	nf := &noticeFlags{smtp: new(string), from: new(string), dkimKey: new(string), dkimSelector: new(string),
		portal: new(string), admins: new(string), reminders: &reminders, bounce: new(string), smtpCA: new(string),
		console: new(string)}
	cfg, err := nf.config(a.env.p, "")
	if err != nil {
		return nil, err
	}
	return notify.New(a.s, cfg)
}

// explain prints a refusal field by field in the user's language.
func explain(a *admin, err error) int {
	var fe notify.Errors
	if errors.As(err, &fe) {
		for _, f := range fe {
			fmt.Fprintf(a.env.stderr, "--%s: %s\n", strings.ReplaceAll(f.Field, "_", "-"), a.env.p.Msg(f.Msg))
		}
		return 2
	}
	return a.fail(err)
}

func runNoticesSystems(ctx context.Context, env *environment, args []string) int {
	v := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		v, args = args[0], args[1:]
	}
	switch v {
	case "list", "add", "grant", "revoke":
	default:
		fmt.Fprintln(env.stderr, env.p.T("server.admin.bad_verb", v))
		return 2
	}
	a := newAdmin(env, "notices systems "+v, "notices.systems.help")
	code := a.fs.String("code", "", "")
	name := a.fs.String("name", "", "")
	nameEN := a.fs.String("name-en", "", "")
	eik := a.fs.String("eik", "", "")
	cert := a.fs.String("cert", "", "")
	if c := a.start(ctx, args, 0); c >= 0 {
		return c
	}
	defer a.s.Close()
	svc, err := noticeService(a, "")
	if err != nil {
		return a.fail(err)
	}
	switch v {
	case "add":
		if err := svc.PutSystem(ctx, store.InfoSystem{Code: *code, Name: *name, NameEN: *nameEN}); err != nil {
			return explain(a, err)
		}
		return a.done("notices.systems.added", *code, *name)
	case "grant", "revoke":
		g, err := notify.ParseGrant(*code, *eik, *cert)
		if err != nil {
			return explain(a, err)
		}
		done := "notices.systems.granted"
		if v == "grant" {
			err = a.s.GrantSystem(ctx, g)
		} else {
			err, done = a.s.RevokeSystem(ctx, g), "notices.systems.revoked"
		}
		if err != nil {
			return a.fail(err)
		}
		return a.done(done, *code, *eik+*cert)
	}
	systems, err := a.s.Systems(ctx)
	if err != nil {
		return a.fail(err)
	}
	grants, err := a.s.Grants(ctx, "")
	if err != nil {
		return a.fail(err)
	}
	for _, s := range systems {
		var who []string
		for _, g := range grants {
			if g.System == s.Code {
				if g.EIK != "" {
					who = append(who, g.EIK)
				} else {
					who = append(who, g.Certificate.String()[:16]+"…")
				}
			}
		}
		fmt.Fprintf(env.stdout, "%s\t%s\t%s\n", s.Code, s.Name, strings.Join(who, ","))
	}
	return 0
}

// parseWhen reads a time as RFC 3339 or "2006-01-02 15:04" in Europe/Sofia (how an administrator
// thinks of a window).
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02 15:04", s, notify.Sofia)
}

func runNoticesPublish(ctx context.Context, env *environment, args []string) int {
	a := newAdmin(env, "notices publish", "notices.publish.help")
	var p notify.Publication
	notice := a.fs.Int64("notice", 0, "")
	system := a.fs.String("system", "", "")
	kind := a.fs.String("kind", "", "")
	action := a.fs.String("action", "", "")
	a.fs.StringVar(&p.Title, "title", "", "")
	a.fs.StringVar(&p.Text, "text", "", "")
	a.fs.StringVar(&p.TitleEN, "title-en", "", "")
	a.fs.StringVar(&p.TextEN, "text-en", "", "")
	a.fs.StringVar(&p.Link, "link", "", "")
	a.fs.BoolVar(&p.Planned, "planned", false, "")
	startAt := a.fs.String("start", "", "")
	endAt := a.fs.String("end", "", "")
	a.fs.StringVar(&p.CodeList, "code-list", "", "")
	a.fs.StringVar(&p.Version, "version", "", "")
	a.fs.BoolVar(&p.EUCommon, "eu-common", false, "")
	file := a.fs.String("file", "", "")
	fileType := a.fs.String("file-type", "", "")
	author := a.fs.String("author", os.Getenv("USER"), "")
	reminders := a.fs.String("reminders", "24h,1h", "")
	if c := a.parse(args, 0); c >= 0 {
		return c
	}
	p.Notice, p.System, p.Kind, p.Action = *notice, *system, store.NoticeKind(*kind), store.Action(*action)
	var err error
	if p.Start, err = parseWhen(*startAt); err != nil {
		return a.bad("notices.bad_time", "--start", *startAt)
	}
	if p.End, err = parseWhen(*endAt); err != nil {
		return a.bad("notices.bad_time", "--end", *endAt)
	}
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return a.fail(err)
		}
		p.File, err = io.ReadAll(io.LimitReader(f, notify.MaxFile+1))
		f.Close()
		if err != nil {
			return a.fail(err)
		}
		if p.File == nil {
			p.File = []byte{}
		}
		p.FileName, p.FileType = filepath.Base(*file), *fileType
	}
	if c := a.open(ctx); c >= 0 {
		return c
	}
	defer a.s.Close()
	svc, err := noticeService(a, *reminders)
	if err != nil {
		return a.fail(err)
	}
	n, err := svc.Publish(ctx, *author, p)
	if err != nil {
		return explain(a, err)
	}
	d, err := svc.Deliveries(ctx, n.ID)
	if err != nil {
		return a.fail(err)
	}
	r := n.Latest()
	return a.done("notices.published", n.ID, r.Rev, r.Action, len(d))
}

func runNoticesList(ctx context.Context, env *environment, args []string) int {
	a := newAdmin(env, "notices list", "notices.list.help")
	system := a.fs.String("system", "", "")
	limit := a.fs.Int("limit", 50, "")
	if c := a.start(ctx, args, 0); c >= 0 {
		return c
	}
	defer a.s.Close()
	ns, err := a.s.Notices(ctx, store.NoticeFilter{System: *system, Limit: *limit})
	if err != nil {
		return a.fail(err)
	}
	for _, n := range ns {
		r := n.Latest()
		fmt.Fprintf(env.stdout, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", n.ID, n.System, n.Kind, r.Rev, r.Action,
			notify.FormatTime(env.p, r.Published), r.Title)
	}
	return 0
}

func runNoticesDeliveries(ctx context.Context, env *environment, args []string) int {
	a := newAdmin(env, "notices deliveries", "notices.deliveries.help")
	if c := a.parse(args, 1); c >= 0 {
		return c
	}
	id, err := strconv.ParseInt(a.fs.Arg(0), 10, 64)
	if err != nil {
		return a.bad("notices.bad_id", a.fs.Arg(0))
	}
	if c := a.open(ctx); c >= 0 {
		return c
	}
	defer a.s.Close()
	svc, err := noticeService(a, "")
	if err != nil {
		return a.fail(err)
	}
	if _, err := a.s.Notice(ctx, id); err != nil {
		return a.fail(err)
	}
	ds, err := svc.Deliveries(ctx, id)
	if err != nil {
		return a.fail(err)
	}
	for _, d := range ds {
		when := ""
		switch {
		case !d.SentAt.IsZero():
			when = notify.FormatTime(env.p, d.SentAt)
		case !d.Next.IsZero():
			when = notify.FormatTime(env.p, d.Next)
		}
		fmt.Fprintf(env.stdout, "%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Outbox, d.Rev, d.Kind, d.Email, d.State, d.Attempts, when, d.Error)
	}
	return 0
}
