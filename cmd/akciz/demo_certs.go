package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// The demo's certificates, in <dir>/certs: one demo CA issues them all. They are made on the first start
// and reused after, so that a browser that imported them once keeps working.
const (
	demoCertDir = "certs"
	// demoP12Password protects the PKCS#12 files: a browser asks for a password on import, but a demo's
	// files protect nothing, so the password is printed and documented.
	demoP12Password = "demo"
)

// demoIdentity is one certificate the demo issues: files <name>.pem and <name>-key.pem (and <name>.p12
// for a person's browser).
type demoIdentity struct {
	name    string
	subject pkix.Name
	emails  []string
	server  bool // a TLS server certificate (localhost and the given hosts)
	person  bool // a person's login certificate: also as PKCS#12
}

// oidOrganizationIdentifier is the X.520 organizationIdentifier (2.5.4.97): the EIK as NTRBG-<EIK>,
// where Bulgarian qualified certificates of legal persons carry it (ETSI EN 319 412-1).
var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// demoIdentities are the certificates of the demo: the server's TLS certificate, the ИКУНК's (the
// operator's certificate that signs the records and authenticates the agent, чл. 37 т. 8), and the
// login certificates of a customs officer and of a person of the operator for the console.
func demoIdentities() []demoIdentity {
	org := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{demoOperatorName}, Country: []string{"BG"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "NTRBG-" + demoOperatorEIK}}}
	}
	return []demoIdentity{
		{name: "server", subject: pkix.Name{CommonName: "akciz demo server", Organization: []string{"akciz demo"}}, server: true},
		{name: "agent", subject: org("ИКУНК " + demoDevice)},
		{name: "officer", subject: pkix.Name{CommonName: demoOfficerName, Organization: []string{"Агенция „Митници“ (демо)"},
			OrganizationalUnit: []string{demoOffice}, Country: []string{"BG"}}, emails: []string{demoOfficerEmail}, person: true},
		{name: "operator", subject: org(demoPersonName), emails: []string{demoPersonEmail}, person: true},
	}
}

// demoCerts are the demo's certificates as loaded.
type demoCerts struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	leaves map[string]tls.Certificate // by demoIdentity.name
	made   []string                   // the files made on this start
}

// path gives the path of a file of the certificate directory.
func (c *demoCerts) path(name string) string { return filepath.Join(c.dir, name) }

// leaf gives the parsed certificate of an identity.
func (c *demoCerts) leaf(name string) *x509.Certificate { return c.leaves[name].Leaf }

// openDemoCerts loads the certificates of dir, making those that are missing: the CA first (a new CA
// makes every certificate anew, since the old ones no longer chain to it), then each certificate, and a
// server certificate that does not cover every host of hosts again.
func openDemoCerts(dir string, hosts []string) (*demoCerts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &demoCerts{dir: dir, leaves: map[string]tls.Certificate{}}
	fresh := false
	if err := c.loadCA(); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := c.makeCA(); err != nil {
			return nil, err
		}
		fresh = true
	}
	for _, id := range demoIdentities() {
		cert, err := tls.LoadX509KeyPair(c.path(id.name+".pem"), c.path(id.name+"-key.pem"))
		ok := err == nil && !fresh && cert.Leaf != nil && cert.Leaf.CheckSignatureFrom(c.ca) == nil &&
			time.Now().Before(cert.Leaf.NotAfter)
		if ok && id.server {
			for _, h := range hosts {
				if cert.Leaf.VerifyHostname(h) != nil {
					ok = false
				}
			}
		}
		if ok && id.person {
			_, err := os.Stat(c.path(id.name + ".p12"))
			ok = err == nil
		}
		if !ok {
			if cert, err = c.issue(id, hosts); err != nil {
				return nil, fmt.Errorf("demo: certificate %s: %w", id.name, err)
			}
		}
		c.leaves[id.name] = cert
	}
	return c, nil
}

func (c *demoCerts) loadCA() error {
	b, err := os.ReadFile(c.path("ca.pem"))
	if err != nil {
		return err
	}
	kb, err := os.ReadFile(c.path("ca-key.pem"))
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(b, kb)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", c.path("ca.pem"), err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || pair.Leaf == nil || !pair.Leaf.IsCA {
		return fmt.Errorf("demo: %s: not a CA with its key", c.path("ca.pem"))
	}
	c.ca, c.caKey = pair.Leaf, key
	return nil
}

func (c *demoCerts) makeCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial(),
		Subject:   pkix.Name{CommonName: "akciz demo CA (not for real use)", Organization: []string{"akciz demo"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	if c.ca, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	c.caKey = key
	if err := c.writeKey("ca-key.pem", key); err != nil {
		return err
	}
	return c.write("ca.pem", pemBlock("CERTIFICATE", der), 0o644)
}

// issue makes the certificate of id, signed by the CA, and writes its files.
func (c *demoCerts) issue(id demoIdentity, hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: id.subject, EmailAddresses: id.emails,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if id.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				if !ip.IsLoopback() {
					tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
				}
			} else if h != "localhost" && h != "" {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, key.Public(), c.caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := c.writeKey(id.name+"-key.pem", key); err != nil {
		return tls.Certificate{}, err
	}
	if err := c.write(id.name+".pem", pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	if id.person {
		p12, err := pkcs12.LegacyDES.Encode(key, leaf, []*x509.Certificate{c.ca}, demoP12Password)
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := c.write(id.name+".p12", p12, 0o600); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func (c *demoCerts) writeKey(name string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return c.write(name, pemBlock("PRIVATE KEY", der), 0o600)
}

func (c *demoCerts) write(name string, b []byte, mode os.FileMode) error {
	if err := os.WriteFile(c.path(name), b, mode); err != nil {
		return err
	}
	c.made = append(c.made, name)
	return nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic("demo: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return n
}
