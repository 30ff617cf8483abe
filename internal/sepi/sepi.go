// Package sepi reads and checks the barcode lists of the system for electronic counting and identification
// of tobacco products (СЕПИ, чл. 40–42 of Ordinance N-7): one XML list per transaction, holding the
// unique barcodes of the transport packages that passed a control point, with the data of чл. 42.
//
// Parse streams a list of any size with bounded memory and answers with a complete, validated List or
// with every error and its place, never a part of a list. The format is schemas/sepi-1.0.xsd; the rules
// beyond the schema (чл. 41) are described in docs/sepi.md.
package sepi

import (
	"fmt"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// Namespace is the XML namespace of version 1 of the format.
const Namespace = "urn:akciz:sepi:1"

// PointKind is the kind of control point a list was counted at (чл. 42, т. 2, букви а–г).
type PointKind string

// The kinds of control point of чл. 42, т. 2.
const (
	ProductionToWarehouse PointKind = "production-to-warehouse" // а) from production into the storage rooms
	WarehouseToProduction PointKind = "warehouse-to-production" // б) from the storage rooms into production
	Entry                 PointKind = "entry"                   // в) into the tax warehouse
	Exit                  PointKind = "exit"                    // г) out of the tax warehouse
)

var pointKinds = []PointKind{ProductionToWarehouse, WarehouseToProduction, Entry, Exit}

// Entering reports whether goods counted at a point of kind k come into the warehouse's stock; a barcode
// may not enter twice without leaving in between.
func (k PointKind) Entering() bool { return k == ProductionToWarehouse || k == Entry }

// Goods is the kind of excise good of a list: one per list (чл. 41, ал. 5).
type Goods string

// The kinds of excise good of чл. 41, ал. 5.
const (
	Cigarettes     Goods = "cigarettes"
	Cigars         Goods = "cigars" // cigars and cigarillos
	SmokingTobacco Goods = "smoking-tobacco"
)

var goodsKinds = []Goods{Cigarettes, Cigars, SmokingTobacco}

// GoodsOfCN tells the kind of good of a Combined Nomenclature code of 8 digits: 2402 10 cigars and
// cigarillos, 2402 20 cigarettes, 2403 1x smoking tobacco. Any other code is not one of the kinds of
// чл. 41, ал. 5 and gives false.
func GoodsOfCN(cn string) (Goods, bool) {
	if len(cn) != 8 {
		return "", false
	}
	switch {
	case cn[:6] == "240210":
		return Cigars, true
	case cn[:6] == "240220":
		return Cigarettes, true
	case cn[:5] == "24031":
		return SmokingTobacco, true
	}
	return "", false
}

// Destinations are the purposes of чл. 42, т. 3, буква и).
var Destinations = []string{
	"release-for-consumption", // освободено за потребление
	"tax-warehouse",           // до друг данъчен склад на територията на страната
	"export",                  // за износ
	"member-state",            // за друга държава членка
	"destruction",             // извеждане с цел унищожаване
}

// Barcode is the barcode of a transport package: an SSCC-18 (GS1 serial shipping container code), kept as
// its 18-digit number, which fits 8 bytes exactly (10^18 < 2^63).
type Barcode uint64

// String gives the 18 digits.
func (b Barcode) String() string { return fmt.Sprintf("%018d", uint64(b)) }

// Person is the obligated person (чл. 42, т. 1).
type Person struct {
	Name         string
	EIK          string // ЕИК, with correct check digits
	ExciseNumber string // идентификационен номер по ЗАДС, e.g. BGNBL0000300A
}

// Recipient is the one recipient of an exit list (чл. 41, ал. 4).
type Recipient struct {
	Name         string
	EIK          string // may be empty (a foreign recipient)
	ExciseNumber string // may be empty
	Country      string // ISO 3166 alpha-2, may be empty
}

// Product is one product (brand and assortment) of a list, with its barcodes (чл. 42, т. 3).
type Product struct {
	Document        string    // а) the document number: e-AD (ARC) or another document
	CN              string    // б) Combined Nomenclature code, 8 digits without spaces
	Brand           string    // в)
	Assortment      string    // г)
	PiecesPerPack   int       // д) cigarettes, cigars and cigarillos; 0 for smoking tobacco
	Kilograms       string    // е) smoking tobacco, a decimal as written; empty otherwise
	CigaretteLength int       // ж) millimetres without the filter or mouthpiece; 0 unless cigarettes
	RetailPrice     string    // з) registered retail price in euro, a decimal as written
	Destination     string    // и) one of Destinations
	Origin          string    // к) country of origin, ISO 3166 alpha-2
	Manufacturer    string    // л)
	PacksPerPackage int       // м) consumer packs in a transport package
	ProductionDate  time.Time // н) a date (UTC midnight)
	BrandPackages   int       // о) transport packages of the brand in the whole list, as declared
	Barcodes        []Barcode // р)
}

// List is a complete, validated barcode list.
type List struct {
	Number     string // т. 4: unique, digits only
	Person     Person
	Point      core.PointID
	Kind       PointKind
	Goods      Goods
	Start, End time.Time // the period the list covers
	ARC        string    // the e-AD of an entry list (чл. 41, ал. 3); may be given for other kinds
	Recipient  *Recipient
	Vehicle    string // registration of the one vehicle of an exit list (чл. 41, ал. 4)
	Packages   int    // п) transport packages in the list, as declared and as counted
	Products   []Product
}

// Barcodes is the number of barcodes of the list.
func (l *List) Barcodes() int {
	n := 0
	for i := range l.Products {
		n += len(l.Products[i].Barcodes)
	}
	return n
}
