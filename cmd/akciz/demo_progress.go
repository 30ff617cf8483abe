package main

import (
	"context"
	"fmt"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// demoProgress says what reaches the server, read from the store: the first reading, the first finished
// transaction, every event of the box, every alarm opened, and a summary every minute. Only what arrives
// after the start counts: a second start does not tell the first one's story again.
func demoProgress(ctx context.Context, env *environment, st store.Store, cfg *config.Config) {
	say := func(key string, a ...any) { fmt.Fprintln(env.stdout, env.p.T(key, a...)) }
	device := fmt.Sprintf("%s%03d", cfg.Site.ID(), cfg.Box.Number)
	names := map[string]string{"": env.p.T("demo.box")}
	for _, p := range cfg.Points {
		names[p.ID] = env.p.T("demo.point", p.ID[len(p.ID)-3:], p.Name)
	}
	head, err := st.DeviceHead(ctx, device)
	if err != nil {
		return
	}
	next := head.Seq + 1
	started := time.Now()
	alarms := map[int64]bool{}
	if before, err := st.Alarms(ctx, store.AlarmFilter{Site: cfg.Site.Warehouse}); err == nil {
		for _, a := range before {
			alarms[a.ID] = true
		}
	}
	var readings, txs, events, open int
	firstReading, firstTx := false, false
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	summary := time.NewTicker(time.Minute)
	defer summary.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-summary.C:
			say("demo.summary_line", readings, txs, events, open)
			readings, txs, events = 0, 0, 0
			continue
		case <-poll.C:
		}
		head, err := st.DeviceHead(ctx, device)
		if err == nil && head.Seq >= next {
			st.Records(ctx, device, next, head.Seq, func(r *store.Row) error {
				next = r.Seq + 1
				e, err := wire.DecodeRecord(r.Bytes)
				if err != nil {
					return nil
				}
				rec := e.Record
				switch rec.Kind {
				case core.KindReading:
					readings++
					if !firstReading {
						firstReading = true
						say("demo.first_reading", time.Since(started).Round(time.Second).String(), names[rec.Point])
					}
				case core.KindTransaction:
					txs++
					if !firstTx && rec.Transaction != nil && rec.Transaction.Forward.Volume != nil {
						firstTx = true
						t, v := rec.Transaction, rec.Transaction.Forward.Volume
						product := t.Product
						if t.ProductName != "" {
							product += " „" + t.ProductName + "“"
						}
						say("demo.first_transaction", time.Since(started).Round(time.Second).String(), names[rec.Point],
							product, string(v.Quantity), v.Unit, kindText(env.p, "demo.direction.", string(t.Direction)))
					}
				case core.KindEvent:
					events++
					if rec.Event != nil {
						say("demo.event", kindText(env.p, "demo.event.", string(rec.Event.Kind)), names[rec.Point])
					}
				}
				return nil
			})
		}
		if list, err := st.Alarms(ctx, store.AlarmFilter{Site: cfg.Site.Warehouse, States: []store.AlarmState{store.AlarmStateOpen}}); err == nil {
			open = len(list)
			for _, a := range list {
				if !alarms[a.ID] {
					alarms[a.ID] = true
					where := names[a.Point]
					if a.Point == "" && a.Device == "" {
						where = cfg.Site.Name
					}
					say("demo.alarm", kindText(env.p, "demo.alarm.", string(a.Kind)), where)
				}
			}
		}
	}
}

// kindText gives the catalogue's words for an event's or an alarm's kind, or the kind itself for one the
// catalogue does not know yet.
func kindText(p *i18n.Printer, prefix, kind string) string {
	if i18n.Has(p.Lang(), prefix+kind) {
		return p.T(prefix + kind)
	}
	return kind
}
