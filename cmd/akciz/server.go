package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/akciz/akciz/internal/ingest"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/postgres"
	"github.com/akciz/akciz/internal/store/sqlite"
)

func init() {
	register(&command{name: "server", summary: "server.summary", run: runServer})
}

// The defaults of `akciz server`: everything in one directory, reachable only from this machine.
const (
	defaultServerDir    = "akciz-data"
	defaultServerListen = "127.0.0.1:8443"
	serverDBFile        = "akciz.db"
	// The development TLS files made on a first start without --cert and --key.
	devCAFile   = "dev-ca.pem"
	devCertFile = "dev-server.pem"
	devKeyFile  = "dev-server-key.pem"
	// shutdownGrace is how long in-flight batches may take to finish after a stop signal.
	shutdownGrace = 30 * time.Second
	// trustReread is how often the --ca and --crl files are looked at (re-read when changed).
	trustReread = 5 * time.Minute
)

// langFirst switches env to a --lang given anywhere in args, so that help and flag errors speak it.
func langFirst(env *environment, args []string) *environment {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	return env
}

func runServer(ctx context.Context, env *environment, args []string) int {
	env = langFirst(env, args)
	if len(args) > 0 {
		if sub, ok := serverAdmin[args[0]]; ok {
			return sub(ctx, env, args[1:])
		}
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	dir := fs.String("dir", defaultServerDir, "")
	listen := fs.String("listen", defaultServerListen, "")
	db := fs.String("db", "", "")
	certFile := fs.String("cert", "", "")
	keyFile := fs.String("key", "", "")
	caFile := fs.String("ca", "", "")
	crlFile := fs.String("crl", "", "")
	origin := fs.String("origin", ingest.DefaultOrigin, "")
	inflight := fs.Int("max-inflight", 64, "")
	clientInflight := fs.Int("max-inflight-client", 16, "")
	inflightMB := fs.Int64("max-inflight-mb", 512, "")
	metrics := fs.String("metrics", "", "")
	reread := fs.Duration("trust-reread", trustReread, "")
	starts := make([]func(context.Context, *serverContext) error, len(serverParts))
	for i, part := range serverParts {
		starts[i] = part.setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("server.help"))
			for _, part := range serverParts {
				if part.help != "" {
					fmt.Fprintln(env.stdout, env.p.T(part.help))
				}
			}
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("server.bad_flag", err.Error()))
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(env.stderr, env.p.T("server.bad_arg", fs.Arg(0)))
		return 2
	}
	if (*certFile == "") != (*keyFile == "") {
		fmt.Fprintln(env.stderr, env.p.T("server.cert_and_key"))
		return 2
	}
	fail := func(key string, args ...any) int {
		fmt.Fprintln(env.stderr, env.p.T(key, args...))
		return 1
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fail("server.dir", *dir, err.Error())
	}
	if *metrics != "" && !loopbackAddr(*metrics) {
		fmt.Fprintln(env.stderr, env.p.T("server.metrics_not_loopback", *metrics))
		return 2
	}
	files := &ingest.TrustFiles{CA: *caFile, CRL: *crlFile}
	anchors, crls, err := files.Read()
	if err != nil {
		return fail("server.bad_trust_file", err.Error())
	}
	var cert tls.Certificate
	if *certFile != "" {
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fail("server.bad_tls", *certFile, *keyFile, err.Error())
		}
		cert = c
	} else {
		c, made, err := devTLS(*dir, *listen)
		if err != nil {
			return fail("server.dev_tls_failed", err.Error())
		}
		if made {
			fmt.Fprintln(env.stdout, env.p.T("server.dev_tls_made", filepath.Join(*dir, devCAFile)))
		} else {
			fmt.Fprintln(env.stdout, env.p.T("server.dev_tls", filepath.Join(*dir, devCAFile)))
		}
		cert = c
	}

	s, where, err := openServerStore(ctx, *dir, *db)
	if err != nil {
		return fail("server.db_failed", where, err.Error())
	}
	defer s.Close()
	lg, made, err := ingest.OpenLog(*dir, *origin)
	if err != nil {
		return fail("server.log_key_failed", err.Error())
	}
	if made {
		fmt.Fprintln(env.stdout, env.p.T("server.log_key_made", filepath.Join(*dir, ingest.KeyFile)))
	}
	fmt.Fprintln(env.stdout, env.p.T("server.log_key", lg.VerifierKey()))
	if err := lg.Check(ctx, s); err != nil {
		return fail("server.log_broken", err.Error())
	}
	trust, err := ingest.NewTrust(ctx, s, anchors, crls)
	if err != nil {
		return fail("server.trust_failed", err.Error())
	}
	logger := log.New(env.stderr, "akciz server: ", log.LstdFlags|log.LUTC)
	ing, err := ingest.New(ingest.Config{Store: s, Trust: trust, Log: lg, MaxInFlight: *inflight,
		MaxClientInFlight: *clientInflight, MaxInFlightBytes: *inflightMB << 20, Logger: logger})
	if err != nil {
		return fail("server.start_failed", err.Error())
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail("server.listen_failed", *listen, err.Error())
	}
	api := http.NewServeMux()
	api.Handle("/", ing.Handler())
	pctx, stopParts := context.WithCancel(ctx)
	sc := &serverContext{env: env, store: s, dir: *dir, logger: logger, ingest: ing, api: api, ctx: pctx,
		addr: ln.Addr().String(), cert: cert}
	defer func() {
		stopParts()
		sc.wg.Wait()
	}()
	for i, start := range starts {
		if err := start(pctx, sc); err != nil {
			ln.Close()
			return fail("server.part_failed", serverParts[i].name, err.Error())
		}
	}
	// Trust anchors and CRLs are re-read on SIGHUP, and when their files change (checked every --trust-reread).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	sc.run(func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	})
	ticker := time.NewTicker(max(*reread, time.Second))
	defer ticker.Stop()
	sc.run(func(ctx context.Context) { trust.Watch(ctx, files, ticker.C, reload) })
	if *metrics != "" {
		mln, err := net.Listen("tcp", *metrics)
		if err != nil {
			ln.Close()
			return fail("server.listen_failed", *metrics, err.Error())
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", ing.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		fmt.Fprintln(env.stdout, env.p.T("server.metrics", "http://"+mln.Addr().String()+"/metrics"))
	}
	hs := ing.HTTPServer(*listen, cert, api)
	fmt.Fprintln(env.stdout, env.p.T("server.listening", "https://"+ln.Addr().String(), where, trust.Anchors(), trust.CRLs()))
	done := make(chan error, 1)
	go func() { done <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			return fail("server.serve_failed", err.Error())
		}
	case <-ctx.Done():
		fmt.Fprintln(env.stdout, env.p.T("server.stopping"))
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		err := hs.Shutdown(sctx)
		cancel()
		if err != nil {
			hs.Close()
			fmt.Fprintln(env.stderr, env.p.T("server.shutdown_forced", err.Error()))
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ing.Close(fctx); err != nil {
		return fail("server.close_failed", err.Error())
	}
	fmt.Fprintln(env.stdout, env.p.T("server.stopped"))
	return 0
}

// loopbackAddr reports whether addr is host:port on a loopback address (the metrics listener has no
// authentication, so it is not offered to the network).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openServerStore opens the store --db names: a postgres:// URL, a SQLite file, or by default
// akciz.db in dir. where names it for messages (without a password).
func openServerStore(ctx context.Context, dir, db string) (store.Store, string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		s, err := postgres.Open(ctx, db)
		return s, maskPassword(db), err
	}
	if db == "" {
		db = filepath.Join(dir, serverDBFile)
	}
	s, err := sqlite.Open(ctx, db)
	return s, db, err
}

// maskPassword gives a postgres URL fit to print: a password in its user info or in its query
// (password=…) is replaced by "xxxxx"; a URL that does not parse is shown as its scheme only.
func maskPassword(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		if i := strings.Index(db, "://"); i > 0 {
			return db[:i+3] + "…"
		}
		return "…"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// devTLS gives the development TLS certificate in dir, making a CA and a server certificate for
// localhost, the loopback addresses and the listen host on a first start. made says it was made now.
func devTLS(dir, listen string) (tls.Certificate, bool, error) {
	certPath, keyPath := filepath.Join(dir, devCertFile), filepath.Join(dir, devKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return c, false, nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:   pkix.Name{CommonName: "akciz development CA (not for production)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "akciz server (development)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsLoopback() && !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	// The CA's key is not kept: a new server certificate comes with a new development CA.
	files := []struct {
		path string
		typ  string
		der  []byte
		mode os.FileMode
	}{
		{filepath.Join(dir, devCAFile), "CERTIFICATE", caDER, 0o644},
		{keyPath, "PRIVATE KEY", keyDER, 0o600},
		{certPath, "CERTIFICATE", der, 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return tls.Certificate{}, false, err
		}
	}
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	return c, true, err
}
