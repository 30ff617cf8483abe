package sepi

import (
	"context"
	"sync"
	"time"
)

// Movement is the last time a barcode passed a control point, as a list recorded it.
type Movement struct {
	Kind PointKind
	List string    // the list's number
	When time.Time // the end of the list's period
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

// history checks the list against h: its number (a list sent again, or a number used by another file)
// and every barcode (entering the warehouse twice without leaving in between). A movement recorded by a
// list of the same number is not counted: that is this list, sent before.
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
	if !p.l.Kind.Entering() {
		return nil
	}
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
		// The list's own earlier copy (sent again) is not a second entry.
		if found && m.Kind.Entering() && m.List != p.l.Number {
			p.add(pos{int(e.line), int(e.col)}, "entered-twice", "sepi.rule.entered_twice", e.code.String(),
				m.List, m.When.Format(time.RFC3339))
		}
	}
	return nil
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
