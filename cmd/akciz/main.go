// Command akciz is the one binary of akciz: the field simulator, the agent of the industrial computer,
// the agency's server and the configuration tools, as subcommands. Each subcommand lives in a file of its
// own and registers itself in commands.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
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

// commands are akciz's subcommands; each file adds its own with register in init().
var commands = newGroup("", "main")

func register(c *command) { commands.add(c) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &environment{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, p: i18n.For(i18n.FromEnv())}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, env *environment, args []string) int {
	return commands.run(ctx, env, args)
}
