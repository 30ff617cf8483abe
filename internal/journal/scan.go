package journal

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
)

// winSize is the read-ahead window of a scanner: memory stays bounded by it plus the largest record,
// whatever the size of the segment.
const winSize = 64 << 10

// scanner walks the frames of one segment file without loading it.
type scanner struct {
	r         io.ReaderAt
	size      int64 // bytes of the file to consider
	maxRecord int
	win       []byte
	winOff    int64
	winLen    int
	big       []byte // records larger than the window are read here
}

func newScanner(r io.ReaderAt, size int64, maxRecord int) *scanner {
	return &scanner{r: r, size: size, maxRecord: maxRecord, win: make([]byte, winSize)}
}

func (s *scanner) reset(r io.ReaderAt, size int64) {
	s.r, s.size, s.winOff, s.winLen = r, size, 0, 0
}

// bytesAt returns up to n bytes at off (fewer only at the end of the file). The slice is valid until the
// next call.
func (s *scanner) bytesAt(off int64, n int) ([]byte, error) {
	if off >= s.winOff && off+int64(n) <= s.winOff+int64(s.winLen) {
		i := int(off - s.winOff)
		return s.win[i : i+n], nil
	}
	if avail := s.size - off; avail < int64(n) {
		n = int(max(avail, 0))
	}
	if n > len(s.win) {
		if cap(s.big) < n {
			s.big = make([]byte, n)
		}
		b := s.big[:n]
		if _, err := s.r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return b, nil
	}
	m := int(min(int64(len(s.win)), s.size-off))
	if m < 0 {
		m = 0
	}
	got, err := s.r.ReadAt(s.win[:m], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	s.winOff, s.winLen = off, got
	return s.win[:min(got, n)], nil
}

type frameStatus int

const (
	frameOK        frameStatus = iota
	frameBadHeader             // no intact frame header here
	frameShort                 // intact header, but the record runs past the end of the file
	frameBadData               // intact header, record checksum mismatch
)

// frameAt examines the frame that would start at off. For frameOK the record's bytes are returned, valid
// until the next call.
func (s *scanner) frameAt(off int64) (frameHeader, []byte, frameStatus, error) {
	b, err := s.bytesAt(off, frameHeaderSize)
	if err != nil {
		return frameHeader{}, nil, frameBadHeader, err
	}
	h, ok := decodeFrameHeader(b)
	if !ok || int64(h.length) > int64(s.maxRecord) {
		return h, nil, frameBadHeader, nil
	}
	end := off + frameHeaderSize + int64(h.length)
	if end > s.size {
		return h, nil, frameShort, nil
	}
	data, err := s.bytesAt(off+frameHeaderSize, int(h.length))
	if err != nil {
		return h, nil, frameBadHeader, err
	}
	if len(data) != int(h.length) {
		return h, nil, frameShort, nil
	}
	if crc32.Checksum(data, castagnoli) != h.dataCRC {
		return h, nil, frameBadData, nil
	}
	return h, data, frameOK, nil
}

// findMagic returns the offset of the first frame magic at or after off, or s.size if there is none.
func (s *scanner) findMagic(off int64) (int64, error) {
	for off+int64(len(frameMagic)) <= s.size {
		b, err := s.bytesAt(off, int(min(int64(len(s.win)), s.size-off)))
		if err != nil {
			return 0, err
		}
		if len(b) < len(frameMagic) {
			break
		}
		if i := bytes.Index(b, frameMagic[:]); i >= 0 {
			return off + int64(i), nil
		}
		off += int64(len(b) - len(frameMagic) + 1)
	}
	return s.size, nil
}

// walk visits the intact frames from start to the end of the file in order. visit returns false to reject
// a frame (for example a stale sequence number), which then counts as damage. damaged is called with every
// damaged range that an intact, accepted frame follows; walk returns where the trailing damage begins (the
// file size if the file ends with an accepted frame or the header), which is a torn tail if the file is the
// last segment. visit may return errStop to end the walk early.
func (s *scanner) walk(start int64, visit func(off int64, h frameHeader, data []byte) (bool, error), damaged func(off, end int64)) (int64, error) {
	p := start
	bad := int64(-1)
	for p < s.size {
		h, data, st, err := s.frameAt(p)
		if err != nil {
			return 0, err
		}
		switch st {
		case frameOK:
			ok, err := visit(p, h, data)
			if err != nil {
				return 0, err
			}
			if ok {
				if bad >= 0 && damaged != nil {
					damaged(bad, p)
				}
				bad = -1
			} else if bad < 0 {
				bad = p
			}
			p += frameHeaderSize + int64(h.length)
		case frameBadData:
			if bad < 0 {
				bad = p
			}
			// The header checksum vouches for the length: skip exactly this frame.
			p += frameHeaderSize + int64(h.length)
		default:
			if bad < 0 {
				bad = p
			}
			if p, err = s.findMagic(p + 1); err != nil {
				return 0, err
			}
		}
	}
	if bad >= 0 {
		return bad, nil
	}
	return s.size, nil
}

var errStop = errors.New("stop")
