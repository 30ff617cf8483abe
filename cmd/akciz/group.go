package main

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// group is a command made of sub-commands (akciz itself, akciz config check|diff|map, akciz sepi
// check|import). Each
// sub-command lives in a file of its own and adds itself with add in init(), so that no file needs
// another's to be edited. Its texts are the catalogue's <area>.intro, <area>.more_help and
// <area>.unknown_command.
type group struct {
	name     string // as typed after akciz
	area     string // the catalogue area of its texts
	commands map[string]*command
}

func newGroup(name, area string) *group {
	return &group{name: name, area: area, commands: map[string]*command{}}
}

// add adds a sub-command.
func (g *group) add(c *command) {
	if _, dup := g.commands[c.name]; dup {
		panic("akciz: " + g.name + " command registered twice: " + c.name)
	}
	g.commands[c.name] = c
}

// run dispatches to a sub-command. A --lang before the sub-command's name applies to the listing; the
// listing goes to stdout when asked for (help, --help) and to stderr with exit code 2 when the
// sub-command is missing.
func (g *group) run(ctx context.Context, env *environment, args []string) int {
	for len(args) >= 2 && (args[0] == "--lang" || args[0] == "-lang") {
		env = withLang(env, args[1])
		args = args[2:]
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := g.commands[args[1]]; ok {
				return c.run(ctx, env, []string{"--help"})
			}
		}
		if len(args) == 0 {
			g.usage(env, env.stderr)
			return 2
		}
		g.usage(env, env.stdout)
		return 0
	}
	c, ok := g.commands[args[0]]
	if !ok {
		fmt.Fprintln(env.stderr, env.p.T(g.area+".unknown_command", args[0]))
		g.usage(env, env.stderr)
		return 2
	}
	return c.run(ctx, env, args[1:])
}

func (g *group) usage(env *environment, w io.Writer) {
	fmt.Fprintln(w, env.p.T(g.area+".intro"))
	fmt.Fprintln(w)
	name := "akciz"
	if g.name != "" {
		name += " " + g.name
	}
	fmt.Fprintf(w, "%s: %s <%s> [%s]\n\n", env.p.T("common.usage"), name, env.p.T("main.command"), env.p.T("main.arguments"))
	names := make([]string, 0, len(g.commands))
	for n := range g.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, env.p.T(g.commands[n].summary))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, env.p.T(g.area+".more_help"))
}
