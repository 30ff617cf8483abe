// Package submit is akciz server's intake of file submissions: the barcode lists of tobacco products
// (СЕПИ, чл. 40–42) and the quarterly electricity and natural gas tables (чл. 22–24). A submission is
// streamed with bounded memory, checked whole before anything of it is stored, and then stored whole
// (nothing is half-imported); the same file sent twice is recognised and answered as such. The package
// also makes the reports on what was submitted, and serves both over HTTP (docs/sepi.md, docs/energy.md,
// docs/openapi-submissions.yaml).
package submit

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/akciz/akciz/internal/sepi"
	"github.com/akciz/akciz/internal/store"
)

// Config configures a Service.
type Config struct {
	// Store keeps the submissions.
	Store store.Submissions
	// TempDir is where energy uploads are spooled while they are checked (os.TempDir() when empty): an
	// XLSX workbook must be read from a file, and a CSV is hashed before it is staged so that a file
	// sent again costs no staging.
	TempDir string
	// MaxEnergyUploads bounds the energy files checked at once (each may be 0.5 GB on disk); more wait.
	// 0 means 2.
	MaxEnergyUploads int
	// MaxSepiUploads bounds the barcode lists checked at once (a list of a million barcodes takes about
	// 90 MB while it is checked and stored); more wait. 0 means 4.
	MaxSepiUploads int
	// StageRows is how many energy rows go to the store in one staging transaction; 0 means 5000.
	StageRows int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service takes submissions in and reports on them. It is safe for concurrent use.
type Service struct {
	cfg       Config
	slots     chan struct{} // energy uploads
	sepiSlots chan struct{}
}

// New makes a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("submit: no store")
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.MaxEnergyUploads <= 0 {
		cfg.MaxEnergyUploads = 2
	}
	if cfg.MaxSepiUploads <= 0 {
		cfg.MaxSepiUploads = 4
	}
	if cfg.StageRows <= 0 {
		cfg.StageRows = 5000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, slots: make(chan struct{}, cfg.MaxEnergyUploads),
		sepiSlots: make(chan struct{}, cfg.MaxSepiUploads)}, nil
}

// acquire takes a slot of slots, or gives up when ctx ends.
func acquire(ctx context.Context, slots chan struct{}) (release func(), err error) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SweepStaging drops energy staging areas older than age: what a crash in the middle of an upload left.
func (s *Service) SweepStaging(ctx context.Context, age time.Duration) (int, error) {
	return s.cfg.Store.AbortStaleEnergyFiles(ctx, s.cfg.Now().Add(-age))
}

// history is the store's barcode history as sepi.History, for one operator: list numbers are the
// operator's own (чл. 42, т. 4 per obligated person), barcodes are followed across all operators, since
// a barcode entering one warehouse while still inside another is what the check is for.
type history struct {
	st       store.Submissions
	operator string
}

var _ sepi.BatchHistory = history{}

func (h history) LastMovement(ctx context.Context, b sepi.Barcode) (sepi.Movement, bool, error) {
	var m sepi.Movement
	found := false
	err := h.LastMovements(ctx, []sepi.Barcode{b}, func(_ int, mm sepi.Movement) { m, found = mm, true })
	return m, found, err
}

func (h history) LastMovements(ctx context.Context, bs []sepi.Barcode, fn func(int, sepi.Movement)) error {
	codes := make([]int64, len(bs))
	for i, b := range bs {
		codes[i] = int64(b)
	}
	return h.st.LastSepiMovements(ctx, codes, func(i int, m store.SepiMovement) error {
		fn(i, movement(m))
		return nil
	})
}

func (h history) ListDigest(ctx context.Context, number string) ([32]byte, bool, error) {
	l, err := h.st.SepiList(ctx, h.operator, number)
	if errors.Is(err, store.ErrNotFound) {
		return [32]byte{}, false, nil
	}
	if err != nil {
		return [32]byte{}, false, err
	}
	return l.SHA256, true, nil
}
