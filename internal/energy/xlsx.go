package energy

import (
	"context"
	"crypto/sha256"
	"io"
	"os"

	"github.com/xuri/excelize/v2"

	"github.com/akciz/akciz/internal/i18n"
)

// unzipLimit bounds what an XLSX file may unpack to: a 0.5 GB workbook of text compresses about tenfold.
// excelize streams a worksheet larger than unzipXMLLimit through a temporary file rather than memory.
const (
	unzipLimit    = 10 * MaxFileSize
	unzipXMLLimit = 16 << 20
)

// checkXLSX checks the first worksheet of a workbook, the same table as a CSV file has, one row per line.
// Cells are read raw (their stored value, not as displayed), so that a number format cannot round a
// quantity.
func checkXLSX(ctx context.Context, path string, opts Options) (*Result, error) {
	c := newChecker(XLSX, opts.MaxErrors, opts.Row)
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		c.stop(0, 0, "", i18n.M("energy.too_big", st.Size(), int64(MaxFileSize)))
		_, e := c.result()
		return nil, e
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return nil, err
	}
	f, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: unzipLimit, UnzipXMLSizeLimit: unzipXMLLimit})
	if err != nil {
		c.stop(0, 0, "", i18n.M("energy.xlsx_open", err.Error()))
		_, e := c.result()
		return nil, e
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		c.stop(0, 0, "", i18n.M("energy.xlsx_open", "no worksheet"))
		_, e := c.result()
		return nil, e
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		c.stop(0, 0, "", i18n.M("energy.xlsx_open", err.Error()))
		_, e := c.result()
		return nil, e
	}
	defer rows.Close()
	line := 0
	for rows.Next() {
		line++
		if line&4095 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			c.stop(line, 0, "", i18n.M("energy.xlsx_row", err.Error()))
			break
		}
		if !c.cells(line, cells) || c.rowErr != nil {
			break
		}
		if opts.Progress != nil && line%10000 == 0 {
			opts.Progress(int64(line), 0)
		}
	}
	if err := rows.Error(); err != nil && !c.fatal {
		c.stop(line, 0, "", i18n.M("energy.xlsx_row", err.Error()))
	}
	if c.rowErr != nil {
		return nil, c.rowErr
	}
	c.finish(line)
	res, e := c.result()
	if e != nil {
		return nil, e
	}
	res.Size = st.Size()
	res.SHA256 = sum
	return res, nil
}

// cells checks one worksheet row, bounded as a CSV line is; it reports whether to read on.
func (c *checker) cells(line int, cells []string) bool {
	n := 0
	for _, s := range cells {
		n += len(s) + 1
	}
	if n > MaxLine {
		c.stop(line, 0, "", i18n.M("energy.long_line", MaxLine))
		return false
	}
	c.record(line, cells, true)
	return !c.fatal
}

func fileSHA256(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
