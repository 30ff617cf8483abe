package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"

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
	env, name, up, code := parseUpload(env, "energy import", args,
		uploadKeys{help: "energy.import.help", badFlag: "energy.bad_flag", oneFile: "energy.import.one_file"})
	if code >= 0 {
		return code
	}
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
	var reply energyImportReply
	ans, code := up.send(ctx, env, upload{
		name: name, size: res.Size, sha256: res.SHA256,
		path: submit.EnergyFilesPath + "?name=" + url.QueryEscape(filepath.Base(name)),
		contentType: map[energy.Kind]string{energy.CSV: "text/csv", energy.TSV: "text/tab-separated-values",
			energy.XLSX: submit.XLSXType}[res.Kind],
		progress: "energy.import.progress", readKey: "energy.read_error", failedKey: "energy.import.failed",
		answerMax: 8 << 20,
	}, &reply)
	if code >= 0 {
		return code
	}
	switch {
	case ans.status == http.StatusCreated && ans.jsonErr == nil:
		fmt.Fprintln(env.stdout, env.p.T("energy.import.created", name, reply.Message, reply.ID, reply.Key))
		return 0
	case ans.status == http.StatusOK && ans.jsonErr == nil && reply.Duplicate:
		fmt.Fprintln(env.stdout, env.p.T("energy.import.duplicate", name, reply.Message))
		return 0
	case ans.status == http.StatusUnprocessableEntity && ans.jsonErr == nil:
		for _, e := range reply.Errors {
			fmt.Fprintln(env.stdout, "  "+e.Message)
		}
		if reply.ErrorsOmitted > 0 {
			fmt.Fprintln(env.stdout, env.p.T("energy.refused_more", reply.ErrorsOmitted))
		}
		fmt.Fprintln(env.stdout, env.p.T("energy.import.rejected", name, len(reply.Errors)+reply.ErrorsOmitted))
		return 1
	}
	return ans.unexpected(env, "energy.import.http", name, reply.Message)
}
