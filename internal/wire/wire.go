// Package wire is the protocol between `akciz agent` and `akciz server`, version 1, as docs/protocol.md
// defines it: the encoding of records (one JSON object a line, whose exact bytes are the evidence and are
// hash-chained per device), signed batches of records (a gzip stream of a header line and the record
// lines), the checks of continuity across batches, the answers of the server (receipts carrying a signed
// checkpoint of the server's transparency log, and problem documents) and their offline verification.
//
// Everything here is pure: no network, no storage. Both sides, and `akciz verify`, use the same code, so
// that what the agent writes is exactly what the server and a customs officer check.
package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// Version is the protocol version this package speaks. It is written in every batch header, in the
// digest that the operator signs, and in the URL path of the transport (/api/v1/).
const Version = 1

// Hash is a SHA-256 value. It reads and writes as 64 lower-case hex digits.
type Hash [sha256.Size]byte

// ZeroHash is the prev of a device's first record and the prevBatch of its first batch.
var ZeroHash Hash

// String gives the hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the hex form.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 2*len(h))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText reads the hex form: exactly 64 lower-case hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash reads 64 lower-case hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash: want 64 hex digits, have %d characters", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return h, fmt.Errorf("hash: %q at %d is not a lower-case hex digit", c, i)
		}
	}
	hex.Decode(h[:], []byte(s))
	return h, nil
}

// ChainHash is the hash that links a record to the next one: SHA-256 over the record's exact bytes, without
// the line feed that ends its line.
func ChainHash(record []byte) Hash { return sha256.Sum256(record) }

// timeLayout is how times are written in digests: UTC, exactly three fractional digits.
const timeLayout = "2006-01-02T15:04:05.000Z"

// Code is the machine-readable kind of a protocol failure. The same codes are the "code" member of the
// server's problem documents (docs/protocol.md, "Errors") and the verdicts of `akciz verify`.
type Code string

// The failure codes.
const (
	CodeGap                Code = "gap"                 // records are missing: Seq is the first missing one
	CodeReplay             Code = "replay"              // records already sent come again: Seq is the first repeated one
	CodeReorder            Code = "reorder"             // records out of order: Seq is the first out of place
	CodeAltered            Code = "altered"             // a record's bytes differ from those chained and signed: Seq is the record
	CodeBadSignature       Code = "bad-signature"       // the batch signature does not verify with the certificate
	CodeUnknownCertificate Code = "unknown-certificate" // the certificate does not chain to a trust anchor, or is not the one expected
	CodeExpiredCertificate Code = "expired-certificate" // not valid at the batch's creation time
	CodeWrongOperator      Code = "wrong-operator"      // the certificate names another operator (EIK)
	CodeWrongDevice        Code = "wrong-device"        // a record or batch of another device
	CodeMalformed          Code = "malformed"           // not in the format of this protocol
	CodeTooLarge           Code = "too-large"           // over a size or count limit
	CodeUnsupportedVersion Code = "unsupported-version" // a protocol version this side does not speak
	CodeBadReceipt         Code = "bad-receipt"         // a receipt whose proof or checkpoint signature fails
	CodeInconsistentLog    Code = "inconsistent-log"    // a checkpoint that is not an extension of an earlier one
)

// Error is a protocol failure: its code, the sequence number concerned (0 when none), and a message for
// people (translated where it is shown).
type Error struct {
	Code Code
	Seq  uint64
	Msg  i18n.Message
	Err  error // the underlying cause, if any
}

func (e *Error) Error() string {
	s := "wire: " + string(e.Code)
	if e.Seq != 0 {
		s += fmt.Sprintf(" at seq %d", e.Seq)
	}
	s += ": " + e.Msg.String()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func fail(code Code, seq uint64, key string, args ...any) *Error {
	return &Error{Code: code, Seq: seq, Msg: i18n.M(key, args...)}
}

func failErr(code Code, seq uint64, err error, key string, args ...any) *Error {
	return &Error{Code: code, Seq: seq, Msg: i18n.M(key, args...), Err: err}
}

func stamped(t time.Time) bool {
	return !t.IsZero() && t.Location() == time.UTC && t.Nanosecond()%int(time.Millisecond) == 0
}
