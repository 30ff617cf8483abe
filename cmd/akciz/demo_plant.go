package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/agent/deliver"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/sim"
)

// The plant of the demo: the fuel-depot scenario's simulator, run in this process.
const (
	demoScenario = "fuel-depot"
	// demoPlantFile keeps, between starts, where the plant's meters stopped and the Modbus address it
	// served, so that a second start continues the totalizers (чл. 30, ал. 6: they never go back) and
	// the agent's configuration stays the same.
	demoPlantFile = "plant.json"
	demoTruthFile = "truth.jsonl"
)

// demoDoorAt is when, in simulated time after the start, the demo opens the box's door (чл. 36) for
// demoDoorFor, so that an alarm comes within the first minute at the default speed; the tests make it
// sooner.
var (
	demoDoorAt  = 20 * time.Minute
	demoDoorFor = 3 * time.Minute
)

// demoLeadWall is the least wall time between a transaction indicator going up and the flow starting.
const demoLeadWall = 2 * time.Second

// plantState is demoPlantFile.
type plantState struct {
	Modbus string `json:"modbus"` // the address the simulator served
	// Totals are the totalizers when it stopped, as their registers showed them: control point id →
	// role (total-volume, total-std-volume, total-mass, total-count) → value.
	Totals map[string]map[string]string `json:"totals"`
}

// demoPlant is the running simulator.
type demoPlant struct {
	dir   string
	sc    *sim.Scenario
	s     *sim.Sim
	ln    net.Listener
	truth *os.File

	stopRun, stopServe context.CancelFunc
	runDone, serveDone chan error
}

// readPlantState reads dir's plant.json; none is the zero state.
func readPlantState(dir string) (plantState, error) {
	var st plantState
	b, err := os.ReadFile(filepath.Join(dir, demoPlantFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, demoPlantFile), err)
	}
	return st, nil
}

// listenPlant opens the simulator's Modbus TCP listener: where it was last time if that is free (so the
// agent's configuration does not change), else on any free loopback port.
func listenPlant(prev string) (net.Listener, error) {
	if prev != "" {
		if ln, err := net.Listen("tcp", prev); err == nil {
			return ln, nil
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// startPlant starts the fuel depot's simulator at speed on ln, its totalizers continuing from st, with the
// demo's door opening scheduled; the ground truth goes to dir/truth.jsonl.
func startPlant(dir string, ln net.Listener, st plantState, speed float64) (*demoPlant, error) {
	sc, err := loadScenario(demoScenario)
	if err != nil {
		return nil, err
	}
	// The agent reads a transaction indicator every second of wall time, but the plant runs speed times
	// faster: a lead of a few simulated seconds would pass between two reads, and a meter without a
	// start-total register (чл. 30, ал. 17) would start its first transaction at a total read after the
	// flow began. The lead is stretched to two seconds of wall time, so that the agent sees the indicator
	// go up while nothing flows yet, as it does at real speed.
	lead := time.Duration(demoLeadWall.Seconds() * speed * float64(time.Second))
	for _, d := range sc.Devices {
		for _, p := range d.Points {
			if p.Run.Lead < lead {
				p.Run.Lead = lead
			}
		}
	}
	totals := map[string]map[core.Role]float64{}
	for id, t := range st.Totals {
		totals[id] = map[core.Role]float64{}
		for role, v := range t {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				totals[id][core.Role(role)] = f
			}
		}
	}
	sc.Faults = append(sc.Faults, &sim.Fault{Kind: sim.FaultDoor, At: sim.Duration(demoDoorAt), For: sim.Duration(demoDoorFor)})
	truth, err := os.OpenFile(filepath.Join(dir, demoTruthFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	s, err := sim.New(sc, sim.Options{Seed: sc.Seed, Truth: truth, Totals: totals})
	if err != nil {
		truth.Close()
		return nil, err
	}
	p := &demoPlant{dir: dir, sc: sc, s: s, ln: ln, truth: truth, runDone: make(chan error, 1), serveDone: make(chan error, 1)}
	serveCtx, stopServe := context.WithCancel(context.Background())
	runCtx, stopRun := context.WithCancel(context.Background())
	p.stopServe, p.stopRun = stopServe, stopRun
	srv := &modbus.Server{Handler: s.Handler(), IdleTimeout: 10 * time.Minute}
	go func() { p.serveDone <- srv.ServeTCP(serveCtx, ln) }()
	go func() { p.runDone <- s.Run(runCtx, sim.RealTime(speed), 0) }()
	return p, nil
}

// stop ends the simulation, then serving (the agent has stopped reading by then), and keeps where the
// meters stopped for the next start.
func (p *demoPlant) stop() error {
	p.stopRun()
	runErr := <-p.runDone
	p.stopServe()
	p.ln.Close()
	<-p.serveDone
	st := plantState{Modbus: p.ln.Addr().String(), Totals: map[string]map[string]string{}}
	for _, ps := range p.s.State().Points {
		t := map[string]string{}
		for role, v := range ps.Values {
			if core.Role(role).Totalizer() {
				t[role] = v
			}
		}
		st.Totals[ps.ID] = t
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = deliver.WriteFileAtomic(filepath.Join(p.dir, demoPlantFile), b)
	}
	return errors.Join(runErr, err, p.s.Close(), p.truth.Close())
}
