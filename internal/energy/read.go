package energy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"hash"
	"io"
	"os"

	"github.com/akciz/akciz/internal/i18n"
)

// Options tune a check.
type Options struct {
	// MaxErrors is how many errors are listed; the rest are counted. 0: DefaultMaxErrors.
	MaxErrors int
	// Progress, when set, is told the bytes read so far and the total (0 when unknown), about every MiB.
	Progress func(done, total int64)
	// Row, when set, receives every valid row while the file is read, in order, for a server to stage
	// them. Rows are provisional until Check returns without error: a caller stores them inside a
	// transaction that it commits only then, so that an invalid file leaves nothing behind. Once an error
	// is found, Row is called no more. An error from Row stops the check and is returned as is.
	Row func(Row) error
}

// CheckFile checks the file at path, of the kind its name tells (KindOf). It returns the result of a valid
// file, or an *Errors listing what is wrong with it, or another error when the file cannot be read.
func CheckFile(ctx context.Context, path string, opts Options) (*Result, error) {
	if KindOf(path) == XLSX {
		return checkXLSX(ctx, path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Check(ctx, f, st.Size(), opts)
}

// Check reads a CSV or TSV table from r (size bytes long, or 0 when unknown, for the progress only),
// streaming: memory does not grow with the file. The separator (";", "," or a tab) is the first of them
// on the first line. See CheckFile for what it returns.
func Check(ctx context.Context, r io.Reader, size int64, opts Options) (*Result, error) {
	h := sha256.New()
	cr := &countReader{r: r, h: h, total: size, progress: opts.Progress}
	br := bufio.NewReaderSize(cr, 256<<10)
	c := newChecker(CSV, opts.MaxErrors, opts.Row)
	if size > sizeLimit {
		c.stop(0, 0, "", i18n.M("energy.too_big", size, sizeLimit))
		_, e := c.result()
		return nil, e
	}
	if err := readCSV(ctx, br, c); err != nil {
		return nil, err
	}
	if c.rowErr != nil {
		return nil, c.rowErr
	}
	if !c.fatal {
		// Whatever follows a fatal error is still hashed, so the digest is always of the whole file, and
		// the size limit holds for bytes nobody parsed.
		if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, errTooBig) {
			return nil, err
		}
	}
	if cr.n > sizeLimit && !c.fatal {
		c.stop(0, 0, "", i18n.M("energy.too_big", cr.n, sizeLimit))
	}
	res, e := c.result()
	if e != nil {
		return nil, e
	}
	res.Size = cr.n
	copy(res.SHA256[:], h.Sum(nil))
	return res, nil
}

// sizeLimit is MaxFileSize, a variable only so that a test can lower it.
var sizeLimit int64 = MaxFileSize

var (
	errTooBig   = errors.New("energy: file larger than the limit")
	errLongLine = errors.New("energy: line too long")
)

func readCSV(ctx context.Context, br *bufio.Reader, c *checker) error {
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		c.stop(1, 0, "", i18n.M("energy.utf16"))
		return nil
	}
	if len(head) == 0 {
		c.finish(0)
		return nil
	}
	sep, ok := separator(br)
	if !ok {
		c.stop(1, 0, "", i18n.M("energy.no_format", FormatID))
		return nil
	}
	if sep == '\t' {
		c.kind = TSV
	}
	lr := &lineReader{r: br}
	cr := csv.NewReader(lr)
	cr.Comma = sep
	cr.ReuseRecord = true
	// Records are checked for their number of fields by the checker: the declared block is two fields
	// wide (or padded with empty ones, as spreadsheets save it), the rows exactly seven.
	cr.FieldsPerRecord = -1
	last := 0 // the line of the last record read
	for n := 0; ; n++ {
		if n&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			switch {
			case errors.Is(err, errLongLine):
				c.stop(lr.line, 0, "", i18n.M("energy.long_line", MaxLine))
			case errors.Is(err, errTooBig):
				c.stop(0, 0, "", i18n.M("energy.too_big_read", sizeLimit))
			case errors.As(err, &pe) && pe.Err != nil && (errors.Is(pe.Err, errLongLine) || errors.Is(pe.Err, errTooBig)):
				if errors.Is(pe.Err, errTooBig) {
					c.stop(0, 0, "", i18n.M("energy.too_big_read", sizeLimit))
				} else {
					c.stop(lr.line, 0, "", i18n.M("energy.long_line", MaxLine))
				}
			case errors.As(err, &pe):
				c.stop(pe.Line, 0, "", i18n.M("energy.csv_syntax", pe.Err.Error(), pe.Column))
			default:
				return err
			}
			break
		}
		line, _ := cr.FieldPos(0)
		last = line
		c.record(line, rec, false)
		if c.fatal || c.rowErr != nil {
			break
		}
	}
	c.finish(last)
	return nil
}

// separator finds the field separator: the first ";", tab or "," of the first line.
func separator(br *bufio.Reader) (rune, bool) {
	b, _ := br.Peek(MaxLine)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	i := bytes.IndexAny(b, ";\t,")
	if i < 0 {
		return 0, false
	}
	return rune(b[i]), true
}

// countReader counts and hashes what passes through it, refuses to read past sizeLimit and reports
// progress.
type countReader struct {
	r        io.Reader
	h        hash.Hash
	n, total int64
	last     int64
	progress func(done, total int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.n > sizeLimit {
		return 0, errTooBig
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.progress != nil && (c.n-c.last >= 1<<20 || err == io.EOF) {
		c.last = c.n
		c.progress(c.n, c.total)
	}
	return n, err
}

// lineReader refuses a physical line longer than MaxLine before encoding/csv, which has no limit, would
// buffer it, and counts lines for the message.
type lineReader struct {
	r    *bufio.Reader
	cur  int // bytes of the current line so far
	line int // the current line, from 1
}

func (l *lineReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.line == 0 {
		l.line = 1
	}
	b := p[:n]
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.cur += len(b)
			break
		}
		if l.cur+i > MaxLine {
			l.cur += i
			break
		}
		l.line++
		l.cur = 0
		b = b[i+1:]
	}
	if l.cur > MaxLine {
		return 0, errLongLine
	}
	return n, err
}
