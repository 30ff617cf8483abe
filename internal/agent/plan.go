package agent

import (
	"cmp"
	"slices"
	"time"

	"github.com/akciz/akciz/internal/config"
)

// Plan is what the agent reads in one full scan: for each controller, the coalesced read requests.
type Plan struct {
	Controllers []*ControllerPlan
}

// ControllerPlan is the requests of one controller, which the agent sends on one connection.
type ControllerPlan struct {
	Controller *config.Controller
	Requests   []*Request
}

// Request is one Modbus read: a contiguous range of one table of one unit, and the tags it carries.
type Request struct {
	Unit     byte
	Table    config.Table
	Address  int           // first register (or bit) read
	Quantity int           // registers (or bits) read
	Interval time.Duration // how often the request is sent: the read interval its tags share
	Tags     []Slot        // the tags read by the request, by address
}

// Slot is a tag inside a request: where its registers start in the response.
type Slot struct {
	Ref    config.TagRef
	Offset int // first register (or bit) of the tag, counted from Request.Address
}

// Requests is the number of requests of one full scan: every request of every controller once.
func (p *Plan) Requests() int {
	n := 0
	for _, c := range p.Controllers {
		n += len(c.Requests)
	}
	return n
}

// group is the key under which tags may share a request: the same connection, unit, table and cadence.
// Tags read at different intervals are never coalesced: a 1-second door bit must not drag a hundred
// registers read once a minute into every second's scan.
type group struct {
	unit     int
	table    config.Table
	interval time.Duration
}

// span is the registers (or bits) one tag occupies.
func span(t *config.Tag) (addr, size int) {
	size = t.Size
	if size <= 0 {
		size = 1
	}
	if t.Table.Bits() {
		size = 1
	}
	return t.Physical, size
}

// limits returns the largest request and the largest gap the controller allows for a table.
func limits(c *config.Controller, table config.Table) (maxQty, maxGap int) {
	maxQty = c.Quirks.RegisterLimit()
	if table.Bits() {
		maxQty = c.Quirks.CoilLimit()
	}
	maxGap = max(c.Quirks.MaxGap, 0)
	return maxQty, maxGap
}

// TagInterval is how often the agent reads a tag of point p (nil for a tag of the box): the tag's read
// interval, else the point's interval, else the class maximum; a point's tag is never read less often than
// the class maximum of чл. 30, ал. 13. A tag of the box is read every config.DefaultBoxReadInterval unless
// it says otherwise.
func TagInterval(t *config.Tag, p *config.Point) time.Duration {
	if p == nil {
		return t.EffectiveReadInterval(nil)
	}
	limit := p.Class.MaxInterval()
	d := t.ReadInterval
	if d <= 0 {
		d = PointInterval(p)
	}
	if limit > 0 && d > limit {
		d = limit
	}
	return d
}

// PointInterval is the interval of a point's readings: its configured interval, never longer than the
// class maximum of чл. 30, ал. 13.
func PointInterval(p *config.Point) time.Duration {
	limit := p.Class.MaxInterval()
	d := p.Interval
	if d <= 0 || (limit > 0 && d > limit) {
		d = limit
	}
	if d <= 0 {
		d = time.Minute
	}
	return d
}

// PlanConfig builds the plan of cfg: for each controller, its tags grouped by unit, table and read
// interval, sorted by address, and coalesced greedily from the lowest address: a tag joins the open
// request while the request stays within the controller's quantity limit and the unread gap before the
// tag is at most its MaxGap. Greedy from the left is optimal for covering sorted intervals with windows of
// bounded length (MinimumRequests checks it with a different algorithm). A controller with the quirk
// OneRequestPerTag gets one request per distinct register range.
func PlanConfig(cfg *config.Config) *Plan {
	byCtl := map[string][]config.TagRef{}
	for _, r := range cfg.Tags() {
		byCtl[r.Tag.Controller] = append(byCtl[r.Tag.Controller], r)
	}
	plan := &Plan{}
	for _, c := range cfg.Controllers {
		cp := &ControllerPlan{Controller: c}
		groups := map[group][]config.TagRef{}
		var keys []group
		for _, r := range byCtl[c.ID] {
			g := group{r.Tag.EffectiveUnitID(c), r.Tag.Table, TagInterval(r.Tag, r.Point)}
			if _, ok := groups[g]; !ok {
				keys = append(keys, g)
			}
			groups[g] = append(groups[g], r)
		}
		slices.SortFunc(keys, func(a, b group) int {
			return cmp.Or(cmp.Compare(a.unit, b.unit), cmp.Compare(a.table, b.table), cmp.Compare(a.interval, b.interval))
		})
		for _, g := range keys {
			cp.Requests = append(cp.Requests, coalesce(c, g, groups[g])...)
		}
		plan.Controllers = append(plan.Controllers, cp)
	}
	return plan
}

func coalesce(c *config.Controller, g group, refs []config.TagRef) []*Request {
	slices.SortStableFunc(refs, func(a, b config.TagRef) int {
		aa, as := span(a.Tag)
		ba, bs := span(b.Tag)
		return cmp.Or(cmp.Compare(aa, ba), cmp.Compare(as, bs))
	})
	maxQty, maxGap := limits(c, g.table)
	var out []*Request
	var cur *Request
	for _, r := range refs {
		a, n := span(r.Tag)
		if cur != nil {
			end := cur.Address + cur.Quantity
			fits := max(end, a+n)-cur.Address <= maxQty && a-end <= maxGap
			if c.Quirks.OneRequestPerTag {
				// Tags at exactly the same registers (bits of one word) share the read; nothing else does.
				fits = a == cur.Address && a+n == end
			}
			if fits {
				cur.Quantity = max(cur.Quantity, a+n-cur.Address)
				cur.Tags = append(cur.Tags, Slot{Ref: r, Offset: a - cur.Address})
				continue
			}
		}
		cur = &Request{Unit: byte(g.unit), Table: g.table, Address: a, Quantity: n, Interval: g.interval,
			Tags: []Slot{{Ref: r}}}
		out = append(out, cur)
	}
	return out
}

// MinimumRequests is the least number of requests that reads every tag of cfg under the same rules as
// PlanConfig (tags of one request share controller, unit, table and read interval; a request spans at
// most the controller's limit, reads through gaps of at most MaxGap, and with OneRequestPerTag carries one
// register range). It is computed independently of the planner, by dynamic programming over each group's
// tags sorted by address, so that a benchmark can compare the two: best[j] is the fewest requests covering
// the first j tags, and tags i..j-1 can share one request when their whole span fits the limit and no gap
// between consecutive tags exceeds MaxGap.
func MinimumRequests(cfg *config.Config) int {
	type key struct {
		ctl      string
		unit     int
		table    config.Table
		interval time.Duration
	}
	type iv struct{ lo, hi int } // [lo, hi)
	sets := map[key][]iv{}
	for _, r := range cfg.Tags() {
		c := cfg.Controller(r.Tag.Controller)
		if c == nil {
			continue
		}
		a, n := span(r.Tag)
		k := key{c.ID, r.Tag.EffectiveUnitID(c), r.Tag.Table, TagInterval(r.Tag, r.Point)}
		sets[k] = append(sets[k], iv{a, a + n})
	}
	total := 0
	for k, ivs := range sets {
		c := cfg.Controller(k.ctl)
		slices.SortFunc(ivs, func(a, b iv) int { return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(a.hi, b.hi)) })
		ivs = slices.Compact(ivs)
		if c.Quirks.OneRequestPerTag {
			total += len(ivs)
			continue
		}
		maxQty, maxGap := limits(c, k.table)
		const inf = int(^uint(0) >> 1)
		best := make([]int, len(ivs)+1)
		for j := 1; j <= len(ivs); j++ {
			best[j] = inf
		}
		// Forward: from every reachable i, one request covers tags i..j-1 for each j while the window
		// stays within the limit and without a wide gap; extending a window can never close a gap or
		// shrink its span, so the walk stops at the first violation.
		for i := 0; i < len(ivs); i++ {
			if best[i] == inf {
				continue
			}
			lo, hi := ivs[i].lo, ivs[i].hi
			best[i+1] = min(best[i+1], best[i]+1) // a tag wider than the limit is still read alone
			for j := i + 1; j < len(ivs); j++ {
				if ivs[j].lo-hi > maxGap || max(hi, ivs[j].hi)-lo > maxQty {
					break
				}
				hi = max(hi, ivs[j].hi)
				best[j+1] = min(best[j+1], best[i]+1)
			}
		}
		total += best[len(ivs)]
	}
	return total
}
