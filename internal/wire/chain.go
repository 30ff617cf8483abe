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

// Follower checks records one after another as one device's chain, outside any batch: a journal read from
// the box's disk (`akciz verify DIR`), or any run of records. Each record must decode, be of the device,
// carry the next seq and name the previous record's hash. The zero Follower takes device, seq and link
// from the first record; set Device, Next and Prev (with Anchored) to check the first one too.
type Follower struct {
	Device   string
	Next     uint64 // seq the next record must carry; 0: whatever the first carries
	Prev     Hash   // chain hash the next record must name, when Anchored or after the first record
	Anchored bool
}

// Add checks the next record raw and moves past it. Its error is an *Error naming the code and the seq
// (gap, reorder or replay, altered for a broken link, wrong-device, malformed). After an error Add goes on
// from the record that failed (if it decodes), so that each break is reported once.
func (f *Follower) Add(raw []byte) (Entry, error) {
	e, err := DecodeRecord(raw)
	if err != nil {
		return Entry{}, failErr(CodeMalformed, f.Next, err, "wire.chain.malformed", f.Next)
	}
	next, prev, linked := f.Next, f.Prev, f.Anchored || f.Next != 0
	f.Next, f.Prev, f.Anchored = e.Seq+1, e.Hash, true
	if f.Device == "" {
		f.Device = e.Record.Device
	}
	switch {
	case next != 0 && e.Seq == next+1:
		return e, fail(CodeGap, next, "wire.batch.missing_one", next)
	case next != 0 && e.Seq > next:
		return e, fail(CodeGap, next, "wire.batch.missing", next, e.Seq-1)
	case next != 0 && e.Seq < next:
		return e, fail(CodeReplay, e.Seq, "wire.batch.replayed", e.Seq, next)
	case e.Record.Device != f.Device:
		return e, fail(CodeWrongDevice, e.Seq, "wire.chain.device", e.Seq, e.Record.Device, f.Device)
	case linked && e.Prev != prev:
		return e, fail(CodeAltered, e.Seq, "wire.chain.link", e.Seq, e.Seq-1)
	}
	return e, nil
}
