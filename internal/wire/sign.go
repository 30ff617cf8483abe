package wire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// The signature algorithms of version 1. Each signs the SHA-256 of the digest text; an officer can check
// one with `openssl dgst -sha256 -verify key.pem -signature sig.bin digest.txt`.
const (
	// AlgRSA is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017), the scheme every smart card and qualified
	// signature token does; RSA keys must have at least 2048 bits.
	AlgRSA = "rsa-pkcs1v15-sha256"
	// AlgP256 is ECDSA on P-256 with SHA-256, the signature ASN.1 DER encoded (as PKCS#11 tokens give it
	// after crypto11, and as openssl writes it).
	AlgP256 = "ecdsa-p256-sha256"
	// AlgP384 is ECDSA on P-384 with SHA-256 (the digest is SHA-256 for every algorithm, so that the batch
	// hash is one value), DER encoded.
	AlgP384 = "ecdsa-p384-sha256"
)

var algs = map[string]bool{AlgRSA: true, AlgP256: true, AlgP384: true}

// algFor gives the algorithm of a public key, or an error for a key this version does not accept.
func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits, want at least 2048", k.N.BitLen())
		}
		return AlgRSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return AlgP256, nil
		case elliptic.P384():
			return AlgP384, nil
		}
		return "", fmt.Errorf("ECDSA curve %s, want P-256 or P-384", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("key type %T, want RSA or ECDSA", pub)
}

// Sign signs the header with s, whose certificate chain (leaf first) is chain, and fills Alg, Certs and
// Sig. The signer is one operation per batch, whatever the number of records.
func (h *Header) Sign(s crypto.Signer, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("wire: sign: no certificate")
	}
	alg, err := algFor(s.Public())
	if err != nil {
		return fmt.Errorf("wire: sign: %w", err)
	}
	if !publicKeysEqual(s.Public(), chain[0].PublicKey) {
		return errors.New("wire: sign: the key is not the certificate's")
	}
	d := h.Digest()
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("wire: sign: %w", err)
	}
	h.Alg, h.Sig = alg, sig
	h.Certs = make([][]byte, 0, len(chain))
	for _, c := range chain {
		h.Certs = append(h.Certs, c.Raw)
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// VerifyOptions say what Header.Verify demands of the signer's certificate.
type VerifyOptions struct {
	// Roots are the trust anchors. When nil the chain is not checked, only the signature against the leaf
	// certificate and its validity; an officer then relies on Cert.
	Roots *x509.CertPool
	// Cert, when set, is the certificate the batch must be signed with (the one the officer holds).
	Cert *x509.Certificate
	// Operator, when set, is the EIK the certificate must name (see OperatorEIK).
	Operator string
}

// Verify checks the batch signature: the algorithm matches the leaf certificate's key, the signature over
// the digest verifies, the leaf is valid at the batch's creation time and allowed to sign (key usage
// digitalSignature or contentCommitment), chains to opt.Roots when given, is opt.Cert when given, and
// names opt.Operator when given. It returns the leaf certificate.
func (h *Header) Verify(opt VerifyOptions) (*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(h.Certs))
	for i, der := range h.Certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, failErr(CodeMalformed, 0, err, "wire.cert.parse", i+1)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	alg, err := algFor(leaf.PublicKey)
	if err != nil {
		return nil, failErr(CodeUnknownCertificate, 0, err, "wire.cert.key")
	}
	if alg != h.Alg {
		return nil, fail(CodeBadSignature, 0, "wire.sig.alg", h.Alg, alg)
	}
	if err := checkSignature(leaf.PublicKey, h.Digest(), h.Sig); err != nil {
		return nil, failErr(CodeBadSignature, 0, err, "wire.sig.bad", leaf.Subject.CommonName)
	}
	if opt.Cert != nil && !bytes.Equal(opt.Cert.Raw, leaf.Raw) {
		return nil, fail(CodeUnknownCertificate, 0, "wire.cert.not_expected", leaf.Subject.CommonName, leaf.SerialNumber.String())
	}
	at := h.Created
	if at.Before(leaf.NotBefore) || at.After(leaf.NotAfter) {
		return nil, fail(CodeExpiredCertificate, 0, "wire.cert.expired", at.Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, fail(CodeUnknownCertificate, 0, "wire.cert.usage")
	}
	if opt.Roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: opt.Roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			var inv x509.CertificateInvalidError
			if errors.As(err, &inv) && inv.Reason == x509.Expired {
				return nil, failErr(CodeExpiredCertificate, 0, err, "wire.cert.chain_expired")
			}
			return nil, failErr(CodeUnknownCertificate, 0, err, "wire.cert.untrusted", leaf.Subject.CommonName, leaf.Issuer.CommonName)
		}
	}
	if opt.Operator != "" {
		eik, ok := OperatorEIK(leaf)
		if !ok {
			return nil, fail(CodeWrongOperator, 0, "wire.cert.no_eik", leaf.Subject.String())
		}
		if eik != opt.Operator {
			return nil, fail(CodeWrongOperator, 0, "wire.cert.wrong_eik", eik, opt.Operator)
		}
	}
	return leaf, nil
}

func checkSignature(pub crypto.PublicKey, d Hash, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("key type %T", pub)
}

var (
	oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	oidSerialNumber           = asn1.ObjectIdentifier{2, 5, 4, 5}
)

// OperatorEIK finds the operator's EIK (ЕИК, the Bulgarian company code) in a certificate's subject.
// Bulgarian qualified certificates for legal persons follow ETSI EN 319 412-1: the subject's
// organizationIdentifier (2.5.4.97) is "NTRBG-<EIK>" (national trade register) or "VATBG-<EIK>" (the VAT
// number is BG followed by the EIK). Some issuers also, or instead, write the EIK in the subject's
// serialNumber (2.5.4.5), bare or with one of those prefixes. The EIK must pass its check digit.
func OperatorEIK(c *x509.Certificate) (string, bool) {
	var org, serial []string
	for _, a := range c.Subject.Names {
		s, ok := a.Value.(string)
		if !ok {
			continue
		}
		switch {
		case a.Type.Equal(oidOrganizationIdentifier):
			org = append(org, s)
		case a.Type.Equal(oidSerialNumber):
			serial = append(serial, s)
		}
	}
	for _, s := range append(org, serial...) {
		for _, p := range []string{"NTRBG-", "VATBG-", ""} {
			if v, ok := strings.CutPrefix(s, p); ok && core.ValidEIK(v) {
				return v, true
			}
		}
	}
	return "", false
}
