package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
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
)

// uploadFlags are the flags of the commands that send a file whole to the akciz server (akciz sepi import,
// akciz energy import): where it goes, and with which client certificate.
type uploadFlags struct {
	server, cert, key, ca *string
}

// uploadKeys are an upload command's own catalogue keys for its arguments.
type uploadKeys struct {
	help    string // the --help text
	badFlag string // (error): a flag that does not parse
	oneFile string // not exactly one file
}

// parseUpload reads the arguments of an upload command (name as in "sepi import"): --lang, the upload
// flags wherever they stand among the file names, and exactly one file. It gives the environment in the
// language asked for, the file and the uploader to send it with; a non-negative code means stop with it.
func parseUpload(env *environment, name string, args []string, k uploadKeys) (*environment, string, *uploader, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	f := uploadFlags{
		server: fs.String("server", "", ""),
		cert:   fs.String("cert", "", ""),
		key:    fs.String("key", "", ""),
		ca:     fs.String("ca", "", ""),
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T(k.help))
			return env, "", nil, 0
		}
		fmt.Fprintln(env.stderr, env.p.T(k.badFlag, err.Error()))
		return env, "", nil, 2
	}
	if len(files) != 1 {
		fmt.Fprintln(env.stderr, env.p.T(k.oneFile))
		return env, "", nil, 2
	}
	up, code := f.uploader(env)
	return env, files[0], up, code
}

// uploader sends files to one akciz server over TLS 1.3, with the client certificate when one is given.
type uploader struct {
	base   string // the server's address without a trailing slash
	client *http.Client
}

// uploader checks the flags and reads the certificates; a non-negative code means stop with it.
func (f uploadFlags) uploader(env *environment) (*uploader, int) {
	u, err := url.Parse(*f.server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.bad_server", *f.server))
		return nil, 2
	}
	if (*f.cert == "") != (*f.key == "") {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.cert_key"))
		return nil, 2
	}
	tlsConf, err := uploadTLS(*f.cert, *f.key, *f.ca)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.tls", err.Error()))
		return nil, 2
	}
	return &uploader{
		base:   strings.TrimSuffix(u.String(), "/"),
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment}},
	}, -1
}

// uploadTLS is the client's TLS: the sender's certificate and key (PEM) for mutual TLS, and the server's
// CA when it is not among the system's roots.
func uploadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS13}
	if certFile != "" {
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{kp}
	}
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%s: no PEM certificate", caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// upload is one checked file to send whole, and the catalogue keys that tell what went wrong with it.
type upload struct {
	name        string // the file
	size        int64
	sha256      [sha256.Size]byte
	path        string // the endpoint, with its query, after the server's address
	contentType string
	progress    string // catalogue key of the progress bar's label
	readKey     string // catalogue key (file, error): the file could not be opened
	failedKey   string // catalogue key (error): the request could not be made or sent
	answerMax   int64  // the most of the answer read
}

// uploadAnswer is the server's answer to an upload.
type uploadAnswer struct {
	status  int    // the HTTP status code
	line    string // the status line, "201 Created"
	raw     []byte // the body, at most upload.answerMax bytes
	jsonErr error  // why the body did not decode into the command's reply, nil when it did
}

// send posts the file and decodes the answer's JSON into reply; a non-negative code means the file was not
// sent, and the reason was told on stderr.
func (u *uploader) send(ctx context.Context, env *environment, up upload, reply any) (*uploadAnswer, int) {
	f, err := os.Open(up.name)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T(up.readKey, up.name, err.Error()))
		return nil, 2
	}
	defer f.Close()
	var body io.Reader = f
	if tty, ok := env.stderr.(*os.File); ok && sepiIsTerminal(tty) {
		bar := &sepiProgress{r: f, w: tty, total: up.size, label: env.p.T(up.progress) + " " + filepath.Base(up.name)}
		// Erased before the answer is told, so that it starts on a clean line.
		defer bar.clear()
		body = bar
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base+up.path, body)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T(up.failedKey, err.Error()))
		return nil, 2
	}
	req.ContentLength = up.size
	req.Header.Set("Content-Type", up.contentType)
	req.Header.Set("Accept-Language", string(env.p.Lang()))
	// RFC 9530: the server checks that it received the bytes we checked.
	req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(up.sha256[:])+":")
	resp, err := u.client.Do(req)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T(up.failedKey, err.Error()))
		return nil, 2
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, up.answerMax))
	return &uploadAnswer{status: resp.StatusCode, line: resp.Status, raw: raw, jsonErr: json.Unmarshal(raw, reply)}, -1
}

// unexpected tells an answer the command has no words of its own for, with catalogue key (file, status,
// message): the server's message, or else the start of its body. The exit code is 1.
func (a *uploadAnswer) unexpected(env *environment, key, name, message string) int {
	if a.jsonErr != nil || message == "" {
		message = strings.TrimSpace(string(a.raw))
		if len(message) > 500 {
			message = message[:500] + "…"
		}
	}
	fmt.Fprintln(env.stdout, env.p.T(key, name, a.line, message))
	return 1
}
