package watch

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
)

// Limits of the comparisons' inputs.
const (
	// MaxTestData bounds an uploaded test-data file (чл. 27) or an officer's list of meter readings, in bytes.
	MaxTestData = 8 << 20
	// MaxTestValues bounds the values of one comparison.
	MaxTestValues = 200_000
	// DefaultWindow is how far from an officer's reading time the nearest reading of the point is looked for.
	DefaultWindow = 5 * time.Minute
)

// The sources of the comparisons, in the order of store.ComparisonLine.Values.
var (
	testDataSources = []string{"operator", "server"}
	threeWaySources = []string{"officer", "agent", "server"}
)

// TestValue is one value the operator says its system sent (чл. 27), or one an officer read off a meter
// and typed in (чл. 20): the tag of a control point at a time.
type TestValue struct {
	Point string
	Time  time.Time
	// Tag is a reading's tag name (as in automation_config.xml), or, for a transaction ending at Time,
	// "transaction.<quantity>.<begin|end|quantity>" with quantity volume, stdVolume, mass or count.
	Tag   string
	Value core.Decimal
	Line  int // the line of the file it came from (0 when typed in)
}

// ParseTestValues reads test values from CSV (docs/watching.md, "Test data"): a header line
// "point;time;tag;value" (or "point,time,tag,value": the header's separator is the file's), then one value
// a line; time in RFC 3339; a value with a decimal point or a decimal comma (1234.5 or 1234,5, as a
// Bulgarian user types it), with or without a space between thousands (12 345,5). Fields may be quoted
// as in RFC 4180: in a comma-separated file a value with a decimal comma must be ("1234,5"), while a
// semicolon-separated file, as Bulgarian Excel writes one, needs no quotes. An error names the line and
// the field; nothing is returned then.
func ParseTestValues(r io.Reader) ([]TestValue, error) {
	lr := &io.LimitedReader{R: r, N: MaxTestData + 1}
	tooLarge := func() bool { return lr.N <= 0 } // read past the bound: the file is larger than it
	br := bufio.NewReader(lr)
	head, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("watch: test data: %w", err)
	}
	if tooLarge() {
		return nil, refuse(ErrInvalid, "watch.testdata.too_large", MaxTestData)
	}
	head = strings.TrimPrefix(strings.TrimRight(head, "\r\n"), "\ufeff")
	sep, ok := testDataSeparator(head)
	if !ok {
		return nil, refuse(ErrInvalid, "watch.testdata.header", head)
	}
	cr := csv.NewReader(br)
	cr.Comma, cr.FieldsPerRecord, cr.ReuseRecord, cr.TrimLeadingSpace = sep, -1, true, true
	var out []TestValue
	for {
		f, err := cr.Read()
		if tooLarge() {
			return nil, refuse(ErrInvalid, "watch.testdata.too_large", MaxTestData)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
			return nil, refuse(ErrInvalid, "watch.testdata.quote", pe.Line+1, pe.Column)
		}
		if err != nil {
			return nil, fmt.Errorf("watch: test data: %w", err)
		}
		line, _ := cr.FieldPos(0)
		line++ // the header was read before the CSV reader started
		if len(f) == 1 && strings.TrimSpace(f[0]) == "" {
			continue // a line of blanks (the CSV reader skips only empty ones)
		}
		v, err := testValue(f, sep, line)
		if err != nil {
			return nil, err
		}
		if len(out) == MaxTestValues {
			return nil, refuse(ErrInvalid, "watch.testdata.too_many", MaxTestValues)
		}
		out = append(out, v)
	}
	return out, nil
}

// testDataSeparator gives the separator of a test-data file from its header line: the one that splits
// it into the four column names (spaces and quotes around them allowed).
func testDataSeparator(head string) (rune, bool) {
	for _, sep := range []rune{';', ','} {
		names := trailingEmpty(strings.Split(head, string(sep)))
		if len(names) != 4 {
			continue
		}
		ok := true
		for i, want := range []string{"point", "time", "tag", "value"} {
			ok = ok && strings.EqualFold(strings.Trim(names[i], " \t\""), want)
		}
		if ok {
			return sep, true
		}
	}
	return 0, false
}

// trailingEmpty drops the empty fields at the end of a line: Excel ends every line with separators for
// the columns some other line of the sheet used.
func trailingEmpty(f []string) []string {
	for len(f) > 4 && strings.Trim(f[len(f)-1], " \t\"") == "" {
		f = f[:len(f)-1]
	}
	return f
}

func testValue(f []string, sep rune, line int) (TestValue, error) {
	f = trailingEmpty(f)
	if len(f) != 4 {
		if sep == ',' && len(f) == 5 {
			// Most likely 1234,5 unquoted: say how to write it.
			return TestValue{}, refuse(ErrInvalid, "watch.testdata.decimal_comma", line, len(f))
		}
		return TestValue{}, refuse(ErrInvalid, "watch.testdata.fields", line, len(f))
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	if _, err := core.ParsePointID(f[0]); err != nil {
		return TestValue{}, refuse(ErrInvalid, "watch.testdata.point", line, f[0])
	}
	t, err := time.Parse(time.RFC3339Nano, f[1])
	if err != nil {
		return TestValue{}, refuse(ErrInvalid, "watch.testdata.time", line, f[1])
	}
	if f[2] == "" {
		return TestValue{}, refuse(ErrInvalid, "watch.testdata.tag", line)
	}
	v, ok := typedDecimal(f[3])
	if !ok {
		return TestValue{}, refuse(ErrInvalid, "watch.testdata.value", line, f[3])
	}
	return TestValue{Point: f[0], Time: core.Stamp(t), Tag: f[2], Value: v, Line: line}, nil
}

// typedDecimal reads a decimal as a person types it: with a decimal point or a decimal comma (never
// both: 1.234,5 and 1,234.5 are refused, since which mark is the decimal one is a guess), and with a
// space, a no-break space or a narrow no-break space between groups of three digits of the whole part
// (Bulgarian Excel writes 12 345,5).
func typedDecimal(s string) (core.Decimal, bool) {
	if strings.Contains(s, ",") {
		if strings.Contains(s, ".") || strings.Count(s, ",") > 1 {
			return "", false
		}
		s = strings.Replace(s, ",", ".", 1)
	}
	if strings.ContainsAny(s, " \u00a0\u202f") {
		whole, frac, hasFrac := strings.Cut(s, ".")
		sign := ""
		if whole != "" && (whole[0] == '-' || whole[0] == '+') {
			sign, whole = whole[:1], whole[1:]
		}
		groups := strings.FieldsFunc(whole, func(r rune) bool { return r == ' ' || r == '\u00a0' || r == '\u202f' })
		if len(groups) < 2 || strings.Join(groups, " ") != strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(whole) {
			return "", false // not single separators between groups
		}
		for i, g := range groups {
			if len(g) > 3 || i > 0 && len(g) != 3 || g == "" {
				return "", false
			}
		}
		s = sign + strings.Join(groups, "")
		if hasFrac {
			s += "." + frac
		}
	}
	d := core.Decimal(s)
	return d, d.Valid()
}

// Comparisons makes and keeps the comparisons of чл. 20 and 27.
type Comparisons struct {
	st     store.Store
	decode Decoder
	clock  Clock
}

// NewComparisons gives the comparisons over st (clock nil: the wall clock).
func NewComparisons(st store.Store, decode Decoder, clock Clock) *Comparisons {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Comparisons{st: st, decode: decode, clock: clock}
}

// snapshot is what one source says: per point, per time (ms), per tag, the value.
type snapshot map[string]map[int64]map[string]core.Decimal

func (s snapshot) put(point string, t time.Time, tag string, v core.Decimal) {
	byTime := s[point]
	if byTime == nil {
		byTime = map[int64]map[string]core.Decimal{}
		s[point] = byTime
	}
	m := byTime[t.UnixMilli()]
	if m == nil {
		m = map[string]core.Decimal{}
		byTime[t.UnixMilli()] = m
	}
	m[tag] = v
}

func (s snapshot) get(point string, t time.Time, tag string) (core.Decimal, bool) {
	v, ok := s[point][t.UnixMilli()][tag]
	return v, ok
}

// nearest gives the time of the point's values nearest to t within w that has tag (zero when none).
func (s snapshot) nearest(point string, t time.Time, tag string, w time.Duration) (time.Time, bool) {
	best, found := int64(0), false
	for ms, m := range s[point] {
		if _, ok := m[tag]; !ok {
			continue
		}
		d := abs(ms - t.UnixMilli())
		if d > w.Milliseconds() {
			continue
		}
		if !found || d < abs(best-t.UnixMilli()) || d == abs(best-t.UnixMilli()) && ms < best {
			best, found = ms, true
		}
	}
	return time.UnixMilli(best).UTC(), found
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// add puts a record's values into s: a reading's tags, a transaction's totals (at its end time).
func (s snapshot) add(r *core.Record) { s.addIf(r, nil) }

// addIf is add of the values whose time keep wants (all when keep is nil).
func (s snapshot) addIf(r *core.Record, keep func(point string, t time.Time) bool) {
	switch {
	case r.Reading != nil:
		for _, v := range r.Reading.Values {
			t := r.Time
			if !v.Time.IsZero() {
				t = v.Time
			}
			if keep == nil || keep(r.Point, t) {
				s.put(r.Point, t, v.Tag, v.Value)
			}
		}
	case r.Transaction != nil:
		if keep != nil && !keep(r.Point, r.Time) {
			return
		}
		for _, q := range flowTotals(&r.Transaction.Forward) {
			base := "transaction." + q.name + "."
			s.put(r.Point, r.Time, base+"begin", q.t.Begin)
			s.put(r.Point, r.Time, base+"end", q.t.End)
			s.put(r.Point, r.Time, base+"quantity", q.t.Quantity)
		}
	}
}

// server reads the site's stored readings and transactions of the points in [from, to), test data included
// (the comparisons are made during the tests, чл. 17–20). It keeps only the values at the times keep
// wants: a week of a counter's readings is millions of values, of which a comparison needs a few.
func (c *Comparisons) server(ctx context.Context, points []string, from, to time.Time, keep func(point string, t time.Time) bool) (snapshot, error) {
	if to.Sub(from) > MaxPeriod {
		return nil, refuse(ErrInvalid, "watch.query.period_too_long", int(MaxPeriod/(24*time.Hour)))
	}
	snap := snapshot{}
	for _, p := range points {
		for _, kind := range []core.RecordKind{core.KindReading, core.KindTransaction} {
			err := c.st.PointRecords(ctx, store.RecordQuery{Device: p[:16], Point: p, Kind: kind, From: from, To: to},
				func(row *store.Row) error {
					rec, err := c.decode(row.Bytes)
					if err != nil {
						return fmt.Errorf("watch: %s seq %d: %w", row.Device, row.Seq, err)
					}
					snap.addIf(&rec, keep)
					return nil
				})
			if err != nil {
				return nil, err
			}
		}
	}
	return snap, nil
}

func equalDecimal(a, b core.Decimal, tol *big.Rat) bool {
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	if !ok1 || !ok2 {
		return false
	}
	d := new(big.Rat).Sub(x, y)
	return d.Abs(d).Cmp(tol) <= 0
}

func span(values []TestValue, pad time.Duration) (from, to time.Time, points []string) {
	seen := map[string]bool{}
	for i, v := range values {
		if i == 0 || v.Time.Before(from) {
			from = v.Time
		}
		if i == 0 || v.Time.After(to) {
			to = v.Time
		}
		if !seen[v.Point] {
			seen[v.Point] = true
			points = append(points, v.Point)
		}
	}
	sort.Strings(points)
	return from.Add(-pad), to.Add(pad + time.Millisecond), points
}

func (c *Comparisons) checkValues(warehouse string, values []TestValue) error {
	if len(values) == 0 {
		return refuse(ErrInvalid, "watch.testdata.empty")
	}
	if len(values) > MaxTestValues {
		return refuse(ErrInvalid, "watch.testdata.too_many", MaxTestValues)
	}
	for _, v := range values {
		if !strings.HasPrefix(v.Point, warehouse) || len(v.Point) != 19 {
			return refuse(ErrInvalid, "watch.testdata.other_site", v.Line, v.Point, warehouse)
		}
	}
	return nil
}

// TestData compares the operator's test data with what the server received (чл. 27), value by value: a
// reading's tag at the same point and the same time (to the millisecond), or a transaction's total at its
// end. Equal decimals match ("10.0" is "10"); a value the server lacks is a miss. The comparison is
// stored and given back with its lines.
func (c *Comparisons) TestData(ctx context.Context, a Actor, warehouse string, values []TestValue) (store.Comparison, error) {
	if _, err := site(ctx, c.st, a, warehouse); err != nil {
		return store.Comparison{}, err
	}
	if err := c.checkValues(warehouse, values); err != nil {
		return store.Comparison{}, err
	}
	from, to, points := span(values, 0)
	at := map[string]map[int64]bool{}
	for _, v := range values {
		if at[v.Point] == nil {
			at[v.Point] = map[int64]bool{}
		}
		at[v.Point][v.Time.UnixMilli()] = true
	}
	srv, err := c.server(ctx, points, from, to, func(p string, t time.Time) bool { return at[p][t.UnixMilli()] })
	if err != nil {
		return store.Comparison{}, err
	}
	cmp := store.Comparison{Kind: store.ComparisonTestData, Site: warehouse, Time: c.clock.Now(), By: a.Who, From: from,
		To: to, Sources: testDataSources}
	zero := new(big.Rat)
	for _, v := range values {
		line := store.ComparisonLine{Point: v.Point, Time: v.Time, Item: v.Tag, Values: []string{string(v.Value), ""}}
		s, ok := srv.get(v.Point, v.Time, v.Tag)
		switch {
		case !ok:
			line.Note = "watch.compare.missing_server"
		case equalDecimal(v.Value, s, zero):
			line.Match = true
		default:
			line.Note = "watch.compare.differs"
		}
		line.Values[1] = string(s)
		cmp.Lines = append(cmp.Lines, line)
	}
	return c.save(ctx, cmp)
}

func (c *Comparisons) save(ctx context.Context, cmp store.Comparison) (store.Comparison, error) {
	for _, l := range cmp.Lines {
		if l.Match {
			cmp.Matches++
		} else {
			cmp.Misses++
		}
	}
	got, err := c.st.AddComparison(ctx, cmp)
	if err != nil {
		return got, fmt.Errorf("watch: %w", err)
	}
	got.Lines = cmp.Lines
	return got, nil
}

// ThreeWay is the input of the three-way comparison of чл. 20.
type ThreeWay struct {
	// Officer are the values the officer read off the meters and typed in.
	Officer []TestValue
	// Agent are the records of the agent's export (`akciz agent export`), decoded and verified by the
	// caller (the signature is the wire format's business).
	Agent []core.Record
	// Tolerance is the largest difference allowed between an officer's value and the data (a display
	// shows fewer digits than the register holds); empty means none.
	Tolerance core.Decimal
	// Window is how far from an officer's time the nearest reading is taken (DefaultWindow when zero).
	Window time.Duration
}

// ThreeWay compares, for the officer (чл. 20), the meters (as the officer read them), the industrial
// computer (the agent's exported journal) and the server's data. For each officer value, the server's
// reading of that tag nearest in time (within the window) and the agent's value at that same time: it
// matches when agent and server agree exactly and the officer's value is within the tolerance. Then every
// value of every agent record in the period is compared with the server's at the same point and time.
// Only an officer (or an admin) makes it.
func (c *Comparisons) ThreeWay(ctx context.Context, a Actor, warehouse string, in ThreeWay) (store.Comparison, error) {
	if a.Role != store.RoleOfficer && a.Role != store.RoleAdmin {
		return store.Comparison{}, refuse(ErrForbidden, "watch.compare.officer_only")
	}
	if _, err := site(ctx, c.st, a, warehouse); err != nil {
		return store.Comparison{}, err
	}
	if err := c.checkValues(warehouse, in.Officer); err != nil {
		return store.Comparison{}, err
	}
	tol := new(big.Rat)
	if in.Tolerance != "" {
		if _, ok := tol.SetString(string(in.Tolerance)); !ok || !in.Tolerance.Valid() || tol.Sign() < 0 {
			return store.Comparison{}, refuse(ErrInvalid, "watch.compare.tolerance", string(in.Tolerance))
		}
	}
	w := in.Window
	if w <= 0 {
		w = DefaultWindow
	}
	if len(in.Agent) > MaxTestValues {
		return store.Comparison{}, refuse(ErrInvalid, "watch.testdata.too_many", MaxTestValues)
	}
	from, to, points := span(in.Officer, w)
	agent := snapshot{}
	for i := range in.Agent {
		r := &in.Agent[i]
		if !strings.HasPrefix(r.Device, warehouse) {
			return store.Comparison{}, refuse(ErrInvalid, "watch.compare.agent_other_site", r.Device, warehouse)
		}
		if r.Time.Before(from) {
			from = r.Time
		}
		if !r.Time.Before(to) {
			to = r.Time.Add(time.Millisecond)
		}
		if r.Point != "" && !contains(points, r.Point) {
			points = append(points, r.Point)
		}
		agent.add(r)
	}
	sort.Strings(points)
	// The server's values needed: those within the window of an officer's value of the point, and those at
	// the agent's times.
	officerAt := map[string][]int64{}
	for _, v := range in.Officer {
		officerAt[v.Point] = append(officerAt[v.Point], v.Time.UnixMilli())
	}
	for _, ts := range officerAt {
		slices.Sort(ts)
	}
	keep := func(p string, t time.Time) bool {
		if _, ok := agent[p][t.UnixMilli()]; ok {
			return true
		}
		ts := officerAt[p]
		i, _ := slices.BinarySearch(ts, t.UnixMilli()-w.Milliseconds())
		return i < len(ts) && ts[i] <= t.UnixMilli()+w.Milliseconds()
	}
	srv, err := c.server(ctx, points, from, to, keep)
	if err != nil {
		return store.Comparison{}, err
	}
	cmp := store.Comparison{Kind: store.ComparisonThreeWay, Site: warehouse, Time: c.clock.Now(), By: a.Who, From: from,
		To: to, Sources: threeWaySources}
	exact := new(big.Rat)
	for _, v := range in.Officer {
		line := store.ComparisonLine{Point: v.Point, Time: v.Time, Item: v.Tag, Values: []string{string(v.Value), "", ""}}
		at, ok := srv.nearest(v.Point, v.Time, v.Tag, w)
		if !ok {
			line.Note = "watch.compare.missing_server"
			cmp.Lines = append(cmp.Lines, line)
			continue
		}
		line.Time = at
		s, _ := srv.get(v.Point, at, v.Tag)
		ag, agOK := agent.get(v.Point, at, v.Tag)
		line.Values[1], line.Values[2] = string(ag), string(s)
		switch {
		case !agOK:
			line.Note = "watch.compare.missing_agent"
		case !equalDecimal(ag, s, exact):
			line.Note = "watch.compare.agent_server_differ"
		case !equalDecimal(v.Value, s, tol):
			line.Note = "watch.compare.officer_differs"
		default:
			line.Match = true
		}
		cmp.Lines = append(cmp.Lines, line)
	}
	// The agent's journal against the server, value by value.
	for _, p := range sortedKeys(agent) {
		for _, ms := range sortedTimes(agent[p]) {
			tags := agent[p][ms]
			for _, tag := range sortedTags(tags) {
				t := time.UnixMilli(ms).UTC()
				line := store.ComparisonLine{Point: p, Time: t, Item: tag, Values: []string{"", string(tags[tag]), ""}}
				s, ok := srv.get(p, t, tag)
				line.Values[2] = string(s)
				switch {
				case !ok:
					line.Note = "watch.compare.missing_server"
				case !equalDecimal(tags[tag], s, exact):
					line.Note = "watch.compare.agent_server_differ"
				default:
					line.Match = true
				}
				cmp.Lines = append(cmp.Lines, line)
			}
		}
	}
	return c.save(ctx, cmp)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(s snapshot) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedTimes(m map[int64]map[string]core.Decimal) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedTags(m map[string]core.Decimal) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Get gives a stored comparison with its lines, if the actor sees its site.
func (c *Comparisons) Get(ctx context.Context, a Actor, id int64) (store.Comparison, error) {
	cmp, err := c.st.Comparison(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return cmp, refuse(ErrNotFound, "watch.compare.not_found", id)
	}
	if err != nil {
		return cmp, fmt.Errorf("watch: %w", err)
	}
	if _, err := site(ctx, c.st, a, cmp.Site); err != nil {
		return store.Comparison{}, refuse(ErrNotFound, "watch.compare.not_found", id)
	}
	return cmp, nil
}

// List gives a site's comparisons, newest first, without their lines.
func (c *Comparisons) List(ctx context.Context, a Actor, warehouse string) ([]store.Comparison, error) {
	if _, err := site(ctx, c.st, a, warehouse); err != nil {
		return nil, err
	}
	cs, err := c.st.Comparisons(ctx, warehouse)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return cs, nil
}
