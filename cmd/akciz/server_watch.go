package main

import (
	"context"
	"flag"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/watch"
	"github.com/akciz/akciz/internal/wire"
)

// The watch part of akciz server: the engine that watches every site (чл. 28) and the operators' watch
// API (alarms, lifecycle, configuration versions, queries, comparisons; docs/watching.md).
func init() {
	serverParts = append(serverParts, serverPart{name: "watch", help: "watch.server.help", setup: setupWatch})
}

func setupWatch(fs *flag.FlagSet) func(ctx context.Context, sc *serverContext) error {
	every := fs.Duration("watch-every", 30*time.Second, "")
	grace := fs.Duration("watch-grace", 2*time.Minute, "")
	return func(ctx context.Context, sc *serverContext) error {
		// The log, and the notices' outbox when there is one (docs/watching.md, "Alarms by e-mail").
		notifier := sc.alarmNotifier()
		e, err := watch.New(sc.store, watch.Options{Decode: decodeRecord, Every: *every, Grace: *grace,
			Notifier: notifier, Logf: sc.logger.Printf})
		if err != nil {
			return err
		}
		sc.run(e.Run)
		api := watch.NewAPI(sc.store, sc.ingest.Identify, decodeRecord, nil, notifier)
		api.Alarms.WithLogf(sc.logger.Printf)
		api.Register(sc.api)
		return nil
	}
}

// decodeRecord reads a stored record in the wire format for package watch.
func decodeRecord(b []byte) (core.Record, error) {
	e, err := wire.DecodeRecord(b)
	return e.Record, err
}
