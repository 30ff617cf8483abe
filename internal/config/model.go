// Package config is the model, loader, validator and writer of automation_config.xml: the configuration of
// one ИКУНК (the sealed box with the industrial computer) that describes the site, the Modbus controllers,
// the control points with their product nomenclature and every tag of the Modbus map. The agent is driven
// by this file alone (чл. 16, ал. 1, т. 2–3: registers and normalisation are configured from the Modbus
// map), so the file carries everything чл. 35, ал. 2–5 asks the map to hold.
//
// The ordinance's appendices, which would fix the record formats, are not public; the format is ours,
// published as schemas/automation_config-1.0.xsd and described in docs/automation-config.md.
package config

import (
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/formula"
	"github.com/akciz/akciz/internal/modbus"
)

// Namespace is the XML namespace of automation_config.xml, version 1 of the format.
const Namespace = "urn:akciz:automation-config:1"

// Version is the value of the root element's version attribute this package reads and writes.
const Version = "1.0"

// Pos is a place in the file: the line and column (both from 1, the column in bytes) where the element a
// model value came from starts. It is zero for values built in code, is not written, and takes no part in
// the meaning of the configuration.
type Pos struct {
	Line, Col int
}

// IsValid reports whether p names a place in a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Config is one automation_config.xml: everything one ИКУНК needs to read its site's meters.
type Config struct {
	Pos     Pos
	Version string // the root element's version attribute, "1.0"

	Person      Person        // the obligated person (задължено лице)
	Site        Site          // the tax warehouse or registered person's site
	Box         Box           // the ИКУНК, with the tags that belong to it rather than to a point
	Controllers []*Controller // the PLCs the industrial computer reads (чл. 32, чл. 35, ал. 3)
	Points      []*Point      // the control points (точки за контрол)
}

// Person is the obligated person (задължено лице) who runs the site.
type Person struct {
	Pos          Pos
	Name         string // the company's name
	EIK          string // ЕИК/БУЛСТАТ, 9 or 13 digits with check digits (core.ValidEIK)
	ExciseNumber string // excise number of the person (акцизен номер), optional
}

// Site is the place the ИКУНК watches: a tax warehouse (данъчен склад) or the site of a registered person.
// Exactly one of Warehouse and RegisteredPerson is set; it is the 13-character prefix of every control
// point id.
type Site struct {
	Pos              Pos
	Warehouse        string // ИДНС, tax warehouse number, e.g. BGNCA00005001
	RegisteredPerson string // identification number of a registered person, when there is no warehouse
	Name             string
	Address          string
	CustomsOffice    string // code of the competent customs office (компетентно МУ), e.g. BG004000
}

// ID is the 13-character identifier that prefixes the site's control point ids.
func (s *Site) ID() string {
	if s.Warehouse != "" {
		return s.Warehouse
	}
	return s.RegisteredPerson
}

// Box is the ИКУНК (интегриращо комуникационно устройство за наблюдение и контрол, чл. 36): its number
// (the 3 digits in the middle of control point ids), the serial numbers handed over at commissioning
// (чл. 21), and the tags of the box itself: the door sensor (чл. 36), the UPS (чл. 30, ал. 1; чл. 34) and
// any error or status registers that belong to no control point.
type Box struct {
	Pos              Pos
	Number           int    // 1–999, written as 3 digits
	ComputerSerial   string // serial number of the industrial computer, optional
	ControllerSerial string // serial number of the industrial controller, optional
	UPSSerial        string // serial number of the UPS, optional
	Tags             []*Tag // roles door, ups-on-battery, error-bits, value
}

// Transport is how the industrial computer reaches a controller (чл. 32).
type Transport string

// Transports.
const (
	TCP        Transport = "tcp"          // Modbus TCP (MBAP header)
	RTU        Transport = "rtu"          // Modbus RTU over a serial line (RS-485/RS-232)
	RTUOverTCP Transport = "rtu-over-tcp" // RTU frames with CRC, tunnelled through a TCP serial gateway
)

// Valid reports whether t is a known transport.
func (t Transport) Valid() bool { return t == TCP || t == RTU || t == RTUOverTCP }

// Serial is the line of an RTU controller.
type Serial struct {
	Device   string // e.g. /dev/ttyUSB0
	Baud     int    // e.g. 9600, 19200
	DataBits int    // 7 or 8
	Parity   string // "N", "E" or "O"
	StopBits int    // 1 or 2
}

// Controller is one Modbus server (slave) the agent polls: a PLC or a device on a serial line. Its
// connection settings are what чл. 35, ал. 3 asks the person to hand over.
type Controller struct {
	Pos       Pos
	ID        string // referred to by tags; unique in the file
	Transport Transport
	Address   string  // host:port, for tcp and rtu-over-tcp
	Serial    *Serial // for rtu
	Unit      int     // Modbus unit id (slave address), 0–247; tags may override it

	Timeout        time.Duration // response timeout of one request; 0 means the agent's default
	ConnectTimeout time.Duration // timeout of opening the connection; 0 means the agent's default

	Quirks Quirks // what the real device needs beyond the standard
}

// Quirks are the deviations of real devices from the Modbus specification that the agent must honour.
// The zero value is a device that follows the specification.
type Quirks struct {
	Pos Pos
	// OneRequestPerTag forbids coalescing: some PLCs answer an exception to a read that spans more than one
	// mapped variable.
	OneRequestPerTag bool
	// MaxRegisters is the largest quantity of registers one read may ask for; 0 means the protocol's 125.
	MaxRegisters int
	// MaxCoils is the largest quantity of coils or discrete inputs one read may ask for; 0 means 2000.
	MaxCoils int
	// MaxGap is the largest number of unmapped registers (or bits) a coalesced read may span between two
	// tags; 0 reads only adjacent tags together.
	MaxGap int
	// RequestPause is the silence kept between two requests, for slow gateways.
	RequestPause time.Duration
	// ConnectPause is the silence kept after connecting, before the first request.
	ConnectPause time.Duration
	// CoilsFromZero says the device's documentation numbers coils and discrete inputs from 0 (00000 is
	// physical 0x0000) instead of Modicon's 1 (00001 is physical 0x0000). It changes how the logical
	// address of bit tables is checked against the physical one, never the address sent on the wire.
	CoilsFromZero bool
	// StringPlacement is where the first character of a register goes for string tags.
	StringPlacement modbus.StringPlacement
}

// Modbus protocol limits of one read (Modbus Application Protocol 1.1b3, 6.1–6.4).
const (
	ProtocolMaxRegisters = 125
	ProtocolMaxCoils     = 2000
)

// RegisterLimit is the largest quantity of registers one read may ask for.
func (q Quirks) RegisterLimit() int {
	if q.MaxRegisters > 0 && q.MaxRegisters < ProtocolMaxRegisters {
		return q.MaxRegisters
	}
	return ProtocolMaxRegisters
}

// CoilLimit is the largest quantity of coils or discrete inputs one read may ask for.
func (q Quirks) CoilLimit() int {
	if q.MaxCoils > 0 && q.MaxCoils < ProtocolMaxCoils {
		return q.MaxCoils
	}
	return ProtocolMaxCoils
}

// Point is a control point (точка за контрол): one measuring place whose readings are sent under its id.
type Point struct {
	Pos       Pos
	ID        string             // 19 characters: site id, box number, point number (core.ParsePointID)
	Name      string             // a name people know it by, e.g. "Естакада 1, рамо 2"
	Zone      string             // optional group, e.g. a loading island
	Class     core.IntervalClass // чл. 30, ал. 13
	Mode      core.Mode          // transaction or continuous (чл. 30, ал. 14–15)
	Direction core.Direction     // fixed out/in, or both with a direction tag (чл. 30, ал. 9)
	Interval  time.Duration      // the reading interval; at most Class.MaxInterval()

	Products   []*Product        // the nomenclature of чл. 11, ал. 3
	ProductMap []*ProductMapping // raw value of the product-code tag -> product
	Tags       []*Tag
}

// Product is one entry of a control point's nomenclature of excise goods (чл. 11, ал. 3; чл. 30, ал. 7
// and 10).
type Product struct {
	Pos        Pos
	Code       string         // product code, the additional code declared in the excise declaration
	TradeName  string         // trade name from the CL175 correspondence table
	CN         string         // combined nomenclature code, 8 digits, stored without spaces
	ExciseCode string         // excise product code (код на АП), e.g. E430
	Brand      string         // trade mark / description
	Direction  core.Direction // the direction this product passes the point; empty is the point's
}

// ProductMapping says which product a raw value of the point's product-code tag stands for.
type ProductMapping struct {
	Pos     Pos
	Raw     int64  // the decoded, un-normalised value of the product-code tag
	Product string // a Product.Code of the same point
}

// Table is one of the four Modbus data tables.
type Table int

// Tables, numbered by the first digit of their Modicon logical address.
const (
	Coils            Table = 0 // 0xxxx, read with function 1
	DiscreteInputs   Table = 1 // 1xxxx, function 2
	InputRegisters   Table = 3 // 3xxxx, function 4
	HoldingRegisters Table = 4 // 4xxxx, function 3
)

// Bits reports whether the table holds single bits rather than 16-bit registers.
func (t Table) Bits() bool { return t == Coils || t == DiscreteInputs }

// ReadFunction is the Modbus function code that reads the table.
func (t Table) ReadFunction() byte {
	switch t {
	case Coils:
		return 1
	case DiscreteInputs:
		return 2
	case HoldingRegisters:
		return 3
	case InputRegisters:
		return 4
	}
	return 0
}

// String names the table as the XSD and the map exports do.
func (t Table) String() string {
	switch t {
	case Coils:
		return "coil"
	case DiscreteInputs:
		return "discrete-input"
	case InputRegisters:
		return "input-register"
	case HoldingRegisters:
		return "holding-register"
	}
	return "unknown"
}

// Severity grades an error bit or a validation finding.
type Severity string

// Severities of error bits (чл. 35, ал. 5) and of validation findings.
const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityAlarm   Severity = "alarm" // error bits only
	SeverityError   Severity = "error" // validation findings only
)

// ErrorBit is one row of the error table of чл. 35, ал. 5 for an error-bits tag.
type ErrorBit struct {
	Pos         Pos
	Bit         int    // 0 is the least significant bit
	Code        string // the device's error code, e.g. E12
	Description string // what the bit means, in Bulgarian
	Severity    Severity
}

// Tag is one row of the Modbus map of чл. 35, ал. 4: a value the agent reads from a controller.
type Tag struct {
	Pos        Pos
	Name       string // unique in the file; the identifier the agent and the server use
	Controller string // Controller.ID
	UnitID     *int   // Modbus unit id when the tag overrides its controller's (devices behind a gateway)

	Logical  string // Modicon logical address as written: 40001, 400001, 00001, …
	Table    Table  // from the logical address
	Physical int    // the protocol address, 0–65535; written as 0x%04X
	Size     int    // registers (bits for coil and discrete-input tables)

	Parameter   string          // наименование на параметъра, in Bulgarian
	Description string          // описание
	Type        modbus.DataType // тип на данните
	Order       modbus.ByteOrder
	Bit         int  // for Type bit in a register table: 0–15
	BitSet      bool // Bit was given

	Unit         string        // мярка: L, m3, kg, t, °C, kg/m3, %vol, pcs, …
	Resolution   float64       // единица за промяна; 0 when not given
	Low, High    *float64      // ограничения (допустими стойности); nil when open
	Accumulation time.Duration // натрупване: the time over which the value accumulates; 0 when instantaneous
	ReadInterval time.Duration // време за четене; 0 means the point's interval

	Formula  string           // the normalisation formula, in x; empty means the identity
	Compiled *formula.Formula // Formula compiled at load time (чл. 16, ал. 1, т. 3); nil when empty. Not written.

	Role      core.Role
	Of        core.Role   // for start-total and transaction-quantity: the totalizer they belong to; empty is the point's primary
	OutValue  *int64      // for role direction: the raw value meaning out (извеждане); nil is 0
	InValue   *int64      // for role direction: the raw value meaning in (въвеждане); nil is 1
	ErrorBits []*ErrorBit // for role error-bits (чл. 35, ал. 5)
}

// Normalize applies the tag's normalisation formula to a decoded raw value.
func (t *Tag) Normalize(x float64) float64 {
	if t.Compiled == nil {
		return x
	}
	return t.Compiled.Eval(x)
}

// DefaultBoxReadInterval is how often a tag of the box is read when it names no read interval: the door
// and the UPS must be seen at once (чл. 36; чл. 30, ал. 1), and reading two bits a second costs nothing.
const DefaultBoxReadInterval = time.Second

// EffectiveReadInterval is how often the agent reads the tag of point p (nil for a tag of the box): its
// own read interval, or else the point's interval, or else DefaultBoxReadInterval.
func (t *Tag) EffectiveReadInterval(p *Point) time.Duration {
	switch {
	case t.ReadInterval > 0:
		return t.ReadInterval
	case p != nil && p.Interval > 0:
		return p.Interval
	}
	return DefaultBoxReadInterval
}

// EffectiveUnitID is the Modbus unit id the tag is read from: its own, or its controller's.
func (t *Tag) EffectiveUnitID(c *Controller) int {
	if t.UnitID != nil {
		return *t.UnitID
	}
	if c == nil {
		return 0
	}
	return c.Unit
}

// Format is the codec format of the tag's value, for internal/modbus.
func (t *Tag) Format(q Quirks) modbus.Format {
	return modbus.Format{Type: t.Type, Order: t.Order, Bit: uint(t.Bit), Placement: q.StringPlacement}
}

// DirectionOf reads a raw value of a direction tag (чл. 30, ал. 9): out for OutValue (default 0), in for
// InValue (default 1); any other value is no direction, and ok is false.
func (t *Tag) DirectionOf(raw int64) (d core.Direction, ok bool) {
	out, in := t.directionValues()
	switch raw {
	case out:
		return core.DirectionOut, true
	case in:
		return core.DirectionIn, true
	}
	return "", false
}

func (t *Tag) directionValues() (out, in int64) {
	out, in = 0, 1
	if t.OutValue != nil {
		out = *t.OutValue
	}
	if t.InValue != nil {
		in = *t.InValue
	}
	return out, in
}

// Controller returns the controller with id, or nil.
func (c *Config) Controller(id string) *Controller {
	for _, k := range c.Controllers {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// Point returns the control point with id, or nil.
func (c *Config) Point(id string) *Point {
	for _, p := range c.Points {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// TagRef is a tag with the control point it belongs to (nil for a tag of the box).
type TagRef struct {
	Tag   *Tag
	Point *Point
}

// Tags lists every tag of the file in document order: the box's first, then each point's.
func (c *Config) Tags() []TagRef {
	var out []TagRef
	for _, t := range c.Box.Tags {
		out = append(out, TagRef{Tag: t})
	}
	for _, p := range c.Points {
		for _, t := range p.Tags {
			out = append(out, TagRef{Tag: t, Point: p})
		}
	}
	return out
}

// Tag returns the tag named name, or nil.
func (c *Config) Tag(name string) *Tag {
	for _, r := range c.Tags() {
		if r.Tag.Name == name {
			return r.Tag
		}
	}
	return nil
}

// TagsWithRole lists the point's tags of role r.
func (p *Point) TagsWithRole(r core.Role) []*Tag {
	var out []*Tag
	for _, t := range p.Tags {
		if t.Role == r {
			out = append(out, t)
		}
	}
	return out
}

// primaryOrder is the order in which a point's totalizers are taken as its primary one.
var primaryOrder = []core.Role{core.RoleTotalVolume, core.RoleTotalStdVolume, core.RoleTotalMass, core.RoleTotalCount, core.RoleReverseVolume}

// Primary returns the point's primary totalizer: the one whose readings define its transactions. It is the
// first of total-volume, total-std-volume, total-mass, total-count and reverse-volume the point has, or nil.
func (p *Point) Primary() *Tag {
	for _, r := range primaryOrder {
		if ts := p.TagsWithRole(r); len(ts) > 0 {
			return ts[0]
		}
	}
	return nil
}

// Totalizer returns the totalizer a start-total or transaction-quantity tag of point p belongs to: the
// tag with role t.Of, or the point's primary totalizer.
func (t *Tag) Totalizer(p *Point) *Tag {
	if t.Of != "" {
		if ts := p.TagsWithRole(t.Of); len(ts) > 0 {
			return ts[0]
		}
		return nil
	}
	return p.Primary()
}

// Product returns the point's product with code, or nil.
func (p *Point) Product(code string) *Product {
	for _, x := range p.Products {
		if x.Code == code {
			return x
		}
	}
	return nil
}

// ProductFor returns the product a raw value of the product-code tag stands for: the mapped one, or the
// only product of a point with one product. It returns nil when the value maps to nothing.
func (p *Point) ProductFor(raw int64) *Product {
	for _, m := range p.ProductMap {
		if m.Raw == raw {
			return p.Product(m.Product)
		}
	}
	if len(p.ProductMap) == 0 && len(p.Products) == 1 {
		return p.Products[0]
	}
	return nil
}
