package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
)

// decode reads a stored record's payload. The bytes were verified at intake (wire.DecodeRecord); the
// console only reads what they say, with encoding/json (the record is core.Record's JSON form, with the
// chain's seq and prev beside it, which are ignored here).
func decode(row *store.Row) (*core.Record, error) {
	var rec core.Record
	if err := json.Unmarshal(row.Bytes, &rec); err != nil {
		return nil, fmt.Errorf("record %s/%d: %w", row.Device, row.Seq, err)
	}
	return &rec, nil
}

// placeOf is a site's devices and their control points, in id order.
type placeOf struct {
	Devices []deviceInfo
}

type deviceInfo struct {
	Device store.Device
	Points []store.Point
}

// places lists a site's devices with their points.
func (s *Server) places(ctx context.Context, warehouse string) (placeOf, error) {
	devs, err := s.store.Devices(ctx, store.DeviceFilter{Site: warehouse})
	if err != nil {
		return placeOf{}, err
	}
	var out placeOf
	for _, d := range devs {
		pts, err := s.store.Points(ctx, d.ID)
		if err != nil {
			return placeOf{}, err
		}
		out.Devices = append(out.Devices, deviceInfo{Device: d, Points: pts})
	}
	return out, nil
}

// point finds a point of the site by id.
func (pl placeOf) point(id string) (store.Point, bool) {
	for _, d := range pl.Devices {
		for _, p := range d.Points {
			if p.ID == id {
				return p, true
			}
		}
	}
	return store.Point{}, false
}

// txLine is a transaction as the tables show it.
type txLine struct {
	Point string
	Seq   int64
	Test  bool
	Tx    *core.Transaction
}

// Quantity gives the forward flow's main quantity: standard volume, else volume, mass or count.
func (t txLine) Quantity() *core.Totals {
	f := t.Tx.Forward
	for _, q := range []*core.Totals{f.StdVolume, f.Volume, f.Mass, f.Count} {
		if q != nil {
			return q
		}
	}
	return nil
}

// transactions gives the transactions of the site's points (or of one point) in the period, newest
// first, at most limit (0: all).
func (s *Server) transactions(ctx context.Context, pl placeOf, only string, p Period, limit int) ([]txLine, error) {
	var out []txLine
	for _, d := range pl.Devices {
		for _, pt := range d.Points {
			if only != "" && pt.ID != only {
				continue
			}
			err := s.store.PointRecords(ctx, store.RecordQuery{Device: d.Device.ID, Point: pt.ID, Kind: core.KindTransaction,
				From: p.From, To: p.To}, func(row *store.Row) error {
				rec, err := decode(row)
				if err != nil {
					return err
				}
				if rec.Transaction != nil {
					out = append(out, txLine{Point: pt.ID, Seq: row.Seq, Test: row.Test, Tx: rec.Transaction})
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Tx.End.After(out[j].Tx.End) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// eventLine is an event of a box or a point.
type eventLine struct {
	Time   time.Time
	Device string
	Point  string
	Test   bool
	Event  *core.Event
}

// maxEvents bounds what one events page or export collects (they merge several streams in time order).
const maxEvents = 100000

// events gives the events of the site's boxes and points in the period, newest first, at most limit.
func (s *Server) events(ctx context.Context, pl placeOf, p Period, limit int) ([]eventLine, error) {
	var out []eventLine
	errFull := errors.New("full")
	collect := func(device, point string) error {
		err := s.store.PointRecords(ctx, store.RecordQuery{Device: device, Point: point, Kind: core.KindEvent, From: p.From, To: p.To},
			func(row *store.Row) error {
				rec, err := decode(row)
				if err != nil {
					return err
				}
				if rec.Event != nil {
					out = append(out, eventLine{Time: row.Time, Device: device, Point: point, Test: row.Test, Event: rec.Event})
				}
				if len(out) >= maxEvents {
					return errFull
				}
				return nil
			})
		if errors.Is(err, errFull) {
			return nil
		}
		return err
	}
	for _, d := range pl.Devices {
		if err := collect(d.Device.ID, ""); err != nil {
			return nil, err
		}
		for _, pt := range d.Points {
			if err := collect(d.Device.ID, pt.ID); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// pointState is a control point's latest reading and transaction.
type pointState struct {
	Point   store.Point
	Device  string
	Reading *core.Reading
	Time    time.Time
	Test    bool
	LastTx  time.Time
}

// latest gives each point's latest reading and the end of its latest transaction.
func (s *Server) latest(ctx context.Context, pl placeOf) ([]pointState, error) {
	var out []pointState
	for _, d := range pl.Devices {
		for _, pt := range d.Points {
			ps := pointState{Point: pt, Device: d.Device.ID}
			row, err := s.store.Latest(ctx, d.Device.ID, pt.ID, core.KindReading)
			switch {
			case err == nil:
				rec, err := decode(&row)
				if err != nil {
					return nil, err
				}
				ps.Reading, ps.Time, ps.Test = rec.Reading, row.Time, row.Test
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
			row, err = s.store.Latest(ctx, d.Device.ID, pt.ID, core.KindTransaction)
			switch {
			case err == nil:
				if rec, err := decode(&row); err == nil && rec.Transaction != nil {
					ps.LastTx = rec.Transaction.End
				}
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
			out = append(out, ps)
		}
	}
	return out, nil
}
