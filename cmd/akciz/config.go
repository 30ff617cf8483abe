package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/i18n"
)

// configCommands are the sub-commands of `akciz config`: check here, diff and map in config_diff.go and
// config_map.go.
var configCommands = newGroup("config", "config")

// registerConfig adds a sub-command of `akciz config`.
func registerConfig(c *command) { configCommands.add(c) }

func init() {
	register(&command{name: "config", summary: "config.summary", run: configCommands.run})
	registerConfig(&command{name: "check", summary: "config.check.summary", run: runConfigCheck})
}

// withLang returns env speaking the language of a --lang flag value.
func withLang(env *environment, lang string) *environment {
	e := *env
	e.p = i18n.For(i18n.Parse(lang))
	return &e
}

// langFlag is a --lang flag that switches the printer of env as soon as it is parsed, so that errors of
// the later flags are already in the chosen language.
type langFlag struct{ env **environment }

func (f langFlag) String() string { return "" }
func (f langFlag) Set(s string) error {
	if s != "bg" && s != "en" {
		return fmt.Errorf("%q", s)
	}
	*f.env = withLang(*f.env, s)
	return nil
}

func runConfigCheck(_ context.Context, env *environment, args []string) int {
	// --lang is looked for first so that the help and flag errors speak it.
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	format := fs.String("format", "text", "")
	help := func() { fmt.Fprintln(env.stdout, env.p.T("config.check.help")) }
	// Flags may come before or after the files.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				help()
				return 0
			}
			fmt.Fprintln(env.stderr, env.p.T("config.check.bad_flag", err.Error()))
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintln(env.stderr, env.p.T("config.check.bad_format", *format))
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(env.stderr, env.p.T("config.check.no_file"))
		return 2
	}
	failed := false
	var all []jsonDiagnostic
	for _, path := range files {
		c, ds := config.LoadFile(path)
		if ds.HasErrors() {
			failed = true
		}
		switch *format {
		case "json":
			for _, d := range ds {
				all = append(all, jsonDiagnostic{File: d.File, Line: d.Pos.Line, Column: d.Pos.Col,
					Severity: string(d.Severity), Rule: d.Rule, Message: config.Text(env.p, d.Msg)})
			}
		default:
			for _, d := range ds {
				fmt.Fprintln(env.stdout, d.Format(env.p))
			}
			if c != nil {
				fmt.Fprintln(env.stdout, env.p.T("config.check.ok", path, len(c.Points), len(c.Tags()), len(ds)))
			}
		}
	}
	if *format == "json" {
		if all == nil {
			all = []jsonDiagnostic{}
		}
		e := json.NewEncoder(env.stdout)
		e.SetIndent("", "  ")
		e.SetEscapeHTML(false)
		if err := e.Encode(all); err != nil {
			return 2
		}
	}
	if failed {
		return 1
	}
	return 0
}

// jsonDiagnostic is one finding of `akciz config check --format json`.
type jsonDiagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}
