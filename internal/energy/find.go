package energy

import (
	"context"
	"fmt"
)

// Query selects rows by meter, consumer or both: the data "of a particular commercial meter" that
// чл. 22 т. 3 and чл. 23 т. 3 let customs ask for. An empty field matches any row.
type Query struct {
	MeterID     string
	ConsumerEIK string
}

func (q Query) match(r Row) bool {
	return (q.MeterID == "" || r.MeterID == q.MeterID) && (q.ConsumerEIK == "" || r.ConsumerEIK == q.ConsumerEIK)
}

// Find reads the file at path again and returns its rows that match q, with the file's result. A file
// kept by a server is found this way on request rather than indexed at import: requests are rare and a
// pass over 0.5 GB takes seconds, where an index of every meter would hold millions of entries. When
// want is not empty, it must be the digest (Result.Digest) of the file checked at import, so that the
// answer is from exactly that file. An invalid file gives its *Errors, not rows.
func Find(ctx context.Context, path string, q Query, want string, opts Options) (*Result, []Row, error) {
	if q.MeterID == "" && q.ConsumerEIK == "" {
		return nil, nil, fmt.Errorf("energy: find: neither a meter nor a consumer given")
	}
	var found []Row
	next := opts.Row
	opts.Row = func(r Row) error {
		if q.match(r) {
			found = append(found, r)
		}
		if next != nil {
			return next(r)
		}
		return nil
	}
	res, err := CheckFile(ctx, path, opts)
	if err != nil {
		return nil, nil, err
	}
	if want != "" && res.Digest() != want {
		return nil, nil, fmt.Errorf("energy: find: %s has digest %s, not the imported %s", path, res.Digest(), want)
	}
	return res, found, nil
}
