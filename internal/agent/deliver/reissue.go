package deliver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

// Reissuer is the journal.Reissuer of the agent: it declares records the journal lost to disk damage with a
// records-lost event, and renumbers the intact records after them (docs/protocol.md, "Records lost in the
// agent's journal").
type Reissuer struct {
	Device string
	Config string // the configuration's hash, carried by the event like by every record
	Test   bool
	Now    func() time.Time // nil is time.Now
	// Inflight holds the records of the batch in flight by seq (InflightRecords): they may already be on
	// the server, so a lost one among them is restored from this copy instead of declared lost.
	Inflight map[uint64][]byte
}

var _ journal.Reissuer = Reissuer{}

// Declare makes the records-lost event for lost, at seq after prev.
func (r Reissuer) Declare(seq uint64, prev [32]byte, lost journal.SeqRange, why string) ([]byte, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	ev := &core.Record{Kind: core.KindEvent, Time: core.Stamp(now()), Device: r.Device, Config: r.Config, Test: r.Test,
		Event: &core.Event{Kind: core.EventRecordsLost, Previous: strconv.FormatUint(lost.First, 10),
			Value: strconv.FormatUint(lost.Last, 10),
			Detail: fmt.Sprintf("journal records %d-%d %s before they were sent; the records after them follow from %d",
				lost.First, lost.Last, why, seq+1)}}
	return wire.EncodeRecord(seq, prev, ev)
}

// Renumber encodes the record data again at seq after prev; its content is unchanged.
func (Reissuer) Renumber(seq uint64, prev [32]byte, data []byte) ([]byte, error) {
	e, err := wire.DecodeRecord(data)
	if err != nil {
		return nil, err
	}
	return wire.EncodeRecord(seq, prev, &e.Record)
}

// Restore returns the batch in flight's copy of record seq if it links to prev.
func (r Reissuer) Restore(seq uint64, prev [32]byte) ([]byte, bool) {
	b, ok := r.Inflight[seq]
	if !ok {
		return nil, false
	}
	e, err := wire.DecodeRecord(b)
	if err != nil || e.Seq != seq || e.Prev != prev || e.Record.Device != r.Device {
		return nil, false
	}
	return b, true
}

// InflightRecords reads the batch in flight that a Sender with this StateDir left (nil if there is none or
// it does not read), by seq. The agent gives it to its Reissuer before reissuing a damaged journal: that
// batch may have reached the server without its receipt reaching the agent.
func InflightRecords(stateDir string) map[uint64][]byte {
	body, err := os.ReadFile(filepath.Join(stateDir, inflightFile))
	if err != nil {
		return nil
	}
	recs := map[uint64][]byte{}
	if _, err := wire.DecodeBatch(bytes.NewReader(body), wire.DecodeOptions{}, func(e *wire.Entry) error {
		recs[e.Seq] = bytes.Clone(e.Raw)
		return nil
	}); err != nil {
		return nil
	}
	return recs
}
