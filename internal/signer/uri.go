package signer

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URI is the subset of a PKCS#11 URI (RFC 7512) that names a signing key.
type URI struct {
	Module      string // query attribute module-path: the PKCS#11 library
	Token       string // path attribute token: the token's label
	TokenSerial string // path attribute serial: the token's serial number
	Object      string // path attribute object: the key's label (CKA_LABEL)
	ID          []byte // path attribute id: the key's CKA_ID, percent-encoded bytes
	Pin         string // query attribute pin-value
	PinSource   string // query attribute pin-source: a file holding the pin
}

// ParseURI reads a pkcs11: URI. Path attributes (separated by ';'): token, serial, object, id, type (only
// "private" accepted). Query attributes (separated by '&'): module-path, pin-value, pin-source. Values are
// percent-decoded. A token (label or serial) and an object (label or id) are required, and so is
// module-path: akciz does not guess a library.
func ParseURI(s string) (URI, error) {
	var u URI
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return u, errors.New("pkcs11 URI: want the pkcs11 scheme")
	}
	path, query, _ := strings.Cut(rest, "?")
	attr := func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("pkcs11 URI: %q is not name=value", kv)
		}
		v, err := url.PathUnescape(v)
		if err != nil {
			return fmt.Errorf("pkcs11 URI: %s: %w", k, err)
		}
		switch k {
		case "token":
			u.Token = v
		case "serial":
			u.TokenSerial = v
		case "object":
			u.Object = v
		case "id":
			u.ID = []byte(v)
		case "type":
			if v != "private" {
				return fmt.Errorf("pkcs11 URI: type=%s, only private keys sign", v)
			}
		case "module-path":
			u.Module = v
		case "pin-value":
			u.Pin = v
		case "pin-source":
			u.PinSource = strings.TrimPrefix(v, "file:")
		default:
			return fmt.Errorf("pkcs11 URI: unknown attribute %q", k)
		}
		return nil
	}
	for _, kv := range strings.Split(path, ";") {
		if kv == "" {
			continue
		}
		if err := attr(kv); err != nil {
			return u, err
		}
	}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		if err := attr(kv); err != nil {
			return u, err
		}
	}
	switch {
	case u.Module == "":
		return u, errors.New("pkcs11 URI: module-path is required")
	case u.Token == "" && u.TokenSerial == "":
		return u, errors.New("pkcs11 URI: token (label) or serial is required")
	case u.Token != "" && u.TokenSerial != "":
		return u, errors.New("pkcs11 URI: give token or serial, not both")
	case u.Object == "" && len(u.ID) == 0:
		return u, errors.New("pkcs11 URI: object (label) or id is required")
	}
	return u, nil
}

// String writes the URI without its pin.
func (u URI) String() string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	var path []string
	if u.Token != "" {
		path = append(path, "token="+url.PathEscape(u.Token))
	}
	if u.TokenSerial != "" {
		path = append(path, "serial="+url.PathEscape(u.TokenSerial))
	}
	if u.Object != "" {
		path = append(path, "object="+url.PathEscape(u.Object))
	}
	if len(u.ID) > 0 {
		var id strings.Builder
		for _, c := range u.ID {
			fmt.Fprintf(&id, "%%%02X", c)
		}
		path = append(path, "id="+id.String())
	}
	b.WriteString(strings.Join(path, ";"))
	b.WriteString("?module-path=" + url.PathEscape(u.Module))
	if u.PinSource != "" {
		b.WriteString("&pin-source=" + url.PathEscape(u.PinSource))
	}
	return b.String()
}
