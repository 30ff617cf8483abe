package submit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/sepi"
	"github.com/akciz/akciz/internal/store"
)

// Status is what became of a submission.
type Status string

// The statuses of a submission.
const (
	Accepted  Status = "accepted"  // stored now
	Duplicate Status = "duplicate" // the same file was stored before; nothing changed
	Refused   Status = "refused"   // errors; nothing stored
)

// ErrDigest is returned when the bytes received are not those the client's digest names: the upload was
// altered or cut on the way, and nothing is stored.
var ErrDigest = errors.New("submit: the file received differs from its digest")

// RulePersonOperator is the rule of a list whose obligated person is not the operator who sends it.
const RulePersonOperator = "person-operator"

// SepiOutcome is the answer to a barcode list.
type SepiOutcome struct {
	Status Status
	// Result is the check: Number, SHA256 and Bytes always; Errors of a refused list (with line and
	// column); Flags, the barcodes entering again without having left (the list is accepted with them).
	Result *sepi.Result
	// List is the stored list (accepted or duplicate).
	List store.SepiList
}

// ImportSepi checks the list r streams for operator (the EIK of its client certificate) against every
// list stored before and stores it whole, in one transaction, when it has no error. want, when not
// nil, is the SHA-256 the client says it sent (RFC 9530 Content-Digest): a list received otherwise gives
// ErrDigest. The list's obligated person must be operator (чл. 42, т. 1). An error is returned only
// when r, the store or ctx fail; whatever is wrong with the list is in the outcome.
func (s *Service) ImportSepi(ctx context.Context, operator string, r io.Reader, want *[32]byte) (*SepiOutcome, error) {
	release, err := acquire(ctx, s.sepiSlots)
	if err != nil {
		return nil, err
	}
	defer release()
	// The mark is taken before the history is read: a list stored after it is checked against again
	// when this one is stored (two lists sent at the same time see nothing of each other).
	mark, err := s.cfg.Store.SepiHistoryMark(ctx)
	if err != nil {
		return nil, fmt.Errorf("submit: sepi list: %w", err)
	}
	h := history{st: s.cfg.Store, operator: operator}
	res, err := sepi.Parse(ctx, r, sepi.Options{History: h})
	if err != nil {
		return nil, fmt.Errorf("submit: sepi list: %w", err)
	}
	if want != nil && *want != res.SHA256 {
		return nil, ErrDigest
	}
	out := &SepiOutcome{Status: Refused, Result: res}
	for _, e := range res.Errors {
		if e.Rule == "list-resent" {
			// Sent before, accepted then: the list's other findings now are only those of its own
			// history, and the answer is the stored list.
			l, err := s.cfg.Store.SepiList(ctx, operator, res.Number)
			if err != nil {
				return nil, fmt.Errorf("submit: sepi list %s: %w", res.Number, err)
			}
			out.Status, out.List = Duplicate, l
			res.Errors, res.Omitted, res.Flags = nil, 0, nil
			return out, nil
		}
	}
	l := res.List
	if l == nil {
		return out, nil
	}
	if l.Person.EIK != operator {
		refuse(res, sepi.Error{Line: res.PersonAt.Line, Col: res.PersonAt.Col, Rule: RulePersonOperator, Msg: i18n.M("submit.sepi.person_operator", l.Person.EIK, operator)})
		return out, nil
	}
	sl := storedList(operator, res)
	sl.HistoryMark = mark
	rechecked := map[sepi.Barcode]*sepi.Flag{}
	sl.Recheck = func(b int64, m store.SepiMovement) (store.SepiFlag, bool) {
		f, ok := res.Recheck(sepi.Barcode(b), movement(m))
		rechecked[sepi.Barcode(b)] = nil
		if !ok {
			return store.SepiFlag{}, false
		}
		rechecked[sepi.Barcode(b)] = &f
		return storedFlag(l.Number, f), true
	}
	stored, dup, err := s.cfg.Store.AddSepiList(ctx, sl)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Another upload of the same number got in first, with another file.
		refuse(res, sepi.Error{Line: res.RootAt.Line, Col: res.RootAt.Col, Rule: "list-number-reused", Msg: i18n.M("sepi.rule.list_number_reused", l.Number)})
		return out, nil
	case err != nil:
		return nil, fmt.Errorf("submit: sepi list %s: %w", l.Number, err)
	case dup:
		out.Status, res.Flags = Duplicate, nil
	default:
		out.Status = Accepted
		if len(rechecked) > 0 {
			res.Flags = recheckFlags(res.Flags, rechecked)
		}
	}
	out.List = stored
	// The barcodes are in the store now; the caller needs the counts only.
	res.List = nil
	return out, nil
}

func refuse(res *sepi.Result, e sepi.Error) {
	res.List = nil
	res.Errors = append(res.Errors, e)
}

// storedList converts a checked list to the store's form.
func storedList(operator string, res *sepi.Result) *store.SepiList {
	l := res.List
	sl := &store.SepiList{Operator: operator, Number: l.Number, SHA256: res.SHA256, Bytes: res.Bytes,
		PersonName: l.Person.Name, PersonEIK: l.Person.EIK, ExciseNumber: l.Person.ExciseNumber,
		Point: l.Point.String(), Kind: string(l.Kind), Goods: string(l.Goods), Start: l.Start, End: l.End,
		ARC: l.ARC, Vehicle: l.Vehicle, Packages: int64(l.Packages)}
	if r := l.Recipient; r != nil {
		sl.RecipientName, sl.RecipientEIK, sl.RecipientCountry = r.Name, r.EIK, r.Country
	}
	sl.Products = make([]store.SepiProduct, len(l.Products))
	for i := range l.Products {
		p := &l.Products[i]
		codes := make([]int64, len(p.Barcodes))
		for j, b := range p.Barcodes {
			codes[j] = int64(b)
		}
		// The list's own copy is dropped as it is converted, so that a list of a million barcodes is
		// not held twice.
		p.Barcodes = nil
		sl.Products[i] = store.SepiProduct{Index: i, Document: p.Document, CN: p.CN, Brand: p.Brand,
			Assortment: p.Assortment, PiecesPerPack: p.PiecesPerPack, Kilograms: p.Kilograms,
			CigaretteLength: p.CigaretteLength, RetailPrice: p.RetailPrice, Destination: p.Destination,
			Origin: p.Origin, Manufacturer: p.Manufacturer, PacksPerPackage: p.PacksPerPackage,
			ProductionDate: p.ProductionDate, BrandPackages: p.BrandPackages, Count: int64(len(codes)),
			Barcodes: codes}
	}
	sl.Flags = make([]store.SepiFlag, len(res.Flags))
	for i, f := range res.Flags {
		sl.Flags[i] = storedFlag(l.Number, f)
	}
	return sl
}

func storedFlag(number string, f sepi.Flag) store.SepiFlag {
	return store.SepiFlag{ListNumber: number, Barcode: int64(f.Barcode), Line: f.Line,
		Prior: store.SepiMovement{Kind: string(f.Prior.Kind), List: f.Prior.List, Operator: f.Prior.Operator,
			When: f.Prior.When}}
}

func movement(m store.SepiMovement) sepi.Movement {
	return sepi.Movement{Kind: sepi.PointKind(m.Kind), List: m.List, When: m.When, Operator: m.Operator}
}

// recheckFlags replaces the flags of the barcodes the store checked again (a nil flag: none now),
// keeping the order of the file.
func recheckFlags(flags []sepi.Flag, rechecked map[sepi.Barcode]*sepi.Flag) []sepi.Flag {
	out := make([]sepi.Flag, 0, len(flags)+len(rechecked))
	for _, f := range flags {
		if _, ok := rechecked[f.Barcode]; !ok {
			out = append(out, f)
		}
	}
	for _, f := range rechecked {
		if f != nil {
			out = append(out, *f)
		}
	}
	slices.SortFunc(out, func(a, b sepi.Flag) int { return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col)) })
	return out
}
