// Package core holds the domain vocabulary that every other part of akciz speaks: control points, their
// interval classes and modes, tag roles and directions, as Ordinance N-7 names them. It depends on nothing
// but the standard library, so that the agent, the server, the simulator and the configuration tools agree
// on one meaning of each word.
package core

import (
	"fmt"
	"time"
)

// IntervalClass is the kind of measuring device a control point has, which fixes the longest interval
// allowed between two instantaneous readings sent to the agency (чл. 30, ал. 13).
type IntervalClass string

// The interval classes of чл. 30, ал. 13, т. 1–8.
const (
	ClassRoadLoading    IntervalClass = "road"     // т. 1: road loading racks, 10 min
	ClassRailLoading    IntervalClass = "rail"     // т. 2: rail loading racks, 15 min
	ClassMarineTerminal IntervalClass = "marine"   // т. 3: river and sea terminals, 1 h
	ClassPipeline       IntervalClass = "pipeline" // т. 4: oil, product and gas pipelines, 1 h
	ClassScale          IntervalClass = "scale"    // т. 5: scales, 2 min
	ClassAlcohol        IntervalClass = "alcohol"  // т. 6: alcohol and alcoholic drinks, 10 min
	ClassCounter        IntervalClass = "counter"  // т. 7: piece counters, 15 s
	ClassCNGDispenser   IntervalClass = "cng"      // т. 8: CNG dispensers (mass), 3 min
)

// IntervalClasses lists every class in the order of чл. 30, ал. 13.
var IntervalClasses = []IntervalClass{
	ClassRoadLoading, ClassRailLoading, ClassMarineTerminal, ClassPipeline,
	ClassScale, ClassAlcohol, ClassCounter, ClassCNGDispenser,
}

var classLimits = map[IntervalClass]time.Duration{
	ClassRoadLoading:    10 * time.Minute,
	ClassRailLoading:    15 * time.Minute,
	ClassMarineTerminal: time.Hour,
	ClassPipeline:       time.Hour,
	ClassScale:          2 * time.Minute,
	ClassAlcohol:        10 * time.Minute,
	ClassCounter:        15 * time.Second,
	ClassCNGDispenser:   3 * time.Minute,
}

var classPoints = map[IntervalClass]int{
	ClassRoadLoading: 1, ClassRailLoading: 2, ClassMarineTerminal: 3, ClassPipeline: 4,
	ClassScale: 5, ClassAlcohol: 6, ClassCounter: 7, ClassCNGDispenser: 8,
}

// MaxInterval is the longest time allowed between two instantaneous readings of the class.
func (c IntervalClass) MaxInterval() time.Duration { return classLimits[c] }

// Point is the item (т.) of чл. 30, ал. 13 that defines the class, for citing it to people.
func (c IntervalClass) Point() int { return classPoints[c] }

// Valid reports whether c is one of the classes of чл. 30, ал. 13.
func (c IntervalClass) Valid() bool { _, ok := classLimits[c]; return ok }

// ParseIntervalClass reads a class by its name.
func ParseIntervalClass(s string) (IntervalClass, error) {
	c := IntervalClass(s)
	if !c.Valid() {
		return "", fmt.Errorf("core: unknown interval class %q", s)
	}
	return c, nil
}

// Mode says how a control point reports quantities.
type Mode string

const (
	// ModeTransaction reports loadings and unloadings as transactions with start and end totals
	// (чл. 30, ал. 14, 16, 17).
	ModeTransaction Mode = "transaction"
	// ModeContinuous reports readings only, where customs found that flow never stops (чл. 30, ал. 15).
	ModeContinuous Mode = "continuous"
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeTransaction || m == ModeContinuous }

// Direction is which way excise goods pass a control point (чл. 30, ал. 9).
type Direction string

const (
	DirectionOut  Direction = "out"  // leaving the tax warehouse (извеждане)
	DirectionIn   Direction = "in"   // entering it (въвеждане)
	DirectionBoth Direction = "both" // a bidirectional point whose direction a tag tells
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == DirectionOut || d == DirectionIn || d == DirectionBoth }

// Role is what a tag means to the agent: which readings it feeds and which events it raises.
type Role string

// Tag roles. A role is the agent's only knowledge of a tag's meaning; a tag without one of the roles
// below is read and sent as a plain reading (RoleValue).
const (
	RoleTotalVolume         Role = "total-volume"          // non-resettable gross observed volume totalizer (чл. 30, ал. 6)
	RoleTotalStdVolume      Role = "total-std-volume"      // gross standard volume at 15 °C totalizer
	RoleTotalMass           Role = "total-mass"            // mass totalizer
	RoleTotalCount          Role = "total-count"           // piece counter (чл. 30, ал. 13, т. 7)
	RoleReverseVolume       Role = "reverse-volume"        // totalizer of reverse flow
	RoleFlow                Role = "flow"                  // instantaneous flow rate
	RoleTemperature         Role = "temperature"           // line temperature
	RoleDensity             Role = "density"               // observed density
	RoleDensity15           Role = "density15"             // density at 15 °C (чл. 30, ал. 8)
	RoleAlcohol             Role = "alcohol"               // alcohol content, % vol
	RolePressure            Role = "pressure"              // line pressure
	RoleWeight              Role = "weight"                // scale reading
	RoleProductCode         Role = "product-code"          // the product being measured (чл. 30, ал. 10)
	RoleDirection           Role = "direction"             // the direction of a bidirectional point (чл. 30, ал. 9)
	RoleTransactionFlag     Role = "transaction-indicator" // calibration "change indicator" (чл. 30, ал. 16)
	RoleStartTotal          Role = "start-total"           // the meter's own start-of-transaction total (чл. 30, ал. 17)
	RoleTransactionQuantity Role = "transaction-quantity"  // the meter's own transaction quantity
	RoleDoor                Role = "door"                  // the cabinet's opening sensor (чл. 36)
	RoleUPS                 Role = "ups-on-battery"        // power lost, running on the UPS (чл. 30, ал. 1; чл. 34)
	RoleErrorBits           Role = "error-bits"            // the device's error-bit register (чл. 35, ал. 5)
	RoleValue               Role = "value"                 // any other reading
)

// Roles lists every role.
var Roles = []Role{
	RoleTotalVolume, RoleTotalStdVolume, RoleTotalMass, RoleTotalCount, RoleReverseVolume, RoleFlow,
	RoleTemperature, RoleDensity, RoleDensity15, RoleAlcohol, RolePressure, RoleWeight, RoleProductCode,
	RoleDirection, RoleTransactionFlag, RoleStartTotal, RoleTransactionQuantity, RoleDoor, RoleUPS,
	RoleErrorBits, RoleValue,
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Totalizer reports whether a tag of this role is a non-resettable accumulator, whose decrease is an
// event (чл. 30, ал. 6).
func (r Role) Totalizer() bool {
	switch r {
	case RoleTotalVolume, RoleTotalStdVolume, RoleTotalMass, RoleTotalCount, RoleReverseVolume:
		return true
	}
	return false
}
