// Package ingest is the intake of akciz server (the Customs Agency's side): the HTTPS API that receives
// the agents' signed batches (docs/protocol.md, "Transport"), verifies each one as a stream (the
// client certificate, the batch signature and the signer's certificate, the device's ownership, the
// chain and the sequence against the device's head), makes it durable through a Committer, appends it to
// the transparency log and answers with a receipt carrying a checkpoint signed by the server.
//
// The HTTP layer (Server) verifies; the Committer makes durable. Today StoreCommitter calls
// store.AppendBatch in the same process; a durable queue (NATS JetStream) can sit between API nodes and
// the store by implementing Committer, without touching the verification (docs/server.md, "The queue
// seam").
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// Committer makes a verified batch durable: when Commit returns nil the batch's records, header and
// transparency-log leaf are stored and survive a crash. Its results and errors are those of
// store.Store.AppendBatch (Duplicate, *store.SeqError, store.ErrConflict, …), which is what the HTTP layer
// classifies into answers.
type Committer interface {
	Commit(ctx context.Context, b *store.Batch) (store.Result, error)
}

// StoreCommitter commits straight into a store, in the API process.
type StoreCommitter struct{ Store store.Store }

// Commit stores b with AppendBatch (one durable transaction).
func (c StoreCommitter) Commit(ctx context.Context, b *store.Batch) (store.Result, error) {
	return c.Store.AppendBatch(ctx, b)
}

// Config is what a Server needs.
type Config struct {
	Store store.Store
	Trust *Trust // certificate → operator; required
	Log   *Log   // the transparency log's signing key; required
	// Committer makes batches durable; nil commits straight into Store.
	Committer Committer
	// Limits bound each batch; zero fields take wire.DefaultLimits.
	Limits wire.Limits
	// MaxInFlight bounds the batches in flight at once (read, verified or committed); more are answered
	// 503 with Retry-After. 0: 64.
	MaxInFlight int
	// MaxClientInFlight bounds the batches in flight of one operator (the client certificate's), so that
	// one operator cannot take every slot. 0: MaxInFlight/4 (at least 1).
	MaxClientInFlight int
	// MaxInFlightBytes bounds the request bodies in flight (each counted at its Content-Length, or at the
	// compressed limit when it has none). 0: 512 MiB. Never less than one batch of the compressed limit.
	MaxInFlightBytes int64
	// MaxClientInFlightBytes bounds one operator's share of MaxInFlightBytes. 0: a quarter of it.
	MaxClientInFlightBytes int64
	// Skew is how far in the future (by the server's clock) a batch's created time may be. 0: 10 minutes.
	Skew time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger receives internal errors (never shown to clients); nil: standard error.
	Logger *log.Logger
}

// Server is the ingest API. Its methods are safe for concurrent use.
type Server struct {
	cfg       Config
	committer Committer
	gate      *gate         // batches and body bytes in flight, per server and per operator
	verify    chan struct{} // batches being decoded and verified (GOMAXPROCS-1: one processor stays for the committer)
	now       func() time.Time
	logger    *log.Logger
	// gateHook, when set (tests), is called with the client's operator when a batch passed the gate (in)
	// and when it is about to leave it.
	gateHook func(client string, in bool)

	mu      sync.Mutex
	devices map[string]deviceEntry
}

type deviceEntry struct {
	operator string // the EIK of the device's site's operator
	expires  time.Time
}

// registryTTL is how long registry look-ups (certificates, devices) are cached: a registry change made by
// `akciz server … add` in another process takes effect within it.
const registryTTL = 30 * time.Second

// New makes a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Trust == nil || cfg.Log == nil {
		return nil, errors.New("ingest: Store, Trust and Log are required")
	}
	s := &Server{cfg: cfg, committer: cfg.Committer, now: cfg.Now, logger: cfg.Logger, devices: map[string]deviceEntry{}}
	if s.committer == nil {
		s.committer = StoreCommitter{Store: cfg.Store}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = log.New(os.Stderr, "akciz server: ", log.LstdFlags)
	}
	if s.cfg.Skew <= 0 {
		s.cfg.Skew = 10 * time.Minute
	}
	if s.cfg.Limits.MaxCompressed <= 0 {
		s.cfg.Limits.MaxCompressed = wire.DefaultLimits.MaxCompressed
	}
	s.gate = newGate(cfg.MaxInFlight, cfg.MaxClientInFlight, cfg.MaxInFlightBytes, cfg.MaxClientInFlightBytes,
		s.cfg.Limits.MaxCompressed+1)
	cfg.Trust.setLogger(s.logger)
	s.verify = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))
	return s, nil
}

// TLSConfig is the server's TLS configuration: TLS 1.3 only, and the client is asked for a certificate
// that the TLS layer does not verify (tls.RequestClientCert): the handlers map it to an operator by the
// registry's rule (Trust.Identify), which a CA pool cannot express (registered certificates need no CA),
// and the public read endpoints (checkpoint, consistency proofs, the log key) need none.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}
}

// HTTPServer gives an http.Server for addr with the handler, the TLS configuration and timeouts that bound
// what a slow or hostile client can hold: the headers within 10 s, the whole request within 5 minutes
// (a 16 MiB batch over a slow GPRS link), idle connections for 2 minutes. h serves the requests; nil
// means s.Handler() (akciz server passes a mux that holds s.Handler() and the other parts' API routes).
func (s *Server) HTTPServer(addr string, cert tls.Certificate, h http.Handler) *http.Server {
	if h == nil {
		h = s.Handler()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		TLSConfig:         TLSConfig(cert),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      6 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.logger,
	}
}

// deviceOperator gives the EIK of the operator whose site the device belongs to, or store.ErrNotFound.
func (s *Server) deviceOperator(ctx context.Context, device string) (string, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.devices[device]
	s.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.operator, nil
	}
	d, err := s.cfg.Store.Device(ctx, device)
	if err != nil {
		return "", err
	}
	site, err := s.cfg.Store.Site(ctx, d.Site())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.devices[device] = deviceEntry{operator: site.Operator, expires: now.Add(registryTTL)}
	s.mu.Unlock()
	return site.Operator, nil
}

// WriteMetrics writes the intake's figures in the Prometheus text format: the batches, bytes and
// operators in flight, the 503 answers by the bound that gave them, the trust anchors, the reloads of the
// anchors and CRLs, each CRL's nextUpdate and whether it is out of date, and the certificates refused for
// revocation or an out-of-date CRL.
func (s *Server) WriteMetrics(w io.Writer) {
	s.gate.writeMetrics(w)
	s.cfg.Trust.writeMetrics(w)
}

// MetricsHandler serves WriteMetrics (akciz server --metrics, on a loopback address).
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.WriteMetrics(w)
	})
}
