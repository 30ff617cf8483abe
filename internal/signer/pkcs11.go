//go:build cgo

package signer

import (
	"fmt"
	"os"
	"strings"

	"github.com/ThalesIgnite/crypto11"
)

// openPKCS11 logs in to the token of a pkcs11: URI and finds the key and, if the token holds it, its
// certificate (an object with the same id or label).
func openPKCS11(source, pin string) (*Key, error) {
	u, err := ParseURI(source)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	if pin == "" {
		pin = u.Pin
	}
	if pin == "" && u.PinSource != "" {
		b, err := readFile(u.PinSource)
		if err != nil {
			return nil, err
		}
		pin = strings.TrimRight(string(b), "\r\n")
	}
	if _, err := os.Stat(u.Module); err != nil {
		return nil, fmt.Errorf("signer: %s: module: %w", u, err)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: u.Module, TokenLabel: u.Token, TokenSerial: u.TokenSerial, Pin: pin})
	if err != nil {
		return nil, fmt.Errorf("signer: %s: %w", u, err)
	}
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	s, err := ctx.FindKeyPair(u.ID, label)
	if err != nil || s == nil {
		ctx.Close()
		if err == nil {
			err = fmt.Errorf("no key pair with this object/id on the token")
		}
		return nil, fmt.Errorf("signer: %s: %w", u, err)
	}
	k := &Key{Signer: s, close: ctx.Close}
	c, err := ctx.FindCertificate(u.ID, label, nil)
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("signer: %s: certificate: %w", u, err)
	}
	if c != nil {
		k.Chain = append(k.Chain, c)
	}
	return k, nil
}
