package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// headerLine gives the first line of the batch file body (gzip), exactly as received: the header the
// store keeps beside the records' exact bytes, so that the batch file can be given back line for line
// (GET /api/v1/batches/{device}/{first}). Only the first line is decompressed. h is the header
// DecodeBatch read from the same body; the line must be its header (a check of this function).
func headerLine(body []byte, maxLine int, h *wire.Header) ([]byte, error) {
	if maxLine <= 0 {
		maxLine = wire.DefaultLimits.MaxLine
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("header line: %w", err)
	}
	line, err := bufio.NewReader(io.LimitReader(zr, int64(maxLine)+1)).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("header line: %w", err)
	}
	line = line[:len(line)-1]
	if hh, err := wire.ParseHeader(line); err != nil || hh.Digest() != h.Digest() || !bytes.Equal(hh.Sig, h.Sig) {
		return nil, fmt.Errorf("header line: not the header decoded (%v)", err)
	}
	return line, nil
}

// WriteBatchFile writes the batch file of a stored batch: the header line as received and the records'
// exact bytes, each ended by a line feed, gzip-compressed. The lines are those the agent sent, byte for
// byte, so `akciz verify` checks the signature, the certificate and every link as it would the agent's
// file; only the compression may differ (it is not part of what is signed). A batch stored without its
// header line is store.ErrNotFound.
func WriteBatchFile(ctx context.Context, w io.Writer, s store.Store, b store.StoredBatch) error {
	if len(b.Header) == 0 {
		return fmt.Errorf("batch %s %d: %w: stored without its header line", b.Device, b.First, store.ErrNotFound)
	}
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriterSize(zw, 32<<10)
	bw.Write(b.Header)
	bw.WriteByte('\n')
	next := b.First
	err := s.Records(ctx, b.Device, b.First, b.Last, func(r *store.Row) error {
		if r.Seq != next {
			return fmt.Errorf("batch %s %d..%d: record %d missing from the store", b.Device, b.First, b.Last, next)
		}
		next++
		bw.Write(r.Bytes)
		return bw.WriteByte('\n')
	})
	if err == nil && next != b.Last+1 {
		err = fmt.Errorf("batch %s %d..%d: record %d missing from the store", b.Device, b.First, b.Last, next)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = zw.Close()
	}
	return err
}

// getBatch answers GET /api/v1/batches/{device}/{first}: the stored batch file, for the device's
// operator only (an officer's tools read the store itself).
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, device, ok := s.readBatch(w, r)
	if !ok {
		return
	}
	if len(b.Header) == 0 {
		s.problem(w, r, answer{err: errorf(CodeNotFound, uint64(b.First), "ingest.no_header", device, b.First), device: device})
		return
	}
	// Buffered whole (a batch is bounded by the wire limits) so that a store failure midway is a 500,
	// not a truncated file.
	var buf bytes.Buffer
	if err := WriteBatchFile(ctx, &buf, s.cfg.Store, b); err != nil {
		s.internal(w, r, device, err)
		return
	}
	w.Header().Set("Content-Type", wire.BatchType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-%d-%d.akb", b.Device, b.First, b.Last)))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}
