package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk format, version 1. All integers are big-endian. docs/journal.md describes it byte by byte; keep the
// two in step.

const (
	formatVersion = 1

	// segHeaderSize is the fixed size of a segment header.
	segHeaderSize = 128
	// maxDeviceLen bounds the device id stored in a segment header.
	maxDeviceLen = 63

	// frameHeaderSize is the fixed size of a frame header; the record's bytes follow it.
	frameHeaderSize = 32

	segSuffix  = ".seg"
	ackName    = "ack"
	ackTmpName = "ack.tmp"
	lockName   = "lock"

	ackMagic      = "AKZJACK1"
	ackFixedSize  = 8 + 2 + 2 + 8 + 32 + 4 // magic, version, reserved, seq, hash, receipt length
	maxAckReceipt = 1 << 20
)

// segMagic opens every segment file.
var segMagic = [8]byte{'A', 'K', 'Z', 'J', 'S', 'E', 'G', 0}

// frameMagic opens every frame. It is not valid UTF-8 and not printable, so text records (JSON, XML) never
// contain it by accident; a false match during resynchronisation is rejected by the header checksum anyway.
var frameMagic = [4]byte{0xD9, 0x4A, 0x52, 0xFE}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segHeader is the decoded header of a segment file.
type segHeader struct {
	version  uint16
	firstSeq uint64
	prev     [32]byte
	created  int64 // unix nanoseconds
	device   string
}

func (h *segHeader) encode(b []byte) {
	_ = b[segHeaderSize-1]
	clear(b[:segHeaderSize])
	copy(b[0:8], segMagic[:])
	binary.BigEndian.PutUint16(b[8:10], formatVersion)
	binary.BigEndian.PutUint16(b[10:12], segHeaderSize)
	binary.BigEndian.PutUint64(b[12:20], h.firstSeq)
	copy(b[20:52], h.prev[:])
	binary.BigEndian.PutUint64(b[52:60], uint64(h.created))
	b[60] = byte(len(h.device))
	copy(b[61:124], h.device)
	binary.BigEndian.PutUint32(b[124:128], crc32.Checksum(b[:124], castagnoli))
}

func decodeSegHeader(b []byte) (segHeader, error) {
	var h segHeader
	if len(b) < segHeaderSize {
		return h, fmt.Errorf("segment header: %d bytes, want %d", len(b), segHeaderSize)
	}
	if [8]byte(b[0:8]) != segMagic {
		return h, fmt.Errorf("segment header: bad magic")
	}
	if got, want := binary.BigEndian.Uint32(b[124:128]), crc32.Checksum(b[:124], castagnoli); got != want {
		return h, fmt.Errorf("segment header: checksum %08x, want %08x", got, want)
	}
	h.version = binary.BigEndian.Uint16(b[8:10])
	if h.version != formatVersion {
		return h, fmt.Errorf("segment header: format version %d, this build reads %d", h.version, formatVersion)
	}
	if n := binary.BigEndian.Uint16(b[10:12]); n != segHeaderSize {
		return h, fmt.Errorf("segment header: size %d, want %d", n, segHeaderSize)
	}
	h.firstSeq = binary.BigEndian.Uint64(b[12:20])
	copy(h.prev[:], b[20:52])
	h.created = int64(binary.BigEndian.Uint64(b[52:60]))
	n := int(b[60])
	if n > maxDeviceLen {
		return h, fmt.Errorf("segment header: device id length %d", n)
	}
	h.device = string(b[61 : 61+n])
	return h, nil
}

// frameHeader is the decoded header of one frame.
type frameHeader struct {
	length  uint32 // bytes of the record that follow the header
	seq     uint64
	time    int64 // unix nanoseconds when the record was appended
	dataCRC uint32
}

func (h *frameHeader) encode(b []byte) {
	_ = b[frameHeaderSize-1]
	copy(b[0:4], frameMagic[:])
	binary.BigEndian.PutUint32(b[4:8], h.length)
	binary.BigEndian.PutUint64(b[8:16], h.seq)
	binary.BigEndian.PutUint64(b[16:24], uint64(h.time))
	binary.BigEndian.PutUint32(b[24:28], h.dataCRC)
	binary.BigEndian.PutUint32(b[28:32], crc32.Checksum(b[:28], castagnoli))
}

// decodeFrameHeader reports whether b holds a frame header with a valid magic and checksum.
func decodeFrameHeader(b []byte) (frameHeader, bool) {
	var h frameHeader
	if len(b) < frameHeaderSize || [4]byte(b[0:4]) != frameMagic {
		return h, false
	}
	if binary.BigEndian.Uint32(b[28:32]) != crc32.Checksum(b[:28], castagnoli) {
		return h, false
	}
	h.length = binary.BigEndian.Uint32(b[4:8])
	h.seq = binary.BigEndian.Uint64(b[8:16])
	h.time = int64(binary.BigEndian.Uint64(b[16:24]))
	h.dataCRC = binary.BigEndian.Uint32(b[24:28])
	return h, true
}

// segName is the file name of the segment whose header says firstSeq: sorting names sorts segments.
func segName(firstSeq uint64) string {
	return fmt.Sprintf("%020d%s", firstSeq, segSuffix)
}

func parseSegName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// ackMark is the content of the ack file: the last acknowledged record and the server's receipt for it.
type ackMark struct {
	seq     uint64
	hash    [32]byte
	receipt []byte
}

func (a *ackMark) encode() []byte {
	b := make([]byte, ackFixedSize+len(a.receipt)+4)
	copy(b[0:8], ackMagic)
	binary.BigEndian.PutUint16(b[8:10], formatVersion)
	binary.BigEndian.PutUint64(b[12:20], a.seq)
	copy(b[20:52], a.hash[:])
	binary.BigEndian.PutUint32(b[52:56], uint32(len(a.receipt)))
	copy(b[56:], a.receipt)
	n := len(b) - 4
	binary.BigEndian.PutUint32(b[n:], crc32.Checksum(b[:n], castagnoli))
	return b
}

func decodeAck(b []byte) (ackMark, error) {
	var a ackMark
	if len(b) < ackFixedSize+4 {
		return a, fmt.Errorf("ack file: %d bytes, too short", len(b))
	}
	if string(b[0:8]) != ackMagic {
		return a, fmt.Errorf("ack file: bad magic")
	}
	if v := binary.BigEndian.Uint16(b[8:10]); v != formatVersion {
		return a, fmt.Errorf("ack file: format version %d, this build reads %d", v, formatVersion)
	}
	n := binary.BigEndian.Uint32(b[52:56])
	if n > maxAckReceipt || int(n) != len(b)-ackFixedSize-4 {
		return a, fmt.Errorf("ack file: receipt length %d does not match file size %d", n, len(b))
	}
	end := len(b) - 4
	if got, want := binary.BigEndian.Uint32(b[end:]), crc32.Checksum(b[:end], castagnoli); got != want {
		return a, fmt.Errorf("ack file: checksum %08x, want %08x", got, want)
	}
	a.seq = binary.BigEndian.Uint64(b[12:20])
	copy(a.hash[:], b[20:52])
	a.receipt = append([]byte(nil), b[56:end]...)
	return a, nil
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
