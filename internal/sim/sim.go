// Package sim is the field simulator of akciz: a model of the PLCs of an excise tax warehouse (flow
// meters with non-resettable totalizers, loading transactions driven by the calibration "change
// indicator", continuous pipeline meters, scales, piece counters, CNG dispensers, the box's door sensor
// and UPS) that answers Modbus requests from its register image, misbehaves on demand, and writes the
// ground truth of everything it produced to a JSON-lines log.
//
// Time is simulated: the plant advances in ticks (100 ms by default) and a Pacer decides how ticks
// relate to wall time. Randomness comes from seeded PCG sources, one per point, so the same scenario,
// seed and fault schedule give the same run, byte for byte in the truth log.
package sim

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// Options are the settings of one run.
type Options struct {
	Seed uint64 // the seed of every random choice
	// Start is the simulated time of tick 0; zero takes the scenario's start, or the wall clock.
	Start time.Time
	// Truth receives the ground-truth log; nil writes none. If it has a Sync() error method (an
	// *os.File), Close calls it.
	Truth io.Writer
	// Totals continues an earlier run: for a control point id, the totalizers (by role) start at these
	// values instead of at the scenario's initial and what follows from it, so that no totalizer goes
	// back across a restart (чл. 30, ал. 6). Roles the point does not count are ignored.
	Totals map[string]map[core.Role]float64
}

// Sim is a running simulated site. Step advances it; the Modbus handlers and the control API may be used
// from other goroutines meanwhile.
type Sim struct {
	sc    *Scenario
	tick  time.Duration
	start time.Time
	seed  uint64
	// resume is Options.Totals, read when the points are made.
	resume map[string]map[core.Role]float64

	mu       sync.RWMutex // guards the plant and the register images
	ticks    int64
	now      time.Time
	images   map[byte]*image
	points   []*pointState
	door     bool
	power    bool
	plant    []*ActiveFault // door, power and error-bits faults in force
	schedIdx int            // next scheduled fault
	sched    []*Fault       // scheduled faults sorted by At
	nextTot  time.Time
	truth    *truthLog
	closed   bool

	fmu     sync.Mutex // guards the communication faults, the queue and the request randomness
	comm    []*ActiveFault
	pending []pendingOp
	nextID  int
	frng    *rand.Rand
}

type image struct {
	dev  *Device
	regs [4][]uint16 // bit tables hold 0 or 1 per address
}

// ActiveFault is a fault in force: its id (for DELETE /faults/{id}), what it is, and when it began and
// ends (zero: when cleared) in simulated time.
type ActiveFault struct {
	ID    int       `json:"id"`
	Fault Fault     `json:"fault"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
}

type pendingOp struct {
	add   *ActiveFault
	clear int // fault id to clear; -1 all
}

type phase int

const (
	phaseIdle phase = iota
	phaseLead
	phaseFlow
	phaseLag
)

func (p phase) String() string {
	return [...]string{"idle", "lead", "flowing", "lag"}[p]
}

type pointState struct {
	p    *Point
	id   string
	rng  *rand.Rand
	role map[core.Role]*Register // the register of each role (start-total and transaction-quantity: the last)

	totals  map[core.Role]float64
	phase   phase
	left    int64 // ticks left in the phase
	running bool  // continuous points: flowing now
	batch   int64 // continuous points: ticks to the next product change
	target  float64
	flow    float64
	product *Product
	dir     core.Direction
	temp    float64
	d15     float64
	alcohol float64
	press   float64
	weight  float64
	ind     bool
	errBits uint16
	dirty   bool                  // the registers must be rewritten
	shown   []float64             // the value each register was last written with, by index
	written bool                  // shown is valid
	txStart map[core.Role]float64 // totals latched at the last 0→1
	tx      *openTx
}

type openTx struct {
	start   time.Time
	totals  map[core.Role]float64
	product *Product
	dir     core.Direction
	w, d15  float64 // flow-weighted sums for the averages
	temp    float64
	alcohol float64
}

// New prepares a run of sc. It writes the truth log's first record.
func New(sc *Scenario, o Options) (*Sim, error) {
	s := &Sim{sc: sc, tick: sc.Tick, seed: o.Seed, images: map[byte]*image{}, resume: o.Totals}
	s.start = o.Start
	if s.start.IsZero() {
		s.start = sc.Start
	}
	if s.start.IsZero() {
		s.start = time.Now()
	}
	s.start = s.start.UTC().Truncate(time.Millisecond)
	s.now = s.start
	s.frng = rand.New(rand.NewPCG(o.Seed, 0x6661756c74)) // "fault"
	s.sched = append([]*Fault(nil), sc.Faults...)
	sort.SliceStable(s.sched, func(i, j int) bool { return s.sched[i].At < s.sched[j].At })
	if sc.TruthPeriod > 0 {
		s.nextTot = s.start.Add(sc.TruthPeriod)
	}
	if o.Truth != nil {
		s.truth = newTruthLog(o.Truth)
	}
	n := 0
	for _, d := range sc.Devices {
		img := &image{dev: d}
		for t := range img.regs {
			img.regs[t] = make([]uint16, d.Size[t])
		}
		s.images[d.Unit] = img
		for _, p := range d.Points {
			n++
			s.points = append(s.points, s.newPoint(p, uint64(n)))
		}
	}
	s.writeImages()
	s.logStart()
	if err := s.truth.flush(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sim) newPoint(p *Point, stream uint64) *pointState {
	ps := &pointState{
		p:       p,
		id:      core.PointID{Warehouse: s.sc.Warehouse, Box: s.sc.Box, Point: p.Number}.String(),
		rng:     rand.New(rand.NewPCG(s.seed, stream)),
		role:    map[core.Role]*Register{},
		totals:  map[core.Role]float64{},
		txStart: map[core.Role]float64{},
		dir:     p.Direction,
		dirty:   true,
		shown:   make([]float64, len(p.Registers)),
	}
	for _, r := range p.Registers {
		ps.role[r.Role] = r
	}
	ps.product = p.Products[0]
	ps.newProductState()
	// Initial totals: the primary as the scenario says, the others consistent with the first product.
	prim := p.Kind.Primary()
	ps.totals[prim] = p.Initial
	if p.Kind == KindMeter {
		vcf := 1 - ps.product.Expansion*(ps.product.Temperature.Mid()-15)
		ps.totals[core.RoleTotalStdVolume] = p.Initial * vcf
		ps.totals[core.RoleTotalMass] = p.Initial * vcf * ps.product.Density15.Mid() * ps.massFactor()
	}
	for role, v := range s.resume[ps.id] {
		if _, ok := ps.totals[role]; ok {
			ps.totals[role] = v
		}
	}
	for _, t := range p.Kind.totalizers() {
		ps.txStart[t] = ps.totals[t]
	}
	if p.Run.Batch.Set() {
		ps.batch = s.ticksOf(ps.drawDuration(p.Run.Batch))
	}
	if p.Mode == core.ModeTransaction {
		// Stagger the points: the first transaction starts somewhere within one gap.
		ps.phase = phaseIdle
		ps.left = 1 + ps.rng.Int64N(max(1, s.ticksOf(p.Run.Gap.Max)))
	} else if p.Run.Duration.Set() {
		ps.running = true
		ps.left = s.ticksOf(ps.drawDuration(p.Run.Duration))
		ps.target = ps.draw(p.Run.Rate)
		ps.flow = ps.target
	} else {
		ps.running = true
		ps.target = ps.draw(p.Run.Rate)
		ps.flow = ps.target
	}
	return ps
}

// massFactor converts volume × density (kg/m³) to kg.
func (ps *pointState) massFactor() float64 {
	if ps.p.VolumeUnit == "m3" {
		return 1
	}
	return 0.001
}

func (ps *pointState) draw(r Range) float64 {
	if r.Max == r.Min {
		return r.Min
	}
	return r.Min + ps.rng.Float64()*(r.Max-r.Min)
}

func (ps *pointState) drawDuration(r DurationRange) time.Duration {
	if r.Max == r.Min {
		return r.Min
	}
	return r.Min + time.Duration(ps.rng.Int64N(int64(r.Max-r.Min)+1))
}

// newProductState draws the properties of a new batch or transaction of the current product.
func (ps *pointState) newProductState() {
	q := ps.product
	ps.temp = ps.draw(q.Temperature)
	ps.d15 = ps.draw(q.Density15)
	ps.alcohol = ps.draw(q.Alcohol)
	ps.press = ps.draw(ps.p.Run.Pressure)
}

func (s *Sim) ticksOf(d time.Duration) int64 {
	return max(1, int64((d+s.tick/2)/s.tick))
}

// Scenario is the scenario being run.
func (s *Sim) Scenario() *Scenario { return s.sc }

// Tick is the simulated time step.
func (s *Sim) Tick() time.Duration { return s.tick }

// Now is the simulated time of the last step.
func (s *Sim) Now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.now
}

// Elapsed is the simulated time since the start.
func (s *Sim) Elapsed() time.Duration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return time.Duration(s.ticks) * s.tick
}

// Advance steps the simulation by d of simulated time at once, without pacing: tests and fast runs.
func (s *Sim) Advance(d time.Duration) error {
	for n := int64(d / s.tick); n > 0; n-- {
		if err := s.Step(); err != nil {
			return err
		}
	}
	return nil
}

// Step advances the simulation by one tick: faults due now are applied or cleared, every point moves,
// the register images are rewritten, and what happened is logged.
func (s *Sim) Step() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sim: step after close")
	}
	s.ticks++
	s.now = s.start.Add(time.Duration(s.ticks) * s.tick)
	s.expireFaults()
	for s.schedIdx < len(s.sched) && time.Duration(s.sched[s.schedIdx].At) <= time.Duration(s.ticks)*s.tick {
		f := *s.sched[s.schedIdx]
		s.schedIdx++
		s.applyFault(s.newActive(f))
	}
	s.fmu.Lock()
	ops := s.pending
	s.pending = nil
	s.fmu.Unlock()
	for _, op := range ops {
		if op.add != nil {
			op.add.Since = s.now
			if op.add.Fault.For > 0 {
				op.add.Until = s.now.Add(time.Duration(op.add.Fault.For))
			}
			s.applyFault(op.add)
		} else {
			s.clearFaults(op.clear)
		}
	}
	for _, ps := range s.points {
		s.stepPoint(ps)
	}
	s.writeImages()
	if !s.nextTot.IsZero() && !s.now.Before(s.nextTot) {
		for _, ps := range s.points {
			s.logTotals(ps)
		}
		s.nextTot = s.nextTot.Add(s.sc.TruthPeriod)
	}
	return s.truth.flush()
}

func (s *Sim) stepPoint(ps *pointState) {
	p := ps.p
	if s.power {
		// The pumps and the lines are not on the UPS: everything stands still until power returns, and
		// a transaction in progress stays open.
		if ps.flow != 0 {
			ps.flow = 0
			ps.dirty = true
		}
		return
	}
	// An idle point changes nothing but its countdown; not rewriting its registers is most of the cost
	// of a tick on a quiet site.
	ps.dirty = ps.dirty || ps.phase != phaseIdle || ps.running || ps.left <= 1
	dt := float64(s.tick) / float64(p.Run.Per)
	if p.Mode == core.ModeTransaction {
		ps.left--
		switch ps.phase {
		case phaseIdle:
			if ps.left <= 0 {
				s.beginTransaction(ps)
			}
		case phaseLead:
			if ps.left <= 0 {
				ps.phase = phaseFlow
				ps.left = s.ticksOf(ps.drawDuration(p.Run.Duration))
			}
		case phaseFlow:
			ps.flow = max(0, ps.target*(1+0.004*ps.rng.NormFloat64()))
			ps.temp = clamp(ps.temp+0.002*ps.rng.NormFloat64(), ps.product.Temperature)
			ps.accumulate(ps.flow * dt)
			if ps.left <= 0 {
				ps.phase = phaseLag
				ps.left = s.ticksOf(p.Run.Lag)
			}
		case phaseLag:
			// The register showed the last flowing tick's rate; the valves are closed now.
			ps.flow = 0
			if ps.left <= 0 {
				s.endTransaction(ps)
			}
		}
		return
	}
	// Continuous: flow wanders around a target that is redrawn about once a minute; production lines
	// (a run duration given) stop for their gaps.
	if p.Run.Duration.Set() {
		ps.left--
		if ps.left <= 0 {
			ps.running = !ps.running
			if ps.running {
				ps.left = s.ticksOf(ps.drawDuration(p.Run.Duration))
				ps.target = ps.draw(p.Run.Rate)
			} else {
				ps.left = s.ticksOf(ps.drawDuration(p.Run.Gap))
			}
		}
	}
	if p.Run.Batch.Set() {
		ps.batch--
		if ps.batch <= 0 {
			ps.batch = s.ticksOf(ps.drawDuration(p.Run.Batch))
			s.changeProduct(ps)
		}
	}
	if !ps.running {
		ps.flow = 0
		return
	}
	if ps.rng.Int64N(max(1, s.ticksOf(time.Minute))) == 0 {
		ps.target = ps.draw(p.Run.Rate)
	}
	ps.flow += (ps.target - ps.flow) * 0.01
	ps.flow = max(0, ps.flow*(1+0.002*ps.rng.NormFloat64()))
	ps.temp = clamp(ps.temp+0.001*ps.rng.NormFloat64(), ps.product.Temperature)
	ps.accumulate(ps.flow * dt)
}

func clamp(v float64, r Range) float64 {
	if !r.Set() {
		return v
	}
	return math.Max(r.Min, math.Min(r.Max, v))
}

// accumulate adds d of the point's primary quantity to its totalizers.
func (ps *pointState) accumulate(d float64) {
	p := ps.p
	switch p.Kind {
	case KindMeter:
		vcf := 1 - ps.product.Expansion*(ps.temp-15)
		std := d * vcf
		ps.totals[core.RoleTotalVolume] += d
		ps.totals[core.RoleTotalStdVolume] += std
		ps.totals[core.RoleTotalMass] += std * ps.d15 * ps.massFactor()
	case KindCounter:
		ps.totals[core.RoleTotalCount] += d
	case KindScale, KindCNG:
		ps.totals[core.RoleTotalMass] += d
		ps.weight += d
	}
	if ps.tx != nil {
		ps.tx.w += d
		ps.tx.d15 += d * ps.d15
		ps.tx.temp += d * ps.temp
		ps.tx.alcohol += d * ps.alcohol
	}
}

func (s *Sim) beginTransaction(ps *pointState) {
	p := ps.p
	ps.product = p.Products[ps.rng.IntN(len(p.Products))]
	if p.Direction == core.DirectionBoth {
		ps.dir = core.DirectionOut
		if ps.rng.IntN(2) == 1 {
			ps.dir = core.DirectionIn
		}
	}
	ps.newProductState()
	ps.target = ps.draw(p.Run.Rate)
	ps.weight = 0
	ps.ind = true
	for _, t := range p.Kind.totalizers() {
		ps.txStart[t] = ps.totals[t]
	}
	ps.tx = &openTx{start: s.now, totals: copyTotals(ps.totals), product: ps.product, dir: ps.dir}
	ps.phase = phaseLead
	ps.left = s.ticksOf(p.Run.Lead)
}

func (s *Sim) endTransaction(ps *pointState) {
	ps.ind = false
	ps.phase = phaseIdle
	ps.left = s.ticksOf(ps.drawDuration(ps.p.Run.Gap))
	s.logTransaction(ps, "transaction")
	ps.tx = nil
}

func (s *Sim) changeProduct(ps *pointState) {
	if len(ps.p.Products) < 2 {
		ps.newProductState()
		return
	}
	ps.dirty = true
	prev := ps.product
	var others []*Product
	for _, q := range ps.p.Products {
		if q != prev {
			others = append(others, q)
		}
	}
	if len(others) == 0 {
		ps.newProductState()
		return
	}
	ps.product = others[ps.rng.IntN(len(others))]
	ps.newProductState()
	s.logEvent(eventRec{Event: "product-change", Point: ps.id, Product: ps.product.Code, Previous: prev.Code})
}

func copyTotals(m map[core.Role]float64) map[core.Role]float64 {
	c := make(map[core.Role]float64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// value is what a register of role r of the point shows now.
func (ps *pointState) value(r *Register) float64 {
	switch r.Role {
	case core.RoleTotalVolume, core.RoleTotalStdVolume, core.RoleTotalMass, core.RoleTotalCount:
		return ps.totals[r.Role]
	case core.RoleFlow:
		return ps.flow
	case core.RoleTemperature:
		return ps.temp
	case core.RoleDensity15:
		return ps.d15
	case core.RoleDensity:
		return ps.d15 * (1 - ps.product.Expansion*(ps.temp-15))
	case core.RoleAlcohol:
		return ps.alcohol
	case core.RolePressure:
		return ps.press
	case core.RoleWeight:
		return ps.weight
	case core.RoleProductCode:
		return float64(ps.product.Raw)
	case core.RoleDirection:
		if ps.dir == core.DirectionIn {
			return 1
		}
		return 0
	case core.RoleTransactionFlag:
		if ps.ind {
			return 1
		}
		return 0
	case core.RoleStartTotal:
		return ps.txStart[r.Of]
	case core.RoleTransactionQuantity:
		return ps.totals[r.Of] - ps.txStart[r.Of]
	case core.RoleErrorBits:
		return float64(ps.errBits)
	}
	return 0
}

func (s *Sim) writeImages() {
	for _, img := range s.images {
		for _, r := range img.dev.Registers {
			v := 0.0
			switch {
			case r.Role == core.RoleDoor && s.door, r.Role == core.RoleUPS && s.power:
				v = 1
			}
			r.put(img.regs[r.Table], v)
		}
	}
	for _, ps := range s.points {
		if !ps.dirty {
			continue
		}
		ps.dirty = false
		img := s.images[ps.p.unit]
		for i, r := range ps.p.Registers {
			// Most registers of a flowing point (product, indicator, density, start total) do not change
			// from tick to tick; encoding only those that did halves the cost of a tick.
			if v := ps.value(r); v != ps.shown[i] || !ps.written {
				r.put(img.regs[r.Table], v)
				ps.shown[i] = v
			}
		}
		ps.written = true
	}
}

// Close ends the run: it logs the transactions still open and the end of the run, and flushes (and
// syncs, for a file) the truth log. The simulation cannot step after Close.
func (s *Sim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, ps := range s.points {
		if ps.tx != nil {
			s.logTransaction(ps, "transaction-open")
		}
	}
	s.logStop()
	return s.truth.close()
}

// State is a snapshot of the plant, as GET /state gives it.
type State struct {
	Time    string        `json:"time"`
	Elapsed string        `json:"elapsed"`
	Ticks   int64         `json:"ticks"`
	Door    bool          `json:"door_open"`
	Power   bool          `json:"on_battery"`
	Faults  []ActiveFault `json:"faults"`
	Points  []PointState  `json:"points"`
}

// PointState is a snapshot of one point: its totals and instantaneous values as its registers show
// them.
type PointState struct {
	ID        string            `json:"id"`
	Number    int               `json:"number"`
	Unit      int               `json:"unit"`
	Name      string            `json:"name"`
	Phase     string            `json:"phase"`
	Indicator bool              `json:"indicator"`
	Product   string            `json:"product"`
	Direction string            `json:"direction"`
	ErrorBits uint16            `json:"error_bits"`
	Values    map[string]string `json:"values"` // role -> value as the register shows it
}

// State takes a snapshot.
func (s *Sim) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := State{Time: stamp(s.now), Elapsed: (time.Duration(s.ticks) * s.tick).String(), Ticks: s.ticks, Door: s.door, Power: s.power}
	st.Faults = append([]ActiveFault{}, derefAll(s.plant)...)
	s.fmu.Lock()
	st.Faults = append(st.Faults, derefAll(s.comm)...)
	s.fmu.Unlock()
	sort.Slice(st.Faults, func(i, j int) bool { return st.Faults[i].ID < st.Faults[j].ID })
	for _, ps := range s.points {
		ph := ps.phase.String()
		if ps.p.Mode == core.ModeContinuous {
			ph = "stopped"
			if ps.running {
				ph = "running"
			}
		}
		x := PointState{ID: ps.id, Number: ps.p.Number, Unit: int(ps.p.unit), Name: ps.p.Name, Phase: ph,
			Indicator: ps.ind, Product: ps.product.Code, Direction: string(ps.dir), ErrorBits: ps.errBits,
			Values: map[string]string{}}
		for _, r := range ps.p.Registers {
			key := string(r.Role)
			if r.Of != "" {
				key += ":" + string(r.Of)
			}
			x.Values[key] = string(r.observe(ps.value(r)))
		}
		st.Points = append(st.Points, x)
	}
	return st
}

func derefAll(a []*ActiveFault) []ActiveFault {
	out := make([]ActiveFault, len(a))
	for i, f := range a {
		out[i] = *f
	}
	return out
}

// stamp formats a simulated time as the truth log does: RFC 3339, milliseconds, UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func itoa(i int) string { return strconv.Itoa(i) }
