package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/akciz/akciz/internal/core"
)

// MaxRecordSize is the largest record, in bytes without its line feed, that this version accepts. A
// reading of a few hundred tags fits with room to spare.
const MaxRecordSize = 64 << 10

// line is the JSON form of a record: seq and prev first, then the record's own members.
type line struct {
	Seq  uint64 `json:"seq"`
	Prev Hash   `json:"prev"`
	*core.Record
}

// Entry is a decoded record with its place in the chain.
type Entry struct {
	Seq    uint64      // per-device sequence number, from 1
	Prev   Hash        // chain hash of the record before (ZeroHash for seq 1)
	Hash   Hash        // chain hash of this record: SHA-256 of Raw
	Raw    []byte      // the exact bytes, the evidence
	Record core.Record // what they say
}

// EncodeRecord gives the bytes of record r with sequence number seq after a record whose chain hash is
// prev. Its signature fits the journal's build callback. The bytes are JSON in the one form DecodeRecord
// accepts (docs/protocol.md, "Records"); they carry no line feed.
func EncodeRecord(seq uint64, prev [32]byte, r *core.Record) ([]byte, error) {
	if seq == 0 {
		return nil, fmt.Errorf("wire: record seq must start at 1")
	}
	if seq == 1 && prev != ZeroHash {
		return nil, fmt.Errorf("wire: record seq 1 must have a zero prev")
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("wire: record seq %d: %w", seq, err)
	}
	b, err := marshal(&line{Seq: seq, Prev: prev, Record: r})
	if err != nil {
		return nil, fmt.Errorf("wire: record seq %d: %w", seq, err)
	}
	b = rawReplacementChars(b)
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("wire: record seq %d: %d bytes, over the limit of %d", seq, len(b), MaxRecordSize)
	}
	return b, nil
}

// rawReplacementChars makes invalid UTF-8 in the record's strings canonical. encoding/json writes each
// invalid byte of a string as the escape \ufffd, while the canonical form (the one DecodeRecord accepts, and
// the one encoding/json writes for the decoded string) has the character U+FFFD itself: without this, a
// string read from a PLC with a stray byte would make a record that its own decoder refuses, and that the
// journal then holds for ever. So the record keeps U+FFFD where the invalid bytes were, as
// strings.ToValidUTF8 would, one for each byte. b is compact JSON from marshal; it is changed in place.
func rawReplacementChars(b []byte) []byte {
	const esc, raw = `\ufffd`, "\uFFFD"
	if !bytes.Contains(b, []byte(esc)) {
		return b
	}
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		if bytes.HasPrefix(b[i:], []byte(esc)) {
			out = append(out, raw...)
			i += len(esc) - 1
			continue
		}
		// Any other escape is copied whole, so that the backslash of an escaped backslash is never taken for
		// the start of an escape.
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// marshal writes v as compact JSON without HTML escaping and without the trailing line feed.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// DecodeRecord reads the bytes of one record (without its line feed). It accepts only the exact form that
// EncodeRecord writes: the same members in the same order, no unknown member, no duplicate, no other
// spacing or escaping. So one record has one encoding, and two programs cannot read the same evidence two
// ways. The Entry's Raw is b itself.
func DecodeRecord(b []byte) (Entry, error) {
	var e Entry
	if err := decodeRecord(b, &e, nil, nil); err != nil {
		return Entry{}, failErr(CodeMalformed, e.Seq, err, "wire.record.invalid")
	}
	return e, nil
}

// decodeRecord decodes b into e, reusing scratch for the re-encoding check and sharing repeated strings
// through in, when they are given.
func decodeRecord(b []byte, e *Entry, scratch *bytes.Buffer, in interner) error {
	if len(b) > MaxRecordSize {
		return fmt.Errorf("%d bytes, over the limit of %d", len(b), MaxRecordSize)
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	*e = Entry{Raw: b}
	l := line{Record: &e.Record}
	if fastDecode(b, &l, in) {
		if l.Seq == 0 {
			return fmt.Errorf("seq: missing or 0")
		}
		e.Seq = l.Seq
		if err := e.Record.Validate(); err != nil {
			return err
		}
	} else {
		e.Record = core.Record{}
		if err := slowDecode(b, e, &l, scratch); err != nil {
			return err
		}
	}
	e.Seq, e.Prev, e.Hash = l.Seq, l.Prev, ChainHash(b)
	return nil
}

// slowDecode decodes b with encoding/json and checks that re-encoding gives b again: this rejects
// duplicate members, reordered members, spacing, escapes the encoder does not write, and members the
// encoder omits when empty. Unknown members need no check of their own: they are dropped by the decoding,
// and the re-encoding, lacking them, differs from b.
func slowDecode(b []byte, e *Entry, l *line, scratch *bytes.Buffer) error {
	if err := json.Unmarshal(b, l); err != nil {
		return err
	}
	if l.Seq == 0 {
		return fmt.Errorf("seq: missing or 0")
	}
	e.Seq = l.Seq
	if err := e.Record.Validate(); err != nil {
		return err
	}
	if scratch == nil {
		scratch = new(bytes.Buffer)
	}
	scratch.Reset()
	enc := json.NewEncoder(scratch)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return err
	}
	if c := scratch.Bytes(); !bytes.Equal(c[:len(c)-1], b) {
		return fmt.Errorf("not in the canonical form (member order, spacing, escaping or a duplicate member), first difference at byte %d", firstDiff(c[:len(c)-1], b))
	}
	return nil
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
