// Package signer opens the operator's signing key: the electronic certificate that signs the agent's data
// (чл. 37, т. 8). The ordinance wants it on a smart card, which akciz reaches through PKCS#11; a PKCS#12
// file or a PEM key file serve tests, laboratories and operators whose customs office allows them.
//
// Whatever the source, Open gives a crypto.Signer and the certificate chain, leaf first, which is what
// wire.Header.Sign takes.
package signer

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// maxFile bounds a key, certificate or PKCS#12 file.
const maxFile = 1 << 20

// Key is an open signing key and its certificate chain.
type Key struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate // leaf first
	close  func() error
}

// Close releases the key (the token session, for PKCS#11).
func (k *Key) Close() error {
	if k.close == nil {
		return nil
	}
	c := k.close
	k.close = nil
	return c()
}

// Open opens the key named by source, unlocked with pin:
//
//   - "pkcs11:token=…;object=…?module-path=…&pin-value=…": a key on a PKCS#11 token (RFC 7512; see
//     ParseURI for the attributes understood). pin, when not empty, overrides pin-value.
//   - a path ending in .p12 or .pfx: a PKCS#12 file; pin is its password.
//   - any other path: a PEM file with an unencrypted private key (PKCS#8, PKCS#1 or SEC 1), and usually
//     the certificate chain too.
//
// certFile, when not empty, is a PEM file of certificates to add to the chain (the leaf, when the source
// has none, and intermediates). The leaf is the certificate whose public key is the key's.
func Open(source, certFile, pin string) (*Key, error) {
	var (
		k   *Key
		err error
	)
	switch ext := strings.ToLower(filepath.Ext(source)); {
	case strings.HasPrefix(source, "pkcs11:"):
		k, err = openPKCS11(source, pin)
	case ext == ".p12" || ext == ".pfx":
		k, err = openPKCS12(source, pin)
	default:
		k, err = openPEM(source)
	}
	if err != nil {
		return nil, err
	}
	if certFile != "" {
		certs, err := readCertFile(certFile)
		if err != nil {
			k.Close()
			return nil, err
		}
		k.Chain = append(k.Chain, certs...)
	}
	if err := k.order(); err != nil {
		k.Close()
		return nil, fmt.Errorf("signer: %s: %w", redact(source), err)
	}
	return k, nil
}

// order puts the certificate of the key first and drops duplicates.
func (k *Key) order() error {
	pub, ok := k.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return fmt.Errorf("unsupported key type %T", k.Signer.Public())
	}
	var leaf *x509.Certificate
	var rest []*x509.Certificate
	seen := map[string]bool{}
	for _, c := range k.Chain {
		if seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		if leaf == nil && pub.Equal(c.PublicKey) {
			leaf = c
			continue
		}
		rest = append(rest, c)
	}
	if leaf == nil {
		return errors.New("no certificate of this key (give it with the certificate file)")
	}
	k.Chain = append([]*x509.Certificate{leaf}, rest...)
	return nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", name, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("signer: %s: larger than %d bytes", name, maxFile)
	}
	return b, nil
}

func readCertFile(name string) ([]*x509.Certificate, error) {
	b, err := readFile(name)
	if err != nil {
		return nil, err
	}
	certs, _, err := parsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", name, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("signer: %s: no CERTIFICATE block", name)
	}
	return certs, nil
}

// parsePEM reads the certificates and the one private key of a PEM file.
func parsePEM(b []byte) ([]*x509.Certificate, crypto.Signer, error) {
	var certs []*x509.Certificate
	var key crypto.Signer
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, enc := blk.Headers["Proc-Type"]; enc {
				return nil, nil, fmt.Errorf("PEM block %d: an encrypted key; use a PKCS#12 file or a token for a protected key", n)
			}
			if key != nil {
				return nil, nil, fmt.Errorf("PEM block %d: a second private key", n)
			}
			k, err := parseKey(blk)
			if err != nil {
				return nil, nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			key = k
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, fmt.Errorf("PEM block %d: an encrypted key; use a PKCS#12 file or a token for a protected key", n)
		}
	}
	if len(bytes.TrimSpace(b)) != 0 && len(certs) == 0 && key == nil {
		return nil, nil, errors.New("not a PEM file")
	}
	return certs, key, nil
}

func parseKey(blk *pem.Block) (crypto.Signer, error) {
	var (
		k   any
		err error
	)
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", k)
	}
	return s, nil
}

func openPEM(name string) (*Key, error) {
	b, err := readFile(name)
	if err != nil {
		return nil, err
	}
	certs, key, err := parsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", name, err)
	}
	if key == nil {
		return nil, fmt.Errorf("signer: %s: no private key", name)
	}
	return &Key{Signer: key, Chain: certs}, nil
}

func openPKCS12(name, pin string) (*Key, error) {
	b, err := readFile(name)
	if err != nil {
		return nil, err
	}
	key, cert, cas, err := pkcs12.DecodeChain(b, pin)
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", name, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signer: %s: key type %T cannot sign", name, key)
	}
	return &Key{Signer: s, Chain: append([]*x509.Certificate{cert}, cas...)}, nil
}

// redact hides a pin-value in a PKCS#11 URI, for messages.
func redact(source string) string {
	if !strings.HasPrefix(source, "pkcs11:") {
		return source
	}
	u, err := ParseURI(source)
	if err != nil {
		return "pkcs11:…"
	}
	return u.String()
}
