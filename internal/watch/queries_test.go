package watch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

func transaction(point string, end time.Time, product string, dir core.Direction, vol, mass core.Decimal) core.Record {
	return core.Record{Kind: core.KindTransaction, Time: end, Device: device, Point: point, Transaction: &core.Transaction{
		Begin: core.Stamp(end.Add(-10 * time.Minute)), End: core.Stamp(end), Product: product, Direction: dir,
		Forward: core.Flow{Volume: &core.Totals{Begin: "1000", End: "1000", Quantity: vol, Unit: "L"},
			Mass: &core.Totals{Begin: "0", End: "0", Quantity: mass, Unit: "kg"}}}}
}

// Daily and monthly totals per product code and direction, exact in decimals, reckoned in Bulgarian
// time (the day of the excise declaration): a transaction ending at 22:30 UTC on 30 November is on
// 1 December in Sofia.
func TestTotalsPerProductCode(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	day := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	f.send(
		transaction(point1, day, "A95E10", core.DirectionOut, "0.1", "0.075"),
		transaction(point1, day.Add(time.Hour), "A95E10", core.DirectionOut, "0.2", "0.150"),
		transaction(point1, day.Add(2*time.Hour), "DB6", core.DirectionOut, "1000.5", "840"),
		transaction(point1, day.Add(3*time.Hour), "A95E10", core.DirectionIn, "5", "4"),
		transaction(point1, time.Date(2026, 11, 30, 22, 30, 0, 0, time.UTC), "A95E10", core.DirectionOut, "1", "1"),
	)
	q := watch.NewQueries(f.st, decode)
	query := watch.Query{Site: site, From: day.Add(-time.Hour), To: day.Add(48 * time.Hour)}
	rows, err := q.Totals(f.ctx, operator, query, watch.Daily)
	f.must(err)
	got := map[string]string{}
	for _, r := range rows {
		got[r.Period+" "+r.Product+" "+string(r.Direction)+" "+r.Quantity] = string(r.Total)
	}
	want := map[string]string{
		"2026-11-30 A95E10 out volume": "0.3", // exact: not 0.30000000000000004
		"2026-11-30 A95E10 out mass":   "0.225",
		"2026-11-30 DB6 out volume":    "1000.5",
		"2026-11-30 A95E10 in volume":  "5",
		"2026-12-01 A95E10 out volume": "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	monthly, err := q.Totals(f.ctx, officer, query, watch.Monthly)
	f.must(err)
	for _, r := range monthly {
		if r.Period == "2026-11" && r.Product == "A95E10" && r.Direction == core.DirectionOut && r.Quantity == "volume" &&
			(r.Total != "0.3" || r.Transactions != 2) {
			t.Errorf("November A95E10 out: %+v", r)
		}
	}
	if _, err := q.Totals(f.ctx, stranger, query, watch.Daily); !errors.Is(err, watch.ErrNotFound) {
		t.Errorf("another operator's totals: %v", err)
	}
	if _, err := q.Totals(f.ctx, operator, watch.Query{Site: site, From: day, To: day}, watch.Daily); !errors.Is(err, watch.ErrInvalid) {
		t.Errorf("empty period: %v", err)
	}
	// As XLSX, the totals are numbers an officer can sum beside the declaration.
	d, err := q.TotalsDocument(f.ctx, officer, query, watch.Daily, i18n.BG)
	f.must(err)
	var buf bytes.Buffer
	f.must(report.XLSX(&buf, d))
	x, err := excelize.OpenReader(&buf)
	f.must(err)
	sheets := x.GetSheetList()
	rowsX, err := x.GetRows(sheets[len(sheets)-1])
	f.must(err)
	if !strings.Contains(strings.Join(rowsX[0], "|")+strings.Join(rowsX[len(rowsX)-1], "|"), "A95E10") {
		t.Errorf("xlsx rows %v", rowsX)
	}
}

// Readings, transactions and events of a site, point or period; test data (чл. 17) only when asked.
func TestQueriesAndCSV(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	now := f.clock.Now()
	test := reading(point1, now.Add(-time.Minute))
	test.Test = true
	f.send(
		test,
		reading(point1, now, core.Value{Tag: "p1_total_volume", Role: core.RoleTotalVolume, Value: "123.45", Unit: "L",
			Quality: []core.Quality{core.QualityHigh}}),
		reading(point5, now),
		event("", now, core.Event{Kind: core.EventDoorOpened, Tag: "box_door"}),
		event(point1, now, core.Event{Kind: core.EventErrorBitsSet, Bits: []int{1, 2}}),
		transaction(point1, now, "DB6", core.DirectionOut, "10", "8"),
	)
	q := watch.NewQueries(f.st, decode)
	query := watch.Query{Site: site, Point: point1, From: now.Add(-time.Hour), To: now.Add(time.Hour)}
	var readings []watch.ReadingRow
	f.must(q.Readings(f.ctx, operator, query, func(r watch.ReadingRow) error { readings = append(readings, r); return nil }))
	if len(readings) != 1 || readings[0].Value != "123.45" || readings[0].Quality != "above-limit" {
		t.Errorf("readings %+v", readings)
	}
	query.Test = true
	readings = nil
	f.must(q.Readings(f.ctx, operator, query, func(r watch.ReadingRow) error { readings = append(readings, r); return nil }))
	if len(readings) != 2 || !readings[0].Test {
		t.Errorf("with test data: %+v", readings)
	}
	var events []watch.EventRow
	f.must(q.Events(f.ctx, officer, watch.Query{Site: site, From: query.From, To: query.To}, func(r watch.EventRow) error {
		events = append(events, r)
		return nil
	}))
	if len(events) != 2 {
		t.Errorf("events %+v", events)
	}
	var txs []watch.TransactionRow
	f.must(q.Transactions(f.ctx, operator, query, func(r watch.TransactionRow) error { txs = append(txs, r); return nil }))
	if len(txs) != 1 || txs[0].Product != "DB6" || len(txs[0].Quantities) != 2 {
		t.Errorf("transactions %+v", txs)
	}
	d, err := q.ReadingsDocument(f.ctx, operator, query, i18n.BG)
	f.must(err)
	var buf bytes.Buffer
	f.must(report.CSV(&buf, d, report.CSVOptions{}))
	if s := buf.String(); !strings.Contains(s, "123,45") || !strings.Contains(s, "Стойност") {
		t.Errorf("csv:\n%s", s)
	}
	if _, err := q.ReadingsDocument(f.ctx, operator, watch.Query{Site: site, Point: "BGNCA00005002001001",
		From: query.From, To: query.To}, i18n.BG); !errors.Is(err, watch.ErrInvalid) {
		t.Errorf("a point of another site: %v", err)
	}
}

// The day of the excise declaration is a Bulgarian day, also on the days the clocks change: 29 March
// 2026 in Sofia has 23 hours (from 22:00 UTC on the 28th to 21:00 UTC on the 29th) and 25 October 25
// hours (from 21:00 UTC on the 24th to 22:00 UTC on the 25th). A period given as dates is those days.
func TestTotalsOnDSTDays(t *testing.T) {
	f := newFixture(t, store.SiteLive)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		f.must(err)
		return v
	}
	f.send(
		transaction(point1, at("2026-03-28T21:59:59Z"), "DB6", core.DirectionOut, "1", "1"),     // 28 March, 23:59:59 EET
		transaction(point1, at("2026-03-28T22:00:00Z"), "DB6", core.DirectionOut, "10", "1"),    // 29 March, 00:00
		transaction(point1, at("2026-03-29T20:59:59Z"), "DB6", core.DirectionOut, "100", "1"),   // 29 March, 23:59:59 EEST
		transaction(point1, at("2026-03-29T21:00:00Z"), "DB6", core.DirectionOut, "1000", "1"),  // 30 March, 00:00
		transaction(point1, at("2026-10-24T21:00:00Z"), "DB6", core.DirectionOut, "0.5", "1"),   // 25 October, 00:00 EEST
		transaction(point1, at("2026-10-25T21:59:59Z"), "DB6", core.DirectionOut, "0.25", "1"),  // 25 October, 23:59:59 EET
		transaction(point1, at("2026-10-25T22:00:00Z"), "DB6", core.DirectionOut, "0.125", "1"), // 26 October
	)
	srv := apiServer(t, f)
	totals := func(from, to, period string) map[string]string {
		t.Helper()
		code, body, _ := call(t, srv, "GET", "/api/v1/watch/sites/"+site+"/totals?from="+from+"&to="+to+"&period="+period, opEIK, "", "")
		var rows []watch.TotalRow
		if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil {
			t.Fatalf("totals %s–%s: %d %s %v", from, to, code, body, err)
		}
		got := map[string]string{}
		for _, r := range rows {
			if r.Quantity == "volume" {
				got[r.Period] = string(r.Total)
			}
		}
		return got
	}
	if got := totals("2026-03-29", "2026-03-30", "day"); len(got) != 1 || got["2026-03-29"] != "110" {
		t.Errorf("29 March (23 h): %v, want 2026-03-29: 110", got)
	}
	if got := totals("2026-10-25", "2026-10-26", "day"); len(got) != 1 || got["2026-10-25"] != "0.75" {
		t.Errorf("25 October (25 h): %v, want 2026-10-25: 0.75", got)
	}
	if got := totals("2026-03-01", "2026-04-01", "month"); len(got) != 1 || got["2026-03"] != "1111" {
		t.Errorf("March: %v, want 2026-03: 1111", got)
	}
}
