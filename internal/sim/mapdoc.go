package sim

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// roleMeaning describes each role in Bulgarian, for the register map tables of чл. 35, ал. 4.
var roleMeaning = map[core.Role]string{
	core.RoleTotalVolume:         "тоталайзер обем при температурата на линията (ненулируем, чл. 30, ал. 6)",
	core.RoleTotalStdVolume:      "тоталайзер обем при 15 °C (ненулируем)",
	core.RoleTotalMass:           "тоталайзер маса (ненулируем)",
	core.RoleTotalCount:          "брояч на бройки (ненулируем, чл. 30, ал. 13, т. 7)",
	core.RoleFlow:                "моментен дебит",
	core.RoleTemperature:         "температура",
	core.RoleDensity:             "плътност при температурата на линията",
	core.RoleDensity15:           "плътност при 15 °C (чл. 30, ал. 8)",
	core.RoleAlcohol:             "алкохолно съдържание",
	core.RolePressure:            "налягане",
	core.RoleWeight:              "тегло на везната в текущото дозиране",
	core.RoleProductCode:         "продуктов код (стойност от номенклатурата, чл. 30, ал. 10)",
	core.RoleDirection:           "посока: 0 = изход, 1 = вход (чл. 30, ал. 9)",
	core.RoleTransactionFlag:     "индикатор на промяната: 0→1 начало, 1→0 край на транзакция (чл. 30, ал. 16)",
	core.RoleStartTotal:          "показание на тоталайзера в началото на транзакцията (чл. 30, ал. 17)",
	core.RoleTransactionQuantity: "количество от началото на текущата/последната транзакция",
	core.RoleErrorBits:           "битове за грешки (чл. 35, ал. 5)",
	core.RoleDoor:                "датчик за отваряне на кутията: 1 = отворена (чл. 36)",
	core.RoleUPS:                 "захранване от UPS: 1 = няма мрежово захранване (чл. 30, ал. 1; чл. 34)",
	core.RoleValue:               "стойност",
}

// measure is the engineering unit of a register of role r at point p (nil for the box's registers).
func measure(p *Point, r core.Role) string {
	if p == nil {
		return "0/1"
	}
	vol := "L"
	if p.VolumeUnit == "m3" {
		vol = "m³"
	}
	prim := map[Kind]string{KindMeter: vol, KindCounter: "бр.", KindScale: "kg", KindCNG: "kg"}[p.Kind]
	per := map[time.Duration]string{time.Second: "/s", time.Minute: "/min", time.Hour: "/h"}[p.Run.Per]
	switch r {
	case core.RoleTotalVolume:
		return vol
	case core.RoleTotalStdVolume:
		return vol + " при 15 °C"
	case core.RoleTotalMass, core.RoleWeight:
		return "kg"
	case core.RoleTotalCount:
		return "бр."
	case core.RoleFlow:
		return prim + per
	case core.RoleTemperature:
		return "°C"
	case core.RoleDensity, core.RoleDensity15:
		return "kg/m³"
	case core.RoleAlcohol:
		return "% об."
	case core.RolePressure:
		return "bar"
	case core.RoleTransactionFlag, core.RoleDirection:
		return "0/1"
	case core.RoleErrorBits:
		return "битове"
	}
	return "—"
}

// Logical is the Modicon logical address of a register: 00001, 10001, 30001 or 40001 plus its address
// (six digits beyond 9998).
func (r *Register) Logical() string {
	first := map[Table]int{Coils: 0, DiscreteInputs: 1, InputRegisters: 3, HoldingRegisters: 4}[r.Table]
	if r.Address < 9999 {
		return fmt.Sprintf("%d%04d", first, int(r.Address)+1)
	}
	return fmt.Sprintf("%d%05d", first, int(r.Address)+1)
}

// WriteMap writes the scenario's register map as a Markdown table: one row a register, with what the
// Modbus map of чл. 35, ал. 4 asks for.
func (sc *Scenario) WriteMap(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| unit | point | logical | physical | table | type | order | scale | role | measure | meaning |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(d *Device, p *Point, r *Register) {
		pt := "box"
		if p != nil {
			pt = fmt.Sprintf("%03d", p.Number)
		}
		order, typ := string(r.Order), string(r.Type)
		if r.Table.Bits() || r.Type.Registers() == 1 && r.Type != "bit" && r.Order == "ABCD" {
			order = ""
		}
		if r.Table.Bits() {
			typ = "bool"
		} else if r.Type == "bit" {
			typ = fmt.Sprintf("bit %d", r.Bit)
		}
		scale := ""
		if r.Scale != 1 {
			scale = fmt.Sprintf("%g", r.Scale)
		}
		role := string(r.Role)
		mean := roleMeaning[r.Role]
		m := measure(p, r.Role)
		if r.Of != "" {
			role += " (" + string(r.Of) + ")"
			m = measure(p, r.Of)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | 0x%04X | %s | %s | %s | %s | %s | %s | %s |\n",
			d.Unit, pt, r.Logical(), r.Address, r.Table, typ, order, scale, role, m, mean)
	}
	for _, d := range sc.Devices {
		for _, r := range d.Registers {
			row(d, nil, r)
		}
		for _, p := range d.Points {
			for _, r := range p.Registers {
				row(d, p, r)
			}
		}
	}
	// The error tables of чл. 35, ал. 5, one line a point.
	b.WriteString("\nError bits (чл. 35, ал. 5):\n\n")
	for _, d := range sc.Devices {
		for _, p := range d.Points {
			if len(p.Errors) == 0 {
				continue
			}
			fmt.Fprintf(&b, "- %03d:", p.Number)
			for i, e := range p.Errors {
				if i > 0 {
					b.WriteString(";")
				}
				fmt.Fprintf(&b, " bit %d `%s` %s", e.Bit, e.Code, e.Text)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
