package journal

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// validSegment returns the bytes of a segment holding n records, written by the journal itself.
func validSegment(t testing.TB, n int) []byte {
	m := newMemFS()
	j, _, err := Open("/j", Options{Device: "fuzz", FS: m})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, _, err := j.Append(builder(payload(i, 20+i*7))); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	return m.file("/j/" + segName(1))
}

// FuzzRecover: any bytes as a segment file; Open never panics and never fails, and the journal it returns
// takes and returns a record.
func FuzzRecover(f *testing.F) {
	seg := validSegment(f, 5)
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(seg[:segHeaderSize+10])
	f.Add(seg[:40])
	f.Add([]byte{})
	bad := append([]byte(nil), seg...)
	bad[segHeaderSize+40] ^= 0xff
	f.Add(bad)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		m := newMemFS()
		m.MkdirAll("/j", 0)
		m.setFile("/j/"+segName(1), data)
		opt := Options{Device: "fuzz", FS: m, SegmentSize: 8192}
		// Read changes nothing and reports what Open then finds.
		c, rerr := Read("/j", m, nil)
		if rerr != nil {
			t.Fatalf("Read: %v", rerr)
		}
		if got := m.file("/j/" + segName(1)); !bytes.Equal(got, data) {
			t.Fatal("Read changed the segment")
		}
		j, r, err := Open("/j", opt)
		if errors.Is(err, ErrDevice) {
			return // an intact header of another device: refusing it is right
		}
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !slices.Equal(c.Lost, r.Lost) || !slices.Equal(c.HeaderErrors, r.HeaderErrors) ||
			c.TruncatedBytes != r.TruncatedBytes || len(c.Skipped) != len(r.Skipped) {
			t.Fatalf("Read reports %+v, Open %+v", c.Recovery, r)
		}
		seq, _, err := j.AppendSync(builder([]byte("after")))
		if err != nil {
			t.Fatalf("append after recovery %+v: %v", r, err)
		}
		var got uint64
		st := j.Stats()
		if err := j.ReadFrom(st.First, func(s uint64, _ []byte) error { got = s; return nil }); err != nil {
			t.Fatalf("ReadFrom(%d): %v", st.First, err)
		}
		if got != seq {
			t.Fatalf("last record read %d, appended %d", got, seq)
		}
		j.Close()
		j, _, err = Open("/j", opt)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		j.Close()
	})
}
