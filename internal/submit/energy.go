package submit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// EnergyOutcome is the answer to an energy table.
type EnergyOutcome struct {
	Status Status
	// SHA256 and Size are of the bytes received.
	SHA256 [32]byte
	Size   int64
	// Result is the check of an accepted file: the declaration, the recomputed totals, the rows.
	Result *energy.Result
	// Errors are those of a refused file, each with its line (or cell) and field.
	Errors *energy.Errors
	// File is the stored file (accepted or duplicate).
	File store.EnergyFile
}

// ImportEnergy checks the table r streams for operator and stores it with its rows, atomically, when it
// is in order (docs/energy.md). name is the file's name as uploaded: its extension tells CSV, TSV or
// XLSX (energy.KindOf). The body is spooled to a file in Config.TempDir first (at most 0.5 GB, чл. 24,
// and one byte more to tell a longer file), hashed as it comes: a file the operator sent before is
// answered as a duplicate without being checked again. Otherwise its rows are staged while it is checked
// and the staging is committed only when the whole file is in order; a refused file leaves nothing. The
// declarant must be operator. want, when not nil, is the SHA-256 the client says it sent.
func (s *Service) ImportEnergy(ctx context.Context, operator, name string, r io.Reader, want *[32]byte,
	progress func(done, total int64)) (*EnergyOutcome, error) {
	release, err := acquire(ctx, s.slots)
	if err != nil {
		return nil, err
	}
	defer release()
	kind := energy.KindOf(name)
	f, err := os.CreateTemp(s.cfg.TempDir, "akciz-energy-*."+string(kind))
	if err != nil {
		return nil, fmt.Errorf("submit: energy file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, energy.MaxFileSize+1))
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("submit: energy file %s: %w", name, err)
	}
	out := &EnergyOutcome{Status: Refused, Size: n}
	copy(out.SHA256[:], h.Sum(nil))
	if n > energy.MaxFileSize {
		out.Errors = &energy.Errors{Kind: kind, List: []energy.Error{{Msg: i18n.M("energy.too_big_read", int64(energy.MaxFileSize))}}}
		return out, nil
	}
	if want != nil && *want != out.SHA256 {
		return nil, ErrDigest
	}
	if old, err := s.cfg.Store.EnergyFileByDigest(ctx, operator, out.SHA256); err == nil {
		out.Status, out.File = Duplicate, old
		return out, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("submit: energy file %s: %w", name, err)
	}

	stage, err := s.cfg.Store.BeginEnergyFile(ctx, operator)
	if err != nil {
		return nil, fmt.Errorf("submit: energy file %s: %w", name, err)
	}
	committed := false
	defer func() {
		if !committed {
			// A refused or failed file leaves nothing behind (with a fresh context: ctx may be why).
			_ = s.cfg.Store.AbortEnergyFile(context.WithoutCancel(ctx), stage)
		}
	}()
	batch := make([]store.EnergyRow, 0, s.cfg.StageRows)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.cfg.Store.StageEnergyRows(ctx, stage, batch)
		batch = batch[:0]
		return err
	}
	res, err := energy.CheckFile(ctx, f.Name(), energy.Options{Progress: progress, Row: func(r energy.Row) error {
		batch = append(batch, store.EnergyRow{Line: r.Line, MeterID: r.MeterID, ConsumerType: string(r.ConsumerType),
			ConsumerEIK: r.ConsumerEIK, Quantity: int64(r.Quantity), Address: r.Address, Tariff: r.Tariff})
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	}})
	var refused *energy.Errors
	switch {
	case errors.As(err, &refused):
		out.Errors = refused
		return out, nil
	case err != nil:
		return nil, fmt.Errorf("submit: energy file %s: %w", name, err)
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("submit: energy file %s: %w", name, err)
	}
	if res.DeclarantEIK != operator {
		out.Errors = &energy.Errors{Kind: res.Kind, List: []energy.Error{{Field: "declarant_eik",
			Msg: i18n.M("submit.energy.declarant_operator", res.DeclarantEIK, operator)}}}
		return out, nil
	}
	sf := store.EnergyFile{Name: filepath.Base(name), Kind: string(res.Kind), Size: res.Size, SHA256: res.SHA256,
		DeclarantName: res.DeclarantName, DeclarantEIK: res.DeclarantEIK, ExciseNumber: res.ExciseNumber,
		Product: string(res.Product), Quarter: res.Quarter.String(), Declared: totals(res.Declared),
		Computed: totals(res.Computed), Rows: res.Rows}
	stored, dup, err := s.cfg.Store.CommitEnergyFile(ctx, stage, sf)
	if err != nil {
		return nil, fmt.Errorf("submit: energy file %s: %w", name, err)
	}
	committed = true
	out.File, out.Result, out.Status = stored, res, Accepted
	if dup {
		out.Status = Duplicate
	}
	return out, nil
}

func totals(t energy.Totals) store.EnergyTotals {
	return store.EnergyTotals{All: int64(t.All), Household: int64(t.Household), Business: int64(t.Business),
		SelfConsumption: int64(t.SelfConsumption)}
}
