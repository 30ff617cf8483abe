package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/i18n"
)

func init() {
	register(&command{name: "energy", summary: "energy.summary", run: runEnergy})
}

// runEnergy is `akciz energy check|find|import`: the quarterly electricity and gas tables (чл. 22–24),
// checked offline or sent to akciz server (energy_import.go).
func runEnergy(ctx context.Context, env *environment, args []string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, env.p.T("energy.no_sub"))
		return 2
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "-help", "help":
		fmt.Fprintln(env.stdout, env.p.T("energy.help"))
		return 0
	case "import":
		return runEnergyImport(ctx, env, args[1:])
	case "check", "find":
	default:
		fmt.Fprintln(env.stderr, env.p.T("energy.unknown_sub", sub))
		return 2
	}
	fs := flag.NewFlagSet("energy "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	format := fs.String("format", "text", "")
	maxErrors := fs.Int("max-errors", energy.DefaultMaxErrors, "")
	var q energy.Query
	fs.StringVar(&q.MeterID, "meter", "", "")
	fs.StringVar(&q.ConsumerEIK, "eik", "", "")
	files, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("energy.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("energy.bad_flag", err.Error()))
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintln(env.stderr, env.p.T("energy.bad_report", *format))
		return 2
	}
	if *maxErrors <= 0 {
		fmt.Fprintln(env.stderr, env.p.T("energy.bad_flag", "--max-errors "+strconv.Itoa(*maxErrors)))
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(env.stderr, env.p.T("energy.no_file"))
		return 2
	}
	if sub == "find" && (len(files) != 1 || q.MeterID == "" && q.ConsumerEIK == "") {
		fmt.Fprintln(env.stderr, env.p.T("energy.find_need"))
		return 2
	}
	code := 0
	for _, name := range files {
		opts := energy.Options{MaxErrors: *maxErrors}
		bar := newProgressBar(env, name)
		if bar != nil {
			opts.Progress = bar.update
		}
		var (
			res   *energy.Result
			found []energy.Row
			err   error
		)
		if sub == "find" {
			res, found, err = energy.Find(ctx, name, q, "", opts)
		} else {
			res, err = energy.CheckFile(ctx, name, opts)
		}
		bar.done()
		var refused *energy.Errors
		switch {
		case errors.As(err, &refused):
			code = max(code, 1)
		case err != nil:
			if *format == "json" {
				writeEnergyJSON(env, energyReport{File: name, ReadError: err.Error()})
			} else {
				fmt.Fprintln(env.stdout, env.p.T("energy.read_error", name, err.Error()))
			}
			code = 2
			continue
		}
		if *format == "json" {
			writeEnergyJSON(env, newEnergyReport(env.p, name, res, refused, found, sub == "find"))
			continue
		}
		printEnergy(env, name, res, refused)
		if sub == "find" && res != nil {
			printFound(env, res.Product, found)
		}
	}
	return code
}

// parseInterleaved parses flags wherever they stand among the file names.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// The catalogue keys of the names of products and consumer types, for people.
var (
	energyProductKeys = map[energy.Product]string{
		energy.Electricity: "energy.product_electricity",
		energy.NaturalGas:  "energy.product_natural-gas",
	}
	energyConsumerKeys = map[energy.ConsumerType]string{
		energy.Household:       "energy.ct_household",
		energy.Business:        "energy.ct_business",
		energy.SelfConsumption: "energy.ct_self-consumption",
	}
)

func decimalSep(p *i18n.Printer) byte {
	if p.Lang() == i18n.BG {
		return ',' // as a Bulgarian reader writes decimals
	}
	return '.'
}

func printEnergy(env *environment, name string, res *energy.Result, refused *energy.Errors) {
	p := env.p
	if refused != nil {
		fmt.Fprintln(env.stdout, p.T("energy.refused", name, len(refused.List)+refused.Omitted))
		for _, e := range refused.List {
			fmt.Fprintln(env.stdout, "  "+e.Text(p, refused.Kind))
		}
		if refused.Omitted > 0 {
			fmt.Fprintln(env.stdout, p.T("energy.refused_more", refused.Omitted))
		}
		return
	}
	sep := decimalSep(p)
	pr := res.Product
	fmt.Fprintln(env.stdout, p.T("energy.ok", name, p.T(energyProductKeys[pr]), res.Quarter.String(), res.DeclarantName, res.DeclarantEIK, res.ExciseNumber))
	fmt.Fprintln(env.stdout, p.T("energy.ok_rows", res.Rows))
	c := res.Computed
	fmt.Fprintln(env.stdout, p.T("energy.ok_totals", pr.Unit(), c.Household.Format(pr, sep), c.Business.Format(pr, sep), c.SelfConsumption.Format(pr, sep), c.All.Format(pr, sep)))
	fmt.Fprintln(env.stdout, p.T("energy.ok_digest", res.Digest()))
	fmt.Fprintln(env.stdout, p.T("energy.ok_key", res.Key()))
}

func printFound(env *environment, pr energy.Product, rows []energy.Row) {
	p := env.p
	sep := decimalSep(p)
	dash := p.T("energy.none")
	or := func(s string) string {
		if s == "" {
			return dash
		}
		return s
	}
	for _, r := range rows {
		fmt.Fprintln(env.stdout, p.T("energy.find_row", r.Line, r.MeterID, p.T(energyConsumerKeys[r.ConsumerType]), or(r.ConsumerEIK),
			r.Quantity.Format(pr, sep), pr.Unit(), r.Address, or(r.Tariff)))
	}
	fmt.Fprintln(env.stdout, p.T("energy.find_count", len(rows)))
}

// energyReport is the JSON form of one file's check: field names are stable, quantities are decimal
// strings in the declared unit (MWh or m3) with a point, never floats.
type energyReport struct {
	File          string            `json:"file"`
	OK            bool              `json:"ok"`
	ReadError     string            `json:"read_error,omitempty"`
	Kind          energy.Kind       `json:"kind,omitempty"`
	Size          int64             `json:"size,omitempty"`
	SHA256        string            `json:"sha256,omitempty"`
	Key           string            `json:"key,omitempty"`
	DeclarantName string            `json:"declarant_name,omitempty"`
	DeclarantEIK  string            `json:"declarant_eik,omitempty"`
	ExciseNumber  string            `json:"excise_number,omitempty"`
	Product       energy.Product    `json:"product,omitempty"`
	Quarter       string            `json:"quarter,omitempty"`
	Unit          string            `json:"unit,omitempty"`
	Declared      map[string]string `json:"declared,omitempty"`
	Computed      map[string]string `json:"computed,omitempty"`
	Rows          int64             `json:"rows"`
	Errors        []energyJSONError `json:"errors,omitempty"`
	Omitted       int               `json:"errors_omitted,omitempty"`
	Found         []energyJSONRow   `json:"found,omitempty"`
}

type energyJSONError struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type energyJSONRow struct {
	Line         int    `json:"line"`
	MeterID      string `json:"meter_id"`
	ConsumerType string `json:"consumer_type"`
	ConsumerEIK  string `json:"consumer_eik,omitempty"`
	Quantity     string `json:"quantity"`
	Address      string `json:"address"`
	Tariff       string `json:"tariff,omitempty"`
}

func newEnergyReport(p *i18n.Printer, name string, res *energy.Result, refused *energy.Errors, found []energy.Row, find bool) energyReport {
	r := energyReport{File: name}
	if refused != nil {
		r.Kind = refused.Kind
		r.Omitted = refused.Omitted
		for _, e := range refused.List {
			r.Errors = append(r.Errors, energyJSONError{Line: e.Line, Column: e.Column, Field: e.Field, Code: e.Msg.Key, Message: p.Msg(e.Msg)})
		}
		return r
	}
	pr := res.Product
	totals := func(t energy.Totals) map[string]string {
		return map[string]string{"household": t.Household.Format(pr, '.'), "business": t.Business.Format(pr, '.'),
			"self_consumption": t.SelfConsumption.Format(pr, '.'), "all": t.All.Format(pr, '.')}
	}
	r.OK, r.Kind, r.Size, r.SHA256, r.Key = true, res.Kind, res.Size, res.Digest(), res.Key()
	r.DeclarantName, r.DeclarantEIK, r.ExciseNumber = res.DeclarantName, res.DeclarantEIK, res.ExciseNumber
	r.Product, r.Quarter, r.Unit, r.Rows = pr, res.Quarter.String(), pr.Unit(), res.Rows
	r.Declared, r.Computed = totals(res.Declared), totals(res.Computed)
	if find {
		r.Found = []energyJSONRow{}
		for _, f := range found {
			r.Found = append(r.Found, energyJSONRow{Line: f.Line, MeterID: f.MeterID, ConsumerType: string(f.ConsumerType),
				ConsumerEIK: f.ConsumerEIK, Quantity: f.Quantity.Format(pr, '.'), Address: f.Address, Tariff: f.Tariff})
		}
	}
	return r
}

func writeEnergyJSON(env *environment, r energyReport) {
	b, _ := json.Marshal(r)
	fmt.Fprintln(env.stdout, string(b))
}

// progressBar draws the bytes read of a file on stderr, when stderr is a terminal.
type progressBar struct {
	w    io.Writer
	p    *i18n.Printer
	name string
	last int
	drew bool
}

func newProgressBar(env *environment, name string) *progressBar {
	f, ok := env.stderr.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: f, p: env.p, name: filepath.Base(name), last: -1}
}

func (b *progressBar) update(done, total int64) {
	const width = 30
	if total <= 0 {
		// An XLSX workbook: its rows are counted, as its unpacked size is not known in advance.
		fmt.Fprintf(b.w, "\r%s", b.p.T("energy.progress_rows", b.name, done))
		b.drew = true
		return
	}
	pct := int(done * 100 / total)
	if pct == b.last {
		return
	}
	b.last = pct
	n := pct * width / 100
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < n {
			bar[i] = '='
		}
	}
	fmt.Fprintf(b.w, "\r[%s] %s", bar, b.p.T("energy.progress", b.name, pct, done>>20, total>>20))
	b.drew = true
}

func (b *progressBar) done() {
	if b != nil && b.drew {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
