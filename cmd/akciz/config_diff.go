package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/config/change"
	"github.com/akciz/akciz/internal/workday"
)

func init() {
	registerConfig(&command{name: "diff", summary: "change.cli.summary", run: runConfigDiff})
}

// diffNow is the clock of `config diff`, for the default --date; tests replace it.
var diffNow = time.Now

// runConfigDiff is `akciz config diff [flags] OLD NEW`: the change rules of чл. 26 against the history.
func runConfigDiff(_ context.Context, env *environment, args []string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	fs := flag.NewFlagSet("config diff", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	history := fs.String("history", "", "")
	dateFlag := fs.String("date", "", "")
	firstUseFlag := fs.String("first-use", "", "")
	calendar := fs.String("calendar", "", "")
	format := fs.String("format", "text", "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(env.stdout, env.p.T("change.cli.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("change.cli.bad_flag", err.Error()))
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintln(env.stderr, env.p.T("change.cli.bad_format", *format))
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(env.stderr, env.p.T("change.cli.args"))
		return 2
	}
	opt := change.Options{Date: workday.Of(diffNow())}
	for _, d := range []struct {
		flag, value string
		to          *workday.Date
	}{{"--date", *dateFlag, &opt.Date}, {"--first-use", *firstUseFlag, &opt.FirstUse}} {
		if d.value == "" {
			continue
		}
		v, err := workday.Parse(d.value)
		if err != nil {
			fmt.Fprintln(env.stderr, env.p.T("change.cli.bad_date", d.flag, d.value))
			return 2
		}
		*d.to = v
	}
	opt.Calendar = workday.Bulgaria()
	if *calendar != "" {
		o, err := workday.ReadOverridesFile(*calendar)
		if err != nil {
			var we *workday.Error
			if errors.As(err, &we) {
				fmt.Fprintln(env.stderr, "config diff:", we.Text(env.p))
			} else {
				fmt.Fprintln(env.stderr, "config diff:", err)
			}
			return 2
		}
		opt.Calendar = opt.Calendar.With(o)
	}

	load := func(path string) *change.Version {
		v, err := change.Load(path)
		if err != nil {
			diffLoadError(env, path, err)
			return nil
		}
		return v
	}
	old := load(fs.Arg(0))
	next := load(fs.Arg(1))
	if old == nil || next == nil {
		return 2
	}
	var hist []*change.Version
	if *history != "" {
		h, err := change.LoadHistory(*history)
		if err != nil {
			var ds config.Diagnostics
			if errors.As(err, &ds) && len(ds) > 0 {
				diffLoadError(env, ds[0].File, err)
			} else {
				fmt.Fprintln(env.stderr, env.p.T("change.cli.history", err.Error()))
			}
			return 2
		}
		hist = h
	}

	r := change.Compare(old, next, hist, opt)
	switch *format {
	case "json":
		e := json.NewEncoder(env.stdout)
		e.SetIndent("", "  ")
		e.SetEscapeHTML(false)
		if err := e.Encode(r.JSON(env.p)); err != nil {
			return 2
		}
	default:
		if err := r.WriteText(env.stdout, env.p); err != nil {
			return 2
		}
	}
	if r.Refused() {
		return 1
	}
	return 0
}

// diffLoadError explains why a version cannot be compared: its own diagnostics, in the person's language.
func diffLoadError(env *environment, path string, err error) {
	fmt.Fprintln(env.stderr, env.p.T("change.cli.load", path))
	var ds config.Diagnostics
	if errors.As(err, &ds) {
		for _, d := range ds.Errors() {
			fmt.Fprintln(env.stderr, "  "+d.Format(env.p))
		}
		return
	}
	fmt.Fprintln(env.stderr, "  "+err.Error())
}
