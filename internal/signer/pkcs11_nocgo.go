//go:build !cgo

package signer

import "errors"

func openPKCS11(string, string) (*Key, error) {
	return nil, errors.New("signer: PKCS#11 needs a binary built with cgo (CGO_ENABLED=1)")
}
