// Package i18n is the one message catalogue of akciz: every text a person reads (pages, command output,
// validation errors) is looked up here by key, in Bulgarian first and English second. Catalogues are JSON
// files under catalog/<lang>/, one file per area (config.json, sim.json, …), embedded in the binary.
//
// Messages use fmt verbs; a translation must use the same verbs as the Bulgarian original (explicit
// argument indexes such as %[2]s let a translation reorder them). The tests check that every key exists in
// every language with the same verbs, and that every key the code names exists.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
)

// Lang is a language of the catalogue.
type Lang string

// The languages of akciz. Bulgarian is the default: the people who use akciz are Bulgarian.
const (
	BG Lang = "bg"
	EN Lang = "en"
)

// Langs lists the languages in order of preference.
var Langs = []Lang{BG, EN}

//go:embed catalog
var catalogFS embed.FS

var (
	loadOnce sync.Once
	catalogs map[Lang]map[string]string
	loadErr  error
)

func load() {
	catalogs = make(map[Lang]map[string]string)
	for _, l := range Langs {
		m, err := loadLang(catalogFS, l)
		if err != nil {
			loadErr = err
			return
		}
		catalogs[l] = m
	}
}

func loadLang(fsys fs.FS, l Lang) (map[string]string, error) {
	dir := path.Join("catalog", string(l))
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("i18n: %s: %w", dir, err)
	}
	m := make(map[string]string)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := path.Join(dir, e.Name())
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		var part map[string]string
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		for k, v := range part {
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("i18n: %s: key %q is defined twice", name, k)
			}
			m[k] = v
		}
	}
	return m, nil
}

func catalog(l Lang) map[string]string {
	loadOnce.Do(load)
	if loadErr != nil {
		// The catalogue is embedded and checked by the tests; failing here means a broken build.
		panic(loadErr)
	}
	return catalogs[l]
}

// Parse reads a language from a flag value or a locale such as "bg_BG.UTF-8"; anything that is not
// English is Bulgarian.
func Parse(s string) Lang {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "en") {
		return EN
	}
	return BG
}

// FromEnv picks the language from AKCIZ_LANG, then LC_ALL, LC_MESSAGES and LANG, as a person's shell sets
// them; the default is Bulgarian. The C and POSIX locales, which say nothing of a language, are skipped.
func FromEnv() Lang {
	for _, v := range []string{"AKCIZ_LANG", "LC_ALL", "LC_MESSAGES", "LANG"} {
		s := os.Getenv(v)
		if s == "" || s == "C" || s == "POSIX" || strings.HasPrefix(s, "C.") {
			continue
		}
		return Parse(s)
	}
	return BG
}

// Printer formats messages in one language.
type Printer struct{ lang Lang }

// For returns the printer of a language.
func For(l Lang) *Printer {
	if l != EN {
		l = BG
	}
	return &Printer{lang: l}
}

// Lang is the printer's language.
func (p *Printer) Lang() Lang { return p.lang }

// T formats the message of key with args. A key missing from the catalogue (which the tests forbid) comes
// out as the key and its arguments, so that nothing is silently lost.
func (p *Printer) T(key string, args ...any) string {
	f, ok := catalog(p.lang)[key]
	if !ok {
		if len(args) == 0 {
			return key
		}
		return key + fmt.Sprint(args...)
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, localize(p.lang, args)...)
}

// Message is a text not yet translated: a key and its arguments, carried (in errors, for example) until
// the language of the person who will read it is known.
type Message struct {
	Key  string
	Args []any
}

// M makes a Message.
func M(key string, args ...any) Message { return Message{Key: key, Args: args} }

// Msg formats m.
func (p *Printer) Msg(m Message) string { return p.T(m.Key, m.Args...) }

// String formats m in English, for logs and developers.
func (m Message) String() string { return For(EN).Msg(m) }

// Keys lists every key of a language, sorted.
func Keys(l Lang) []string {
	c := catalog(l)
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether key exists in the catalogue of l.
func Has(l Lang, key string) bool { _, ok := catalog(l)[key]; return ok }
