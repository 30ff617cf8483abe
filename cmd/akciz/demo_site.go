package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/akciz/akciz/examples"
	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/store"
)

// The people of the demo, for the console. The operator, its site and its box come from the sample
// automation_config.xml.
const (
	demoOfficerName = "Мария Петрова (демо митнически служител)"
	demoPersonName  = "Иван Георгиев (демо служител на оператора)"
	// The addresses are in .invalid (RFC 2606): the demo sends no e-mail anywhere.
	demoOfficerEmail = "officer@demo.akciz.invalid"
	demoPersonEmail  = "operator@demo.akciz.invalid"
)

// The ИКУНК and its operator, as examples/fuel-depot/automation_config.xml names them; the tests check
// that the file still says so.
const (
	demoOperatorEIK  = "131071587"
	demoOperatorName = "Нефтобаза Девня АД"
	demoWarehouse    = "BGNCA00005001"
	demoDevice       = demoWarehouse + "001"
	demoOffice       = "BG002000"
)

const demoConfigFile = "automation_config.xml"

// demoConfig gives the agent's automation_config.xml in dir, reading the controllers at modbusAddr: the
// one there from an earlier start, else the sample's. It is written again only when it changes, so that
// its hash (which every record carries) stays the same from start to start.
func demoConfig(dir, modbusAddr string) (string, *config.Config, error) {
	path := filepath.Join(dir, demoConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if data, err = fs.ReadFile(examples.Configs, demoScenario+"/"+demoConfigFile); err != nil {
			return "", nil, err
		}
	} else if err != nil {
		return "", nil, err
	}
	cfg, ds := config.Parse(path, data)
	if len(ds) > 0 && ds.HasErrors() {
		return "", nil, ds
	}
	for _, c := range cfg.Controllers {
		if c.Transport == config.TCP {
			c.Address = modbusAddr
		}
	}
	if out := config.Marshal(cfg); !bytes.Equal(out, data) {
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return "", nil, err
		}
	}
	return path, cfg, nil
}

// demoSettings writes the agent's agent.conf in dir: the server at intake, trusting the demo CA, signing
// with the ИКУНК's certificate, the journal and state beside it.
func demoSettings(dir, intake, logKey string, certs *demoCerts) (string, error) {
	path := filepath.Join(dir, "agent.conf")
	text := fmt.Sprintf(`# akciz demo: the agent's settings, written at every start (docs/agent-operations.md).
server = https://%s
server-name = localhost
ca = %s
signer = %s
signer-cert = %s
log-key = %s
journal = journal
state = state
batch-max-wait = 1s
retry-max = 5s
log-level = warn
`, intake, certs.path("ca.pem"), certs.path("agent-key.pem"), certs.path("agent.pem"), logKey)
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// demoRegister puts what the server must know into its registry, once, through the commands an
// administrator runs (akciz server operator|site|device|cert add, akciz console person add): the
// operator, its site and box and the box's certificate, and the two people of the console with their
// login certificates; and the control points of the configuration. It says what it added.
func demoRegister(ctx context.Context, env *environment, st store.Store, serverDir string, cfg *config.Config, certs *demoCerts) ([]string, error) {
	var added []string
	// admin runs one registry command of cmd (runServer or runConsole) on the demo's server directory.
	admin := func(cmd func(context.Context, *environment, []string) int, what string, args ...string) error {
		var out, errb bytes.Buffer
		aenv := &environment{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), p: env.p}
		args = append(args[:2:2], append([]string{"--dir", serverDir}, args[2:]...)...)
		if code := cmd(ctx, aenv, args); code != 0 {
			return &msgError{msg: strings.TrimSpace(errb.String()), err: fmt.Errorf("demo: %s: exit %d", strings.Join(args, " "), code)}
		}
		added = append(added, what)
		return nil
	}
	missing := func(err error) (bool, error) {
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		return false, err
	}
	eik, site, device := cfg.Person.EIK, cfg.Site.Warehouse, fmt.Sprintf("%s%03d", cfg.Site.ID(), cfg.Box.Number)
	agentCert := certs.leaf("agent")
	// personKnown looks the person of a login certificate up.
	personKnown := func(cert string) func() error {
		return func() error {
			_, _, err := st.PersonByCertificate(ctx, store.Fingerprint(certs.leaf(cert).Raw))
			return err
		}
	}
	steps := []struct {
		look func() error
		cmd  func(context.Context, *environment, []string) int
		what string
		args []string
	}{
		{func() error { _, err := st.Operator(ctx, eik); return err }, runServer, env.p.T("demo.reg.operator", eik, cfg.Person.Name),
			[]string{"operator", "add", "--eik", eik, "--name", cfg.Person.Name, "--excise", cfg.Person.ExciseNumber}},
		{func() error { _, err := st.Site(ctx, site); return err }, runServer, env.p.T("demo.reg.site", site, cfg.Site.Name),
			[]string{"site", "add", "--warehouse", site, "--operator", eik, "--name", cfg.Site.Name, "--office", cfg.Site.CustomsOffice}},
		{func() error { _, err := st.Device(ctx, device); return err }, runServer, env.p.T("demo.reg.device", device),
			[]string{"device", "add", "--id", device, "--name", fmt.Sprintf("ИКУНК %03d", cfg.Box.Number)}},
		{func() error { _, err := st.Certificate(ctx, store.Fingerprint(agentCert.Raw)); return err }, runServer,
			env.p.T("demo.reg.cert", agentCert.Subject.CommonName),
			[]string{"cert", "add", "--operator", eik, certs.path("agent.pem")}},
		{personKnown("officer"), runConsole, env.p.T("demo.reg.person", demoOfficerName, env.p.T("demo.role.officer")),
			[]string{"person", "add", "--name", demoOfficerName, "--role", string(store.RoleOfficer), "--office", cfg.Site.CustomsOffice,
				"--email", demoOfficerEmail, "--cert", certs.path("officer.pem")}},
		{personKnown("operator"), runConsole, env.p.T("demo.reg.person", demoPersonName, env.p.T("demo.role.operator")),
			[]string{"person", "add", "--name", demoPersonName, "--role", string(store.RoleOperator), "--operator", eik,
				"--email", demoPersonEmail, "--cert", certs.path("operator.pem")}},
	}
	for _, s := range steps {
		if need, err := missing(s.look()); err != nil {
			return added, err
		} else if need {
			if err := admin(s.cmd, s.what, s.args...); err != nil {
				return added, err
			}
		}
	}
	// The control points: no command registers them (the console takes them from a configuration
	// version), so the store is told directly.
	have, err := st.Points(ctx, device)
	if err != nil {
		return added, err
	}
	known := map[string]bool{}
	for _, p := range have {
		known[p.ID] = true
	}
	n := 0
	for _, p := range cfg.Points {
		if !known[p.ID] {
			if err := st.PutPoint(ctx, store.Point{ID: p.ID, Name: p.Name}); err != nil {
				return added, err
			}
			n++
		}
	}
	if n > 0 {
		added = append(added, env.p.T("demo.reg.points", n))
	}
	return added, nil
}
