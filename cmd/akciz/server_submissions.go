package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/akciz/akciz/internal/submit"
)

// The file submissions on akciz server: СЕПИ barcode lists (чл. 40–42) and energy tables (чл. 22–24),
// POSTed by operators on the intake's mTLS listener, and the reports on them (docs/sepi.md,
// docs/energy.md, docs/openapi-submissions.yaml).
func init() {
	serverParts = append(serverParts, serverPart{name: "submissions", help: "submit.server.help", setup: setupSubmissions})
}

const (
	// stagingAge is when an energy table's staging is taken for one a crash left behind: far beyond
	// the time a 0.5 GB file takes to be checked.
	stagingAge = 6 * time.Hour
	// stagingSweep is how often such staging is looked for.
	stagingSweep = time.Hour
)

// submissionsService is the running service, for the web console's upload pages.
var submissionsService *submit.Service

func setupSubmissions(fs *flag.FlagSet) func(context.Context, *serverContext) error {
	tmp := fs.String("submissions-tmp", "", "")
	uploads := fs.Int("energy-uploads", 2, "")
	return func(ctx context.Context, sc *serverContext) error {
		dir := *tmp
		if dir == "" {
			dir = filepath.Join(sc.dir, "tmp")
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		svc, err := submit.New(submit.Config{Store: sc.store, TempDir: dir, MaxEnergyUploads: *uploads})
		if err != nil {
			return err
		}
		if n, err := svc.SweepStaging(ctx, stagingAge); err != nil {
			return err
		} else if n > 0 {
			sc.logger.Printf("submissions: dropped %d energy tables left half-staged", n)
		}
		svc.Routes(sc.api, sc.ingest.Identify, sc.logger)
		submissionsService = svc
		sc.run(func(ctx context.Context) {
			t := time.NewTicker(stagingSweep)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := svc.SweepStaging(ctx, stagingAge); err != nil && ctx.Err() == nil {
						sc.logger.Printf("submissions: sweep: %v", err)
					}
				}
			}
		})
		return nil
	}
}
