// Command akciz is the one binary of akciz: the field simulator, the agent of the industrial computer,
// the agency's server and the configuration tools, as subcommands. Each subcommand lives in a file of its
// own and registers itself in commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/akciz/akciz/internal/i18n"
)

// command is one subcommand. run receives the arguments after the subcommand's name and returns the
// process exit code; it stops when ctx is cancelled (SIGINT, SIGTERM).
type command struct {
	name    string
	summary string // i18n key of a one-line description
	run     func(ctx context.Context, env *environment, args []string) int
}

// environment is what a subcommand may touch of the process, so that tests can run subcommands in-process.
type environment struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	p              *i18n.Printer
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("akciz: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &environment{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, p: i18n.For(i18n.FromEnv())}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, env, []string{"--help"})
			}
		}
		usage(env)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintln(env.stderr, env.p.T("main.unknown_command", args[0]))
		usage(env)
		return 2
	}
	return c.run(ctx, env, args[1:])
}

func usage(env *environment) {
	fmt.Fprintln(env.stderr, env.p.T("main.intro"))
	fmt.Fprintln(env.stderr)
	fmt.Fprintf(env.stderr, "%s: akciz <%s> [%s]\n\n", env.p.T("common.usage"), env.p.T("main.command"), env.p.T("main.arguments"))
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(env.stderr, "  %-10s %s\n", n, env.p.T(commands[n].summary))
	}
	fmt.Fprintln(env.stderr)
	fmt.Fprintln(env.stderr, env.p.T("main.more_help"))
}
