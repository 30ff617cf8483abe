package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/akciz/akciz/internal/energy"
	"github.com/akciz/akciz/internal/submit"
)

// energyImportReply is the part of the server's answer (submit.EnergyReply) the command shows.
type energyImportReply struct {
	ID            int64             `json:"id"`
	Key           string            `json:"key"`
	Duplicate     bool              `json:"duplicate"`
	Errors        []submit.Finding  `json:"errors"`
	ErrorsOmitted int               `json:"errors_omitted"`
	Message       string            `json:"message"`
	Computed      map[string]string `json:"computed"`
}

// runEnergyImport is `akciz energy import FILE --server URL`: the table is checked here first (a refused
// one is never sent), then sent whole to POST /api/v1/energy/files with its SHA-256 in Content-Digest.
func runEnergyImport(ctx context.Context, env *environment, args []string) int {
	fs := flag.NewFlagSet("energy import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	server := fs.String("server", "", "")
	certFile := fs.String("cert", "", "")
	keyFile := fs.String("key", "", "")
	caFile := fs.String("ca", "", "")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("energy.import.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("energy.bad_flag", err.Error()))
		return 2
	}
	if len(files) != 1 {
		fmt.Fprintln(env.stderr, env.p.T("energy.import.one_file"))
		return 2
	}
	u, err := url.Parse(*server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.bad_server", *server))
		return 2
	}
	if (*certFile == "") != (*keyFile == "") {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.cert_key"))
		return 2
	}
	tlsConf, err := sepiTLS(*certFile, *keyFile, *caFile)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.tls", err.Error()))
		return 2
	}
	name := files[0]
	var opts energy.Options
	bar := newProgressBar(env, name)
	if bar != nil {
		opts.Progress = bar.update
	}
	res, err := energy.CheckFile(ctx, name, opts)
	bar.done()
	var refused *energy.Errors
	switch {
	case errors.As(err, &refused):
		printEnergy(env, name, nil, refused)
		fmt.Fprintln(env.stdout, env.p.T("energy.import.not_sent", name))
		return 1
	case err != nil:
		fmt.Fprintln(env.stderr, env.p.T("energy.read_error", name, err.Error()))
		return 2
	}
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("energy.read_error", name, err.Error()))
		return 2
	}
	defer f.Close()
	var body io.Reader = f
	if tty, ok := env.stderr.(*os.File); ok && sepiIsTerminal(tty) {
		up := &sepiProgress{r: f, w: tty, total: res.Size, label: env.p.T("energy.import.progress") + " " + filepath.Base(name)}
		defer up.clear()
		body = up
	}
	target := strings.TrimSuffix(u.String(), "/") + submit.EnergyFilesPath + "?name=" + url.QueryEscape(filepath.Base(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("energy.import.failed", err.Error()))
		return 2
	}
	req.ContentLength = res.Size
	req.Header.Set("Content-Type", map[energy.Kind]string{energy.CSV: "text/csv", energy.TSV: "text/tab-separated-values",
		energy.XLSX: submit.XLSXType}[res.Kind])
	req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(res.SHA256[:])+":")
	req.Header.Set("Accept-Language", string(env.p.Lang()))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("energy.import.failed", err.Error()))
		return 2
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var reply energyImportReply
	jsonErr := json.Unmarshal(raw, &reply)
	switch {
	case resp.StatusCode == http.StatusCreated && jsonErr == nil:
		fmt.Fprintln(env.stdout, env.p.T("energy.import.created", name, reply.Message, reply.ID, reply.Key))
		return 0
	case resp.StatusCode == http.StatusOK && jsonErr == nil && reply.Duplicate:
		fmt.Fprintln(env.stdout, env.p.T("energy.import.duplicate", name, reply.Message))
		return 0
	case resp.StatusCode == http.StatusUnprocessableEntity && jsonErr == nil:
		for _, e := range reply.Errors {
			fmt.Fprintln(env.stdout, "  "+e.Message)
		}
		if reply.ErrorsOmitted > 0 {
			fmt.Fprintln(env.stdout, env.p.T("energy.refused_more", reply.ErrorsOmitted))
		}
		fmt.Fprintln(env.stdout, env.p.T("energy.import.rejected", name, len(reply.Errors)+reply.ErrorsOmitted))
		return 1
	}
	msg := reply.Message
	if jsonErr != nil || msg == "" {
		msg = strings.TrimSpace(string(raw))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
	}
	fmt.Fprintln(env.stdout, env.p.T("energy.import.http", name, resp.Status, msg))
	return 1
}
