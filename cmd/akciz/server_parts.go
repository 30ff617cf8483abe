package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"net/http"
	"sync"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// serverPart is one capability of akciz server beyond the intake (watching, the console, notices,
// submissions), in a file of its own (server_<area>.go) that appends it to serverParts from init, so
// that server.go stays the composition of the intake and does not grow with every capability.
type serverPart struct {
	name string
	// help is the catalogue key of the part's lines in `akciz server --help` ("" for none).
	help string
	// setup adds the part's flags to fs and gives the function that starts the part once the flags are
	// parsed and the store, the log and the intake are open. start adds its API routes to sc.api and
	// its background work with sc.run, and returns; an error stops akciz server before it listens.
	setup func(fs *flag.FlagSet) (start func(ctx context.Context, sc *serverContext) error)
}

// serverParts are the registered parts, started in registration order (file order within package main).
var serverParts []serverPart

// serverContext is what a part gets from akciz server.
type serverContext struct {
	env    *environment
	store  store.Store
	dir    string // the data directory (--dir)
	logger *log.Logger
	ingest *ingest.Server
	// api is served on the intake's HTTPS listener (TLS client certificates; ingest.Server.Identify
	// names the operator) beside the intake's own routes; parts add theirs under /api/v1/.
	api *http.ServeMux
	// addr is the address the intake's listener is bound to (with the port chosen for --listen :0), and
	// cert the certificate it serves: the notices' watchdog probes the intake through them.
	addr string
	cert tls.Certificate
	// alarms tells people about alarms as they open, change and close. The notices part sets it to its
	// outbox (it starts first: parts start in file order); the watching engine and the console use it,
	// and keep to the log when it is nil.
	alarms watch.Notifier

	ctx context.Context
	wg  sync.WaitGroup
}

// run starts fn in the background; akciz server cancels its context on shutdown and waits for it to
// return before it closes the store.
func (sc *serverContext) run(fn func(ctx context.Context)) {
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		fn(sc.ctx)
	}()
}

// alarmNotifier gives what the watching engine and the console tell about alarm changes: the server's
// log always (an operator of the server sees every alarm there), and the notices' outbox when the
// notices part set one, which mails the people of the site's operator and customs office (чл. 28).
func (sc *serverContext) alarmNotifier() watch.Notifier {
	log := watch.LogNotifier{Logf: sc.logger.Printf}
	if sc.alarms == nil {
		return log
	}
	return teeNotifier{log, sc.alarms}
}

// teeNotifier tells every notifier in turn; the first error is returned after all were told.
type teeNotifier []watch.Notifier

func (t teeNotifier) AlarmChanged(ctx context.Context, a store.Alarm, e store.AlarmEntry) error {
	var first error
	for _, n := range t {
		if err := n.AlarmChanged(ctx, a, e); err != nil && first == nil {
			first = err
		}
	}
	return first
}
