package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/modbus"
)

func init() {
	register(&command{name: "modbus", summary: "modbus.summary", run: runModbus})
}

// mbTable is one of the four data tables of the Modbus data model.
type mbTable int

const (
	tableCoil mbTable = iota
	tableDiscrete
	tableInput
	tableHolding
)

// tableNames are the --table values; tablePrefix the first digit of a table's Modicon logical address.
var (
	tableNames  = [...]string{"coil", "discrete", "input", "holding"}
	tablePrefix = [...]int{0, 1, 3, 4}
)

func (t mbTable) String() string { return tableNames[t] }

// tableText names the tables for a person.
var tableText = [...]i18n.Message{
	i18n.M("modbus.table.coil"), i18n.M("modbus.table.discrete"), i18n.M("modbus.table.input"), i18n.M("modbus.table.holding"),
}

// describe is the table's name for a person.
func (t mbTable) describe(p *i18n.Printer) string { return p.Msg(tableText[t]) }

func (t mbTable) bits() bool { return t == tableCoil || t == tableDiscrete }

func parseTable(s string) (mbTable, bool) {
	for i, n := range tableNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return mbTable(i), true
		}
	}
	return 0, false
}

// parseAddress reads --addr: a physical, 0-based address (decimal of at most 4 digits, or hex with 0x),
// or a Modicon logical address (5 or 6 decimal digits, the first naming the table, the rest counting
// from 1). Modicon's 5-digit form reaches only 9999 objects, hence the 6-digit form; a decimal with 5 or
// 6 digits is therefore always logical, and a physical address above 9999 must be written in hex. logical
// reports which form s had, and t is meaningful only then.
func parseAddress(s string) (addr uint16, t mbTable, logical, ok bool) {
	s = strings.TrimSpace(s)
	if h, found := strings.CutPrefix(strings.ToLower(s), "0x"); found {
		if h == "" || len(h) > 6 {
			return 0, 0, false, false
		}
		v, err := strconv.ParseUint(h, 16, 16)
		return uint16(v), 0, false, err == nil
	}
	if s == "" || len(s) > 6 || strings.Trim(s, "0123456789") != "" {
		return 0, 0, false, false
	}
	if len(s) <= 4 {
		v, _ := strconv.ParseUint(s, 10, 16)
		return uint16(v), 0, false, true
	}
	var table mbTable
	switch s[0] {
	case '0':
		table = tableCoil
	case '1':
		table = tableDiscrete
	case '3':
		table = tableInput
	case '4':
		table = tableHolding
	default:
		return 0, 0, true, false
	}
	n, _ := strconv.Atoi(s[1:])
	if n < 1 || n > 65536 {
		return 0, 0, true, false
	}
	return uint16(n - 1), table, true, true
}

// logicalAddress is the Modicon logical address of a physical one: 5 digits while the offset fits 4
// (400001-style 6 digits beyond), as PLC manuals print them.
func logicalAddress(t mbTable, addr uint16) string {
	n := int(addr) + 1
	if n <= 9999 {
		return fmt.Sprintf("%d%04d", tablePrefix[t], n)
	}
	return fmt.Sprintf("%d%05d", tablePrefix[t], n)
}

// mbOptions are the flags of read and write.
type mbOptions struct {
	tcp, rtu, rtuOverTCP string
	baud                 int
	parity               string
	stop                 int
	timeout              time.Duration
	unit                 int
	tableFlag            string
	addrFlag             string
	count                int
	typeFlag             string
	orderFlag            string
	poll                 time.Duration
	json                 bool
	lang                 string

	table  mbTable
	addr   uint16
	typ    modbus.DataType
	order  modbus.ByteOrder
	values []string // write only
}

// usageError is a wrong flag or argument: exit status 2, the message in the catalogue.
type usageError struct{ msg i18n.Message }

func (e *usageError) Error() string { return e.msg.String() }

func usageErr(key string, args ...any) error { return &usageError{i18n.M(key, args...)} }

func runModbus(ctx context.Context, env *environment, args []string) int {
	p := modbusPrinter(env, args)
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, p.T("modbus.help"))
		return 2
	}
	if isHelp(args[0]) {
		fmt.Fprintln(env.stdout, p.T("modbus.help"))
		return 0
	}
	switch args[0] {
	case "read":
		return modbusRead(ctx, env, p, args[1:])
	case "write":
		return modbusWrite(ctx, env, p, args[1:])
	}
	fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.T("modbus.err.subcommand", args[0]))
	fmt.Fprintln(env.stderr, p.T("modbus.help"))
	return 2
}

func isHelp(s string) bool {
	return s == "-h" || s == "--help" || s == "-help" || s == "help"
}

// modbusPrinter honours --lang wherever it stands, so that --help --lang en speaks English although
// flag parsing stops at --help.
func modbusPrinter(env *environment, args []string) *i18n.Printer {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, f := range []string{"--lang", "-lang"} {
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				return i18n.For(i18n.Parse(v))
			}
			if a == f && i+1 < len(args) {
				return i18n.For(i18n.Parse(args[i+1]))
			}
		}
	}
	return env.p
}

// flagErrRE picks apart the errors of package flag, which speak English, to say them in the catalogue.
var flagErrRE = regexp.MustCompile(`^(?:flag provided but not defined: (-\S+)|flag needs an argument: (-\S+)|invalid value "(.*)" for flag (-\S+): .*)$`)

func translateFlagError(p *i18n.Printer, err error) string {
	m := flagErrRE.FindStringSubmatch(err.Error())
	switch {
	case m == nil:
		return err.Error()
	case m[1] != "":
		return p.T("modbus.err.flag_unknown", m[1])
	case m[2] != "":
		return p.T("modbus.err.flag_argument", m[2])
	default:
		return p.T("modbus.err.flag_value", m[3], m[4])
	}
}

// parseModbusFlags parses the flags common to read and write. It returns exit status -1 to go on, or
// the status to exit with (0 after --help).
func parseModbusFlags(env *environment, p *i18n.Printer, sub string, args []string, o *mbOptions) int {
	fs := flag.NewFlagSet("akciz modbus "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.tcp, "tcp", "", "")
	fs.StringVar(&o.rtu, "rtu", "", "")
	fs.StringVar(&o.rtuOverTCP, "rtu-over-tcp", "", "")
	fs.IntVar(&o.baud, "baud", 9600, "")
	fs.StringVar(&o.parity, "parity", "N", "")
	fs.IntVar(&o.stop, "stop", 1, "")
	fs.DurationVar(&o.timeout, "timeout", time.Second, "")
	fs.IntVar(&o.unit, "unit", 1, "")
	fs.StringVar(&o.tableFlag, "table", "", "")
	fs.StringVar(&o.addrFlag, "addr", "", "")
	fs.StringVar(&o.typeFlag, "type", "", "")
	fs.StringVar(&o.orderFlag, "order", "", "")
	fs.StringVar(&o.lang, "lang", "", "")
	if sub == "read" {
		fs.IntVar(&o.count, "count", 1, "")
		fs.DurationVar(&o.poll, "poll", 0, "")
		fs.BoolVar(&o.json, "json", false, "")
	} else {
		fs.IntVar(&o.count, "count", 0, "")
	}
	help := p.T("modbus.read.help")
	if sub == "write" {
		help = p.T("modbus.write.help")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, help)
			return 0
		}
		fmt.Fprintf(env.stderr, "%s: %s\n%s\n", p.T("common.error"), translateFlagError(p, err), p.T("modbus.err.see_help", sub))
		return 2
	}
	if err := o.check(sub, fs.Args()); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.stderr, "%s: %s\n%s\n", p.T("common.error"), p.Msg(ue.msg), p.T("modbus.err.see_help", sub))
		} else {
			fmt.Fprintf(env.stderr, "%s: %v\n", p.T("common.error"), err)
		}
		return 2
	}
	return -1
}

// check validates the flags and fills the parsed fields.
func (o *mbOptions) check(sub string, rest []string) error {
	n := 0
	for _, s := range []string{o.tcp, o.rtu, o.rtuOverTCP} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usageErr("modbus.err.transport")
	}
	if o.rtu != "" {
		switch strings.ToUpper(o.parity) {
		case "N", "E", "O":
		default:
			return usageErr("modbus.err.parity", o.parity)
		}
		if o.stop != 1 && o.stop != 2 {
			return usageErr("modbus.err.stop", o.stop)
		}
	}
	if o.unit < 0 || o.unit > 255 {
		return usageErr("modbus.err.unit", o.unit)
	}
	if o.timeout <= 0 {
		return usageErr("modbus.err.timeout", o.timeout.String())
	}
	if o.poll < 0 {
		return usageErr("modbus.err.poll", o.poll.String())
	}
	o.table = tableHolding
	if o.tableFlag != "" {
		t, ok := parseTable(o.tableFlag)
		if !ok {
			return usageErr("modbus.err.table", o.tableFlag)
		}
		o.table = t
	}
	if o.addrFlag == "" {
		return usageErr("modbus.err.addr_missing")
	}
	addr, t, logical, ok := parseAddress(o.addrFlag)
	if !ok {
		return usageErr("modbus.err.addr", o.addrFlag)
	}
	if logical {
		if o.tableFlag != "" && t != o.table {
			return usageErr("modbus.err.addr_table", o.addrFlag, t.String(), o.table.String())
		}
		o.table = t
	}
	o.addr = addr
	if o.table.bits() {
		if o.typeFlag != "" || o.orderFlag != "" {
			return usageErr("modbus.err.type_bits", o.table.String())
		}
	} else {
		o.typ, o.order = modbus.Uint16, modbus.ABCD
		if o.typeFlag != "" {
			t, err := modbus.ParseDataType(o.typeFlag)
			if err != nil || t == modbus.Bit {
				return usageErr("modbus.err.type", o.typeFlag)
			}
			o.typ = t
		}
		if o.orderFlag != "" {
			b, err := modbus.ParseByteOrder(o.orderFlag)
			if err != nil {
				return usageErr("modbus.err.order", o.orderFlag)
			}
			o.order = b
		}
	}
	if sub == "read" {
		if len(rest) > 0 {
			return usageErr("modbus.err.args", strings.Join(rest, " "))
		}
		if max := o.maxCount(); o.count < 1 || o.count > max {
			return usageErr("modbus.err.count", o.count, max)
		}
		if last := int(o.addr) + o.objects() - 1; last > 0xFFFF {
			return usageErr("modbus.err.range", o.addr, last)
		}
		return nil
	}
	if o.table != tableHolding && o.table != tableCoil {
		return usageErr("modbus.err.write_table", o.table.String())
	}
	if len(rest) == 0 {
		return usageErr("modbus.err.no_values")
	}
	if o.count < 0 || o.count > maxWriteRegisters {
		return usageErr("modbus.err.count", o.count, maxWriteRegisters)
	}
	o.values = rest
	return nil
}

// Limits of one request (Modbus Application Protocol v1.1b3, §6.1–6.4, 6.11, 6.12). read splits what
// it is asked into requests of at most readChunkRegisters registers, a multiple of every type's size so
// that no value straddles two requests.
const (
	maxReadBits        = 2000
	readChunkRegisters = 124
	maxWriteRegisters  = 123
	maxWriteCoils      = 1968
	maxReadObjects     = 65536 // a read may cover the whole table, in several requests
)

// objects is the number of coils, inputs or registers a read covers.
func (o *mbOptions) objects() int {
	if o.table.bits() || o.typ == modbus.String {
		return o.count
	}
	return o.count * o.typ.Registers()
}

// maxCount is the largest --count of a read: what fits in the table, and a string in one request.
func (o *mbOptions) maxCount() int {
	switch {
	case o.table.bits():
		return maxReadObjects
	case o.typ == modbus.String:
		return 125
	}
	return maxReadObjects / o.typ.Registers()
}

// transportName is how the connection is named in messages.
func (o *mbOptions) transportName() string {
	switch {
	case o.tcp != "":
		return "tcp://" + o.tcp
	case o.rtuOverTCP != "":
		return "rtu-over-tcp://" + o.rtuOverTCP
	}
	return fmt.Sprintf("rtu://%s (%d %s%s)", o.rtu, o.baud, "8"+strings.ToUpper(o.parity), strconv.Itoa(o.stop))
}

// dialModbus makes the client the flags describe. It does not connect: the first request does.
func dialModbus(o *mbOptions) (*modbus.Client, error) {
	cfg := modbus.ClientConfig{Timeout: o.timeout}
	switch {
	case o.tcp != "":
		cfg.Transport, cfg.Address = modbus.TCP, o.tcp
	case o.rtuOverTCP != "":
		cfg.Transport, cfg.Address = modbus.RTUOverTCP, o.rtuOverTCP
	default:
		cfg.Transport, cfg.Address = modbus.RTU, o.rtu
		cfg.Serial = modbus.SerialConfig{Baud: o.baud, DataBits: 8, Parity: strings.ToUpper(o.parity), StopBits: o.stop}
	}
	return modbus.NewClient(cfg)
}

// mbRow is one value read: its first physical address, the raw registers or bit, and the decoded value.
type mbRow struct {
	addr  uint16
	regs  []uint16
	bit   bool
	value modbus.Value
}

func modbusRead(ctx context.Context, env *environment, p *i18n.Printer, args []string) int {
	var o mbOptions
	if code := parseModbusFlags(env, p, "read", args, &o); code >= 0 {
		return code
	}
	c, err := dialModbus(&o)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.T("modbus.err.connect", o.transportName(), err))
		return 1
	}
	defer c.Close()
	var tick <-chan time.Time
	if o.poll > 0 {
		t := time.NewTicker(o.poll)
		defer t.Stop()
		tick = t.C
	}
	status := 0
	for {
		rows, err := readRows(ctx, c, &o)
		now := time.Now()
		switch {
		case err != nil && ctx.Err() != nil:
			return status
		case err != nil:
			fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), describeModbusError(p, i18n.M("modbus.op.read"), &o, err))
			status = 1
		case o.json:
			if err := writeJSON(env.stdout, &o, now, rows); err != nil {
				return 1
			}
			status = 0
		default:
			writeTable(env.stdout, p, &o, now, rows)
			status = 0
		}
		if tick == nil {
			return status
		}
		select {
		case <-ctx.Done():
			return status
		case <-tick:
		}
	}
}

// readRows reads what o asks, in as many requests as the limits of the protocol need, and decodes it.
func readRows(ctx context.Context, c *modbus.Client, o *mbOptions) ([]mbRow, error) {
	unit := byte(o.unit)
	total := o.objects()
	if o.table.bits() {
		rows := make([]mbRow, 0, total)
		for done := 0; done < total; {
			n := min(total-done, maxReadBits)
			addr := o.addr + uint16(done)
			var bits []bool
			var err error
			if o.table == tableCoil {
				bits, err = c.ReadCoils(ctx, unit, addr, uint16(n))
			} else {
				bits, err = c.ReadDiscreteInputs(ctx, unit, addr, uint16(n))
			}
			if err != nil {
				return nil, err
			}
			for i, b := range bits {
				rows = append(rows, mbRow{addr: addr + uint16(i), bit: b, value: modbus.Value{Kind: modbus.KindBool, Bool: b}})
			}
			done += n
		}
		return rows, nil
	}
	regs := make([]uint16, 0, total)
	for len(regs) < total {
		n := min(total-len(regs), readChunkRegisters)
		if o.typ == modbus.String {
			n = total // a string is one value: one request (maxCount keeps it within 125)
		}
		addr := o.addr + uint16(len(regs))
		var got []uint16
		var err error
		if o.table == tableHolding {
			got, err = c.ReadHoldingRegisters(ctx, unit, addr, uint16(n))
		} else {
			got, err = c.ReadInputRegisters(ctx, unit, addr, uint16(n))
		}
		if err != nil {
			return nil, err
		}
		regs = append(regs, got...)
	}
	f := modbus.Format{Type: o.typ, Order: o.order}
	if o.typ == modbus.String {
		v, err := f.Decode(regs)
		return []mbRow{{addr: o.addr, regs: regs, value: v}}, err
	}
	size := o.typ.Registers()
	rows := make([]mbRow, 0, o.count)
	for i := 0; i+size <= len(regs); i += size {
		v, err := f.Decode(regs[i : i+size])
		if err != nil {
			return nil, err
		}
		rows = append(rows, mbRow{addr: o.addr + uint16(i), regs: regs[i : i+size], value: v})
	}
	return rows, nil
}

func hexRegs(regs []uint16) string {
	var b strings.Builder
	for i, r := range regs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}

func writeTable(w io.Writer, p *i18n.Printer, o *mbOptions, now time.Time, rows []mbRow) {
	if o.table.bits() {
		fmt.Fprintln(w, p.T("modbus.read.header_bits", now.Format(time.RFC3339), o.unit, o.table.describe(p)))
	} else {
		fmt.Fprintln(w, p.T("modbus.read.header", now.Format(time.RFC3339), o.unit, o.table.describe(p), o.typ, o.order))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\thex\t%s\t%s\t%s\n", p.T("modbus.col.address"), p.T("modbus.col.logical"), p.T("modbus.col.raw"), p.T("modbus.col.value"))
	for _, r := range rows {
		raw, val := hexRegs(r.regs), r.value.String()
		switch {
		case o.table.bits():
			raw, val = "0", p.T("modbus.off")
			if r.bit {
				raw, val = "1", p.T("modbus.on")
			}
		case o.typ == modbus.String:
			val = strconv.Quote(val)
		}
		fmt.Fprintf(tw, "%d\t0x%04X\t%s\t%s\t%s\n", r.addr, r.addr, logicalAddress(o.table, r.addr), raw, val)
	}
	tw.Flush()
}

// jsonRead is one read as --json prints it: a line of JSON per poll.
type jsonRead struct {
	Time   time.Time   `json:"time"`
	Unit   int         `json:"unit"`
	Table  string      `json:"table"`
	Type   string      `json:"type,omitempty"`
	Order  string      `json:"order,omitempty"`
	Values []jsonValue `json:"values"`
}

type jsonValue struct {
	Address uint16          `json:"address"`
	Logical string          `json:"logical"`
	Raw     []uint16        `json:"raw,omitempty"`
	Value   json.RawMessage `json:"value"`
}

func writeJSON(w io.Writer, o *mbOptions, now time.Time, rows []mbRow) error {
	out := jsonRead{Time: now.UTC(), Unit: o.unit, Table: o.table.String(), Values: make([]jsonValue, 0, len(rows))}
	if !o.table.bits() {
		out.Type, out.Order = string(o.typ), string(o.order)
	}
	for _, r := range rows {
		out.Values = append(out.Values, jsonValue{Address: r.addr, Logical: logicalAddress(o.table, r.addr), Raw: r.regs, Value: jsonOf(r.value)})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// jsonOf writes a value exactly: integers as their decimal digits (a uint64 totalizer survives, where a
// float64 would round it), floats that JSON cannot hold (NaN, ±Inf) as strings.
func jsonOf(v modbus.Value) json.RawMessage {
	switch v.Kind {
	case modbus.KindBool:
		return json.RawMessage(strconv.FormatBool(v.Bool))
	case modbus.KindInt, modbus.KindUint:
		return json.RawMessage(v.String())
	case modbus.KindFloat:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return json.RawMessage(strconv.Quote(v.String()))
		}
		return json.RawMessage(v.String())
	}
	b, _ := json.Marshal(v.String())
	return b
}

func modbusWrite(ctx context.Context, env *environment, p *i18n.Printer, args []string) int {
	var o mbOptions
	if code := parseModbusFlags(env, p, "write", args, &o); code >= 0 {
		return code
	}
	fmt.Fprintln(env.stderr, p.T("modbus.write.warning"))
	var (
		regs  []uint16
		coils []bool
	)
	if o.table == tableCoil {
		if len(o.values) > maxWriteCoils {
			fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.T("modbus.err.count", len(o.values), maxWriteCoils))
			return 2
		}
		for i, s := range o.values {
			b, ok := parseBool(s)
			if !ok {
				fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.T("modbus.err.bool", i+1, s))
				return 2
			}
			coils = append(coils, b)
		}
	} else {
		var err error
		if regs, err = encodeValues(&o); err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.Msg(ue.msg))
			} else {
				fmt.Fprintf(env.stderr, "%s: %v\n", p.T("common.error"), err)
			}
			return 2
		}
	}
	n := len(regs) + len(coils)
	if last := int(o.addr) + n - 1; last > 0xFFFF {
		fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.T("modbus.err.range", o.addr, last))
		return 2
	}
	c, err := dialModbus(&o)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), p.T("modbus.err.connect", o.transportName(), err))
		return 1
	}
	defer c.Close()
	unit := byte(o.unit)
	switch {
	case len(coils) == 1:
		err = c.WriteSingleCoil(ctx, unit, o.addr, coils[0])
	case len(coils) > 1:
		err = c.WriteMultipleCoils(ctx, unit, o.addr, coils)
	case len(regs) == 1:
		err = c.WriteSingleRegister(ctx, unit, o.addr, regs[0])
	default:
		err = c.WriteMultipleRegisters(ctx, unit, o.addr, regs)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %s\n", p.T("common.error"), describeModbusError(p, i18n.M("modbus.op.write"), &o, err))
		return 1
	}
	fmt.Fprintln(env.stdout, p.T("modbus.write.done", o.table.describe(p), strconv.Itoa(int(o.addr)), logicalAddress(o.table, o.addr), n))
	return 0
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "on":
		return true, true
	case "0", "false", "off":
		return false, true
	}
	return false, false
}

// encodeValues encodes the register values of a write in o's type and byte order.
func encodeValues(o *mbOptions) ([]uint16, error) {
	f := modbus.Format{Type: o.typ, Order: o.order}
	if o.typ == modbus.String {
		s := strings.Join(o.values, " ")
		n := o.count
		if n == 0 {
			n = (len(s) + 1) / 2
		}
		if n == 0 || n > maxWriteRegisters {
			return nil, usageErr("modbus.err.count", n, maxWriteRegisters)
		}
		if len(s) > 2*n {
			return nil, usageErr("modbus.err.string_long", len(s), n)
		}
		regs := make([]uint16, n)
		return regs, f.Encode(regs, modbus.Value{Kind: modbus.KindString, Str: s})
	}
	size := o.typ.Registers()
	if len(o.values)*size > maxWriteRegisters {
		return nil, usageErr("modbus.err.count", len(o.values)*size, maxWriteRegisters)
	}
	regs := make([]uint16, len(o.values)*size)
	for i, s := range o.values {
		v, err := parseValue(o.typ, s)
		if err == nil {
			err = f.Encode(regs[i*size:(i+1)*size], v)
		}
		if err != nil {
			return nil, usageErr("modbus.err.value", i+1, s, err)
		}
	}
	return regs, nil
}

// parseValue reads a number for type t: integers in decimal or with 0x, floats in any form strconv
// accepts.
func parseValue(t modbus.DataType, s string) (modbus.Value, error) {
	s = strings.TrimSpace(s)
	switch t {
	case modbus.Int16, modbus.Int32, modbus.Int64:
		i, err := strconv.ParseInt(s, 0, 8*2*t.Registers())
		return modbus.Value{Kind: modbus.KindInt, Int: i}, numErr(err)
	case modbus.Uint16, modbus.Uint32, modbus.Uint64:
		u, err := strconv.ParseUint(s, 0, 8*2*t.Registers())
		return modbus.Value{Kind: modbus.KindUint, Uint: u}, numErr(err)
	}
	bits := 64
	if t == modbus.Float32 {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	return modbus.Value{Kind: modbus.KindFloat, Float: f}, numErr(err)
}

// numErr drops strconv's prefix, which repeats the input the caller names anyway.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// describeModbusError says what went wrong, naming a Modbus exception in the person's language.
func describeModbusError(p *i18n.Printer, op i18n.Message, o *mbOptions, err error) string {
	opText := p.Msg(op)
	var ex *modbus.Exception
	if errors.As(err, &ex) {
		name := p.T("modbus.exc.other")
		if key := fmt.Sprintf("modbus.exc.%d", ex.Code); i18n.Has(p.Lang(), key) {
			name = p.T(key)
		}
		return p.T("modbus.err.exception", opText, o.table.describe(p), o.addr, int(ex.Code), name)
	}
	var why string
	switch {
	case errors.Is(err, modbus.ErrTimeout):
		why = p.T("modbus.err.no_answer", o.timeout.String())
	case errors.Is(err, modbus.ErrBadCRC):
		why = p.T("modbus.err.bad_crc")
	case errors.Is(err, modbus.ErrInvalidResponse):
		why = p.T("modbus.err.invalid_response", err)
	default:
		why = err.Error()
	}
	return p.T("modbus.err.io", opText, o.table.describe(p), o.addr, why)
}
