package notify

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIM signs messages for a domain (RFC 6376) with go-msgauth, whose signer is correct with long header
// lists (go-mail's own is known not to be).
type DKIM struct {
	Domain   string // d=: the domain of the From address, or its parent
	Selector string // s=: the key is published at <selector>._domainkey.<domain>
	Signer   crypto.Signer
}

// maxKeyFile bounds a key file: a 4096-bit RSA key in PEM is about 3.3 kB.
const maxKeyFile = 64 << 10

// LoadDKIMKey reads a private key for DKIM from a PEM file: RSA (PKCS #1 or #8) or Ed25519 (PKCS #8).
func LoadDKIMKey(file string) (crypto.Signer, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("notify: dkim key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("notify: dkim key %s: %w", file, err)
	}
	k, err := ParseDKIMKey(b)
	if err != nil {
		return nil, fmt.Errorf("notify: dkim key %s: %w", file, err)
	}
	return k, nil
}

// ParseDKIMKey parses a PEM private key for DKIM (see LoadDKIMKey).
func ParseDKIMKey(b []byte) (crypto.Signer, error) {
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFile)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q, want RSA PRIVATE KEY or PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits: receivers refuse keys under 1024 bits", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("key of type %T, want RSA or Ed25519", key)
}

// Record gives the DNS TXT record to publish at <selector>._domainkey.<domain>.
func (d *DKIM) Record() (string, error) {
	switch pub := d.Signer.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", fmt.Errorf("notify: dkim: key of type %T", d.Signer.Public())
}

// signedHeaders are the header fields a signature covers, when present: those a reader sees and those a
// receiver acts on (List-Unsubscribe and List-Unsubscribe-Post must be covered for one-click, RFC 8058
// §4).
var signedHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted", "Content-Language",
	"MIME-Version", "Content-Type"}

// sign gives msg with a DKIM-Signature header first; present lists the header fields msg has.
func (d *DKIM) sign(msg []byte, present func(string) bool) ([]byte, error) {
	keys := []string{}
	for _, k := range signedHeaders {
		if present(k) {
			keys = append(keys, k)
		}
	}
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain: d.Domain, Selector: d.Selector, Signer: d.Signer, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: keys,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: dkim: %w", err)
	}
	return out.Bytes(), nil
}
