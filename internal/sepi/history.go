package sepi

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Movement is the last time a barcode passed a control point, as a list recorded it.
type Movement struct {
	Kind     PointKind
	List     string    // the list's number
	When     time.Time // the end of the list's period
	Operator string    // the EIK of the operator that filed the list, when the history knows it
}

// History is what is known of the lists accepted before: the server's store implements it over every
// list imported; Memory holds a few lists for the command line and the tests. Implementations must be
// safe for concurrent use.
type History interface {
	// LastMovement gives the latest movement of a barcode; found is false for a barcode never seen.
	LastMovement(ctx context.Context, b Barcode) (m Movement, found bool, err error)
	// ListDigest gives the SHA-256 of the file of the list with a number; found is false for a number
	// never used.
	ListDigest(ctx context.Context, number string) (digest [32]byte, found bool, err error)
}

// BatchHistory is a History that also answers for many barcodes at once: a database answers a thousand
// barcodes in one query much faster than in a thousand. Parse uses it when Options.History has it.
type BatchHistory interface {
	History
	// LastMovements calls fn with the latest movement of each barcode of bs that has one (i is its index
	// in bs), in any order.
	LastMovements(ctx context.Context, bs []Barcode, fn func(i int, m Movement)) error
}

// batchSize is how many barcodes go to one BatchHistory.LastMovements call.
const batchSize = 1000

// history checks the list against h: its number (a list sent again, or a number used by another file)
// and every barcode (entering the warehouse twice without leaving in between, or leaving it twice
// without entering). A movement recorded by a list of the same number is not counted: that is this
// list, sent before.
func (p *parser) history(ctx context.Context, h History, digest [32]byte) error {
	if p.l.Number != "" {
		d, found, err := h.ListDigest(ctx, p.l.Number)
		if err != nil {
			return err
		}
		switch {
		case found && d == digest:
			p.add(p.rootAt, "list-resent", "sepi.rule.list_resent", p.l.Number)
		case found:
			p.add(p.rootAt, "list-number-reused", "sepi.rule.list_number_reused", p.l.Number)
		}
	}
	flag := func(e entry, m Movement) {
		if flagged(&p.l, m) {
			p.flags = append(p.flags, Flag{Barcode: e.code, Line: int(e.line), Col: int(e.col), Prior: m})
		}
	}
	if bh, ok := h.(BatchHistory); ok {
		var codes []Barcode
		var entries []entry
		ask := func() error {
			err := bh.LastMovements(ctx, codes, func(i int, m Movement) { flag(entries[i], m) })
			codes, entries = codes[:0], entries[:0]
			return err
		}
		for i, e := range p.seen {
			if i > 0 && p.seen[i-1].code == e.code {
				continue // a duplicate, reported already
			}
			codes, entries = append(codes, e.code), append(entries, e)
			if len(codes) == batchSize {
				if err := ask(); err != nil {
					return err
				}
			}
		}
		if len(codes) > 0 {
			if err := ask(); err != nil {
				return err
			}
		}
	} else {
		for i, e := range p.seen {
			if i > 0 && p.seen[i-1].code == e.code {
				continue // a duplicate, reported already
			}
			if i&0xffff == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			m, found, err := h.LastMovement(ctx, e.code)
			if err != nil {
				return err
			}
			if found {
				flag(e, m)
			}
		}
	}
	slices.SortStableFunc(p.flags, func(a, b Flag) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return nil
}

// flagged is the rule of a Flag: a barcode of l whose latest movement before l is prior is flagged
// when l and prior both enter the warehouse, or both leave it (a package cannot pass the same way twice
// without passing back in between). The list's own earlier copy (sent again) is not a second movement;
// another person's list of the same number is another list.
func flagged(l *List, prior Movement) bool {
	self := prior.List == l.Number && (prior.Operator == "" || prior.Operator == l.Person.EIK)
	return l.Kind != "" && prior.Kind != "" && l.Kind.Entering() == prior.Kind.Entering() && !self
}

// Recheck decides again whether barcode b of the list is flagged, now that its latest movement before
// the list is known to be prior: the server asks it for the barcodes that lists stored while this one
// was being checked also hold (two lists checked at the same time see nothing of each other). It gives
// the flag, with the barcode's place in the file, or false when b is not flagged or not in the list.
func (r *Result) Recheck(b Barcode, prior Movement) (Flag, bool) {
	if r.List == nil || !flagged(r.List, prior) {
		return Flag{}, false
	}
	i, ok := slices.BinarySearchFunc(r.places, b, func(e entry, b Barcode) int { return cmp.Compare(e.code, b) })
	if !ok {
		return Flag{}, false
	}
	// The first place of a barcode: a list with a duplicate is refused, so there is one.
	e := r.places[i]
	return Flag{Barcode: b, Line: int(e.line), Col: int(e.col), Prior: prior}, true
}

// Memory is a History held in memory: the lists given to Add, in any order.
type Memory struct {
	mu      sync.RWMutex
	lists   []listInfo
	last    map[Barcode]int32 // index in lists of the barcode's latest movement
	numbers map[string][32]byte
}

type listInfo struct {
	kind   PointKind
	number string
	when   time.Time
}

// Add records a valid list and the digest of its file.
func (h *Memory) Add(l *List, digest [32]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		h.last = map[Barcode]int32{}
		h.numbers = map[string][32]byte{}
	}
	h.numbers[l.Number] = digest
	k := int32(len(h.lists))
	h.lists = append(h.lists, listInfo{kind: l.Kind, number: l.Number, when: l.End})
	for i := range l.Products {
		for _, b := range l.Products[i].Barcodes {
			// The latest movement wins, whatever order the lists come in; at the same moment the one
			// added last does.
			if j, ok := h.last[b]; ok && h.lists[j].when.After(l.End) {
				continue
			}
			h.last[b] = k
		}
	}
}

// LastMovement implements History.
func (h *Memory) LastMovement(_ context.Context, b Barcode) (Movement, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	j, ok := h.last[b]
	if !ok {
		return Movement{}, false, nil
	}
	li := h.lists[j]
	return Movement{Kind: li.kind, List: li.number, When: li.when}, true, nil
}

// ListDigest implements History.
func (h *Memory) ListDigest(_ context.Context, number string) ([32]byte, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	d, ok := h.numbers[number]
	return d, ok, nil
}
