package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
	"github.com/akciz/akciz/internal/web"
	"github.com/akciz/akciz/internal/wire"
)

// The web console of akciz server (internal/web, docs/console.md): HTTPS on --http with the server's own
// TLS certificate, asking browsers for the person's certificate.
func init() {
	serverParts = append(serverParts, serverPart{name: "console", help: "console.server.help", setup: setupWeb})
}

// consoleSweep is how often expired console sessions are deleted.
const consoleSweep = 10 * time.Minute

// consoleMaxForm bounds a form posted to the console: an energy table (at most 0.5 GB, чл. 22–24) with
// room for the form around it. Beyond 8 MiB a multipart form waits in temporary files, not in memory.
const consoleMaxForm = 520 << 20

// proxyFlag collects --trusted-proxy values: CIDR prefixes or single addresses.
type proxyFlag struct{ list *[]netip.Prefix }

func (f proxyFlag) String() string {
	if f.list == nil {
		return ""
	}
	var s []string
	for _, p := range *f.list {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (f proxyFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			*f.list = append(*f.list, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return fmt.Errorf("%q is neither an address nor a CIDR prefix", part)
		}
		*f.list = append(*f.list, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return nil
}

func setupWeb(fs *flag.FlagSet) func(context.Context, *serverContext) error {
	addr := fs.String("http", "", "")
	var proxies []netip.Prefix
	fs.Var(proxyFlag{&proxies}, "trusted-proxy", "")
	return func(ctx context.Context, sc *serverContext) error {
		if *addr == "" {
			return nil
		}
		cert, err := consoleCertificate(fs, sc.dir)
		if err != nil {
			return err
		}
		console, err := web.New(web.Config{Store: sc.store, TrustedProxies: proxies, Logger: sc.logger,
			// An acknowledgement or a closing in the console is told as the engine's alarms are: to the
			// log, and through the notices' outbox to the people of the site (чл. 28).
			Alarms:       watch.NewAlarms(sc.store, nil, sc.alarmNotifier()).WithLogf(sc.logger.Printf),
			DecodeExport: exportDecoder(sc.store),
			Notices:      noticesService,
			Submissions:  submissionsService,
			// A form may carry an energy table of up to 0.5 GB (чл. 22–24) through the uploads page.
			MaxForm: consoleMaxForm,
		})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("console: listen on %s: %w", *addr, err)
		}
		hs := &http.Server{
			Handler:           console,
			TLSConfig:         web.TLSConfig(cert),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Minute, // an upload of a large energy table through the console
			WriteTimeout:      10 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          sc.logger,
		}
		fmt.Fprintln(sc.env.stdout, sc.env.p.T("console.listening", "https://"+ln.Addr().String()))
		sc.run(func(ctx context.Context) {
			done := make(chan error, 1)
			go func() { done <- hs.ServeTLS(ln, "", "") }()
			select {
			case err := <-done:
				if !errors.Is(err, http.ErrServerClosed) {
					sc.logger.Printf("console: %v", err)
				}
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := hs.Shutdown(sctx); err != nil {
					hs.Close()
				}
				cancel()
			}
		})
		sc.run(func(ctx context.Context) { console.Sweep(ctx, consoleSweep) })
		return nil
	}
}

// consoleCertificate is the server's TLS certificate, read as akciz server reads it: --cert and --key,
// or the development certificate server.go made in the data directory (which names localhost and the
// loopback addresses: a console on another host name needs --cert and --key).
func consoleCertificate(fs *flag.FlagSet, dir string) (tls.Certificate, error) {
	value := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	if c, k := value("cert"), value("key"); c != "" && k != "" {
		return tls.LoadX509KeyPair(c, k)
	}
	c, _, err := devTLS(dir, value("listen"))
	return c, err
}

// exportDecoder reads the agent's export that an officer brings for the three-way comparison of чл. 20
// (`akciz agent export`: one signed batch). The signature must verify, and the signing certificate must
// be registered for the operator of the exported device's site and not revoked (the intake's rule for
// registered certificates, docs/server.md).
func exportDecoder(st store.Store) func(ctx context.Context, r io.Reader) ([]core.Record, error) {
	return func(ctx context.Context, r io.Reader) ([]core.Record, error) {
		var recs []core.Record
		h, err := wire.DecodeBatch(r, wire.DecodeOptions{Verify: &wire.VerifyOptions{}}, func(e *wire.Entry) error {
			recs = append(recs, e.Record)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(h.Certs) == 0 {
			return nil, errors.New("the export carries no signing certificate")
		}
		leaf, err := x509.ParseCertificate(h.Certs[0])
		if err != nil {
			return nil, err
		}
		c, err := st.Certificate(ctx, store.Fingerprint(leaf.Raw))
		if err != nil {
			return nil, fmt.Errorf("the signing certificate is not registered: %w", err)
		}
		if !c.Revoked.IsZero() {
			return nil, fmt.Errorf("the signing certificate is revoked since %s", c.Revoked.UTC().Format(time.RFC3339))
		}
		d, err := st.Device(ctx, h.Device)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", h.Device, err)
		}
		site, err := st.Site(ctx, d.Site())
		if err != nil {
			return nil, err
		}
		if site.Operator != c.Operator {
			return nil, fmt.Errorf("signed by operator %s, but device %s is operator %s's", c.Operator, h.Device, site.Operator)
		}
		return recs, nil
	}
}
