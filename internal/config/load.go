package config

import (
	"fmt"
	"io"
	"os"

	"github.com/akciz/akciz/internal/i18n"
)

// MaxFileSize is the largest automation_config.xml the loader reads. A real site has a few hundred tags,
// some hundred kilobytes; anything larger is refused before it is parsed.
const MaxFileSize = 8 << 20

// Load reads, parses and validates the file at path. It returns the configuration only when the file has
// no errors; the error is then Diagnostics listing every one of them. Warnings do not fail a load.
func Load(path string) (*Config, error) {
	c, ds := LoadFile(path)
	if ds.HasErrors() {
		return nil, ds
	}
	return c, nil
}

// LoadFile reads, parses and validates the file at path, and returns every finding. The configuration is
// nil whenever the findings include an error.
func LoadFile(path string) (*Config, Diagnostics) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Diagnostics{ioDiag(path, err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Diagnostics{ioDiag(path, err)}
	}
	return Parse(path, data)
}

func ioDiag(path string, err error) Diagnostic {
	return Diagnostic{File: path, Severity: SeverityError, Rule: "read", Msg: i18n.M("config.read", fmt.Sprint(err))}
}
