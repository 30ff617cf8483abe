//go:build cgo

package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesIgnite/crypto11"
)

// A smart card carries the certificate beside the key: Open finds it by the key's label, without a
// certificate file.
func TestPKCS11CertificateOnToken(t *testing.T) {
	dir, run := softHSM(t)
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "key.pk8")
	os.WriteFile(keyFile, pemOf("PRIVATE KEY", pk8), 0o600)
	run("--import", keyFile, "--token", "akciz", "--label", "card", "--id", "07", "--pin", "1234")
	p := newTestPKI(t)
	cert := p.issue(t, key.Public())
	func() {
		ctx, err := crypto11.Configure(&crypto11.Config{Path: softHSMModule, TokenLabel: "akciz", Pin: "1234"})
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.Close()
		if err := ctx.ImportCertificateWithLabel([]byte{7}, []byte("card"), cert); err != nil {
			t.Fatal(err)
		}
	}()
	k, err := Open("pkcs11:token=akciz;object=card?module-path="+softHSMModule+"&pin-value=1234", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if len(k.Chain) != 1 || !k.Chain[0].Equal(cert) {
		t.Fatalf("chain from the token: %d certificates", len(k.Chain))
	}
	signAndVerify(t, k, p)
}

// TestPKCS11 signs a batch with a key on a SoftHSM2 token, as the agent does with the operator's smart card
// (чл. 37, т. 8), and verifies it with the certificate.
func TestPKCS11(t *testing.T) {
	dir, run := softHSM(t)
	p := newTestPKI(t)
	for _, kt := range []struct {
		name, id string
		key      crypto.Signer
	}{
		{"rsa", "01", must(rsa.GenerateKey(rand.Reader, 2048))},
		{"ecdsa", "02", must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))},
	} {
		t.Run(kt.name, func(t *testing.T) {
			pk8, _ := x509.MarshalPKCS8PrivateKey(kt.key)
			keyFile := filepath.Join(dir, kt.name+".pk8")
			os.WriteFile(keyFile, pemOf("PRIVATE KEY", pk8), 0o600)
			run("--import", keyFile, "--token", "akciz", "--label", "signer-"+kt.name, "--id", kt.id, "--pin", "1234")
			cert := p.issue(t, kt.key.Public())
			certFile := filepath.Join(dir, kt.name+".crt")
			os.WriteFile(certFile, pemOf("CERTIFICATE", cert.Raw), 0o644)

			uri := "pkcs11:token=akciz;object=signer-" + kt.name + "?module-path=" + softHSMModule
			// Before a good login: once a session of this process is logged in, the token accepts more
			// sessions without asking the PIN again.
			if _, err := Open(uri, certFile, "0000"); err == nil {
				t.Error("opened with a wrong PIN")
			}
			k, err := Open(uri, certFile, "1234")
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if _, soft := k.Signer.(*rsa.PrivateKey); soft {
				t.Fatal("the key came out of the token")
			}
			signAndVerify(t, k, p)

			if _, err := Open("pkcs11:token=akciz;object=nosuch?module-path="+softHSMModule+"&pin-value=1234", certFile, ""); err == nil {
				t.Error("opened a key that is not on the token")
			}
		})
	}
}

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSM makes a SoftHSM2 token "akciz" (user PIN 1234) in a temporary directory, or skips the test.
func softHSM(t *testing.T) (dir string, run func(args ...string)) {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Skip("softhsm2-util not found: install the Debian package softhsm2")
	}
	if _, err := os.Stat(softHSMModule); err != nil {
		t.Skip(softHSMModule + " not found: install the Debian package softhsm2")
	}
	dir = t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.Mkdir(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	run = func(args ...string) {
		t.Helper()
		out, err := exec.Command(util, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("softhsm2-util %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("--init-token", "--free", "--label", "akciz", "--pin", "1234", "--so-pin", "5678")
	return dir, run
}
