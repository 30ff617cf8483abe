package change

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/akciz/akciz/internal/config"
)

// MaxHistory bounds the number of earlier versions read from a directory; a site changes its
// configuration a few times a year.
const MaxHistory = 10000

// Load reads and validates one version. A file with errors cannot be compared: the error is the
// config.Diagnostics naming them.
func Load(path string) (*Version, error) {
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return FromConfig(path, c), nil
}

// LoadHistory reads every *.xml file of dir, in the order of their names, as earlier versions of the site.
// Every one must load: a rule about the whole history cannot be checked against part of it.
func LoadHistory(dir string) ([]*Version, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".xml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) > MaxHistory {
		names = names[:MaxHistory]
	}
	out := make([]*Version, 0, len(names))
	for _, n := range names {
		v, err := Load(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
