package wire

// Tip is where a device's chain stands after the last batch accepted from it: the server keeps one per
// device, the agent keeps its own, and `akciz verify` carries one from file to file. The zero Tip is a
// device that has sent nothing.
type Tip struct {
	Seq   uint64 // seq of the last record accepted; 0 for none
	Chain Hash   // its chain hash; ZeroHash for none
	Batch Hash   // digest of the last batch accepted; ZeroHash for none
}

// Check reports whether the batch of h continues the chain at t: it must start at the next seq, link to
// the last record's hash and name the last batch's digest. A batch that starts at or before t.Seq is a
// replay (the server answers an exact repeat of an accepted batch with its receipt instead: see
// docs/protocol.md, "Idempotence").
func (t Tip) Check(h *Header) error {
	switch {
	case h.First > t.Seq+1:
		return fail(CodeGap, t.Seq+1, "wire.tip.gap", t.Seq+1, h.First-1)
	case h.First <= t.Seq:
		return fail(CodeReplay, h.First, "wire.tip.replay", h.First, h.Last, t.Seq)
	case h.PrevChain != t.Chain:
		return fail(CodeAltered, h.First, "wire.tip.chain", h.First, t.Seq)
	case h.PrevBatch != t.Batch:
		return fail(CodeAltered, h.First, "wire.tip.batch", h.First)
	}
	return nil
}

// Next is the tip after the batch of h.
func (t Tip) Next(h *Header) Tip { return Tip{Seq: h.Last, Chain: h.LastChain, Batch: h.Digest()} }
