//go:build cgo

package deliver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/akciz/akciz/internal/signer"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// TestSoftHSM signs the batches with a key on a SoftHSM2 token, as the agent does with the operator's
// smart card (чл. 37, т. 8), end to end: the stand-in server verifies them and the journal is trimmed.
func TestSoftHSM(t *testing.T) {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Skip("softhsm2-util not found: install the Debian package softhsm2")
	}
	if _, err := os.Stat(softHSMModule); err != nil {
		t.Skip(softHSMModule + " not found: install the Debian package softhsm2")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.Mkdir(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(util, args...).CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util %v: %v\n%s", args, err, out)
		}
	}
	run("--init-token", "--free", "--label", "akciz", "--pin", "1234", "--so-pin", "5678")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "key.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600)
	run("--import", keyFile, "--token", "akciz", "--label", "card", "--id", "07", "--pin", "1234")

	f := newFixture(t)
	cert := f.pki.issue(t, key.Public(), "ИКУНК "+testDevice, nil)
	certFile := filepath.Join(dir, "cert.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	k, err := signer.Open("pkcs11:token=akciz;object=card?module-path="+softHSMModule, certFile, "1234")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	o := f.opts
	o.Signer, o.Chain = k.Signer, k.Chain
	f.append(30)
	s := f.sender(o)
	f.drain(s, 3)
	f.check()
}
