package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/akciz/akciz/internal/core"
)

func FuzzDecodeRecord(f *testing.F) {
	records, _ := chain(f, 1, ZeroHash, 3)
	for _, r := range records {
		f.Add(r)
	}
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`{"seq":1,"prev":"` + string(bytes.Repeat([]byte("0"), 64)) + `","kind":"event"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeRecord(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: one encoding per record.
		again, err := EncodeRecord(e.Seq, e.Prev, &e.Record)
		if err != nil {
			if e.Seq == 1 && e.Prev != ZeroHash {
				return // DecodeRecord alone does not know the device's history
			}
			t.Fatalf("decoded but does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded differently:\n%s\n%s", b, again)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	p := newPKI(f, "Test CA")
	key := ecKey(f)
	cert := p.issue(f, key, testEIK, t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))
	records, _ := chain(f, 1, ZeroHash, 4)
	file, h := signedBatch(f, key, cert, ZeroHash, records)
	f.Add(file)
	f.Add(gz(headerLine(f, h), records[0], records[2]))
	f.Add([]byte{0x1f, 0x8b})
	// Uncompressed seeds: the target compresses what is not gzip, so that the fuzzer works on the lines.
	plain := append(headerLine(f, h), '\n')
	for _, r := range records {
		plain = append(append(plain, r...), '\n')
	}
	f.Add(plain)
	f.Add(append(headerLine(f, h), '\n'))
	lim := Limits{MaxCompressed: 1 << 16, MaxDecompressed: 1 << 18, MaxLine: 8 << 10, MaxRecords: 100}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			b = buf.Bytes()
		}
		n := 0
		h, err := DecodeBatch(bytes.NewReader(b), DecodeOptions{Limits: lim, Verify: &VerifyOptions{Roots: p.roots}}, func(e *Entry) error {
			n++
			return nil
		})
		if err == nil && uint64(n) != h.Count {
			t.Fatalf("accepted with %d records, header says %d", n, h.Count)
		}
	})
}

// slowOnly decodes b with encoding/json and reports whether re-encoding gives b again, without Validate.
func slowOnly(b []byte) (line, bool) {
	l := line{Record: new(core.Record)}
	if json.Unmarshal(b, &l) != nil {
		return l, false
	}
	again, err := marshal(&l)
	return l, err == nil && bytes.Equal(again, b)
}

// checkFast asserts that whenever the fast parser accepts b, encoding/json reads the same and b is in its
// one encoding.
func checkFast(t *testing.T, b []byte) bool {
	t.Helper()
	fast := line{Record: new(core.Record)}
	if !fastDecode(b, &fast, interner{}) {
		return false
	}
	slow, ok := slowOnly(b)
	if !ok {
		t.Fatalf("the fast parser accepted what is not in the one encoding:\n%s", b)
	}
	if fast.Seq != slow.Seq || fast.Prev != slow.Prev || !reflect.DeepEqual(fast.Record, slow.Record) {
		t.Fatalf("the fast parser read differently:\n%s\nfast %+v\nslow %+v", b, *fast.Record, *slow.Record)
	}
	return true
}

func FuzzFastDecode(f *testing.F) {
	records, _ := chain(f, 1, ZeroHash, 6)
	for _, r := range records {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFast(t, b) })
}
