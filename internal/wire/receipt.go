package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ReceiptFormat is the value of a receipt's "format" member.
const ReceiptFormat = "akciz-receipt"

// MaxReceiptSize bounds a receipt (and a checkpoint) that a decoder reads.
const MaxReceiptSize = 64 << 10

// Checkpoint is the state of the server's transparency log: an RFC 6962 Merkle tree whose leaves are batch
// digests, in the order the server made them durable.
type Checkpoint struct {
	Origin string    // the log's name, e.g. "customs.bg/akciz/v1"
	Size   int64     // number of leaves
	Root   tlog.Hash // tree hash
}

// Text is the checkpoint body that the server signs as a note (C2SP signed-note / checkpoint form):
// "<origin>\n<size>\n<base64 root>\n".
func (c Checkpoint) Text() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint reads a checkpoint body. Lines after the third (extension lines of the C2SP format) are
// not allowed in version 1.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return c, errors.New("checkpoint: want three lines")
	}
	if lines[0] == "" {
		return c, errors.New("checkpoint: empty origin")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return c, fmt.Errorf("checkpoint: size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint: root hash %q", lines[2])
	}
	c.Origin, c.Size = lines[0], n
	copy(c.Root[:], root)
	return c, nil
}

// SignCheckpoint gives the signed note of c.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Text())}, s)
}

// OpenCheckpoint checks the signature of a signed checkpoint with the server's verifier keys and reads it.
func OpenCheckpoint(signed []byte, keys note.Verifiers) (Checkpoint, error) {
	n, err := note.Open(signed, keys)
	if err != nil {
		return Checkpoint{}, err
	}
	return ParseCheckpoint([]byte(n.Text))
}

// LeafData is what the server appends to its log for a batch: the 32 bytes of the batch digest.
func LeafData(digest Hash) []byte { return digest[:] }

// Receipt is the server's answer to an accepted batch. It says the batch is durable, and proves that it is
// in the server's log, so that the server cannot later deny having received it, nor rewrite its history
// without the agent (or an officer holding the receipts) noticing.
type Receipt struct {
	Format   string    `json:"format"` // ReceiptFormat
	Version  int       `json:"v"`      // Version
	Device   string    `json:"device"`
	First    uint64    `json:"first"`
	Last     uint64    `json:"last"`
	Batch    Hash      `json:"batch"`    // the batch digest
	Received time.Time `json:"received"` // when the server made it durable, UTC, milliseconds
	Index    int64     `json:"index"`    // the batch's leaf index in the log
	// Checkpoint is the signed note of a checkpoint whose tree includes the leaf.
	Checkpoint string `json:"checkpoint"`
	// Inclusion is the proof that leaf Index is in the checkpoint's tree (tlog.ProveRecord).
	Inclusion []Hash `json:"inclusion"`
	// ConsistencyFrom is the tree size the agent said it last saw (request header Akciz-Tree-Size), and
	// Consistency the proof that the checkpoint's tree extends that one (tlog.ProveTree). Absent when the
	// agent saw none.
	ConsistencyFrom int64  `json:"consistencyFrom,omitempty"`
	Consistency     []Hash `json:"consistency,omitempty"`
}

// ParseReceipt reads a receipt.
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxReceiptSize {
		return nil, fail(CodeTooLarge, 0, "wire.receipt.too_large", MaxReceiptSize)
	}
	var r Receipt
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || dec.More() {
		if err == nil {
			err = errors.New("data after the receipt")
		}
		return nil, failErr(CodeMalformed, 0, err, "wire.receipt.malformed")
	}
	if r.Format != ReceiptFormat {
		return nil, fail(CodeMalformed, 0, "wire.receipt.format", r.Format)
	}
	if r.Version != Version {
		return nil, fail(CodeUnsupportedVersion, 0, "wire.header.version", r.Version, Version)
	}
	if r.Index < 0 || r.ConsistencyFrom < 0 || len(r.Inclusion) > 64 || len(r.Consistency) > 128 {
		return nil, fail(CodeMalformed, r.First, "wire.receipt.fields")
	}
	return &r, nil
}

// Verify checks the receipt: the checkpoint's signature with keys, that the batch digest is leaf Index
// of the checkpoint's tree, that the receipt is about h (when not nil), and, when prev is not nil, that
// the checkpoint's tree extends prev's (the log was only appended to). It returns the checkpoint, to be
// passed as prev to the next receipt's Verify.
func (r *Receipt) Verify(keys note.Verifiers, h *Header, prev *Checkpoint) (Checkpoint, error) {
	c, err := OpenCheckpoint([]byte(r.Checkpoint), keys)
	if err != nil {
		return c, failErr(CodeBadReceipt, r.First, err, "wire.receipt.checkpoint")
	}
	if h != nil {
		if d := h.Digest(); d != r.Batch || h.Device != r.Device || h.First != r.First || h.Last != r.Last {
			return c, fail(CodeBadReceipt, r.First, "wire.receipt.other_batch", r.Device, r.First, r.Last)
		}
	}
	if r.Index >= c.Size {
		return c, fail(CodeBadReceipt, r.First, "wire.receipt.index", r.Index, c.Size)
	}
	leaf := tlog.RecordHash(LeafData(r.Batch))
	if err := tlog.CheckRecord(hashes(r.Inclusion), c.Size, c.Root, r.Index, leaf); err != nil {
		return c, failErr(CodeBadReceipt, r.First, err, "wire.receipt.inclusion", r.Index, c.Size)
	}
	if prev != nil {
		if prev.Origin != c.Origin {
			return c, fail(CodeInconsistentLog, r.First, "wire.receipt.origin", c.Origin, prev.Origin)
		}
		switch {
		case prev.Size > c.Size:
			return c, fail(CodeInconsistentLog, r.First, "wire.receipt.shrunk", c.Size, prev.Size)
		case prev.Size == c.Size:
			if prev.Root != c.Root {
				return c, fail(CodeInconsistentLog, r.First, "wire.receipt.forked", c.Size)
			}
		case r.ConsistencyFrom != prev.Size:
			return c, fail(CodeInconsistentLog, r.First, "wire.receipt.no_consistency", prev.Size, r.ConsistencyFrom)
		default:
			if err := tlog.CheckTree(hashes(r.Consistency), c.Size, c.Root, prev.Size, prev.Root); err != nil {
				return c, failErr(CodeInconsistentLog, r.First, err, "wire.receipt.inconsistent", prev.Size, c.Size)
			}
		}
	}
	return c, nil
}

func hashes(hs []Hash) []tlog.Hash {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = tlog.Hash(h)
	}
	return out
}

// Hashes converts tlog proofs to the receipt's form.
func Hashes(hs []tlog.Hash) []Hash {
	out := make([]Hash, len(hs))
	for i, h := range hs {
		out[i] = Hash(h)
	}
	return out
}
