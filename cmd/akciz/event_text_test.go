package main

import (
	"testing"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
)

// TestEventKindTexts pins that every event kind a record can carry has its words wherever a person reads
// events by kind (keys built at run time, which the catalogue's own test cannot see): a new kind in core
// must be named in the demo's lines and on the console's pages and in watch's reports, in both languages.
func TestEventKindTexts(t *testing.T) {
	for _, k := range core.EventKinds {
		for _, prefix := range []string{"demo.event.", "watch.event."} {
			for _, l := range []i18n.Lang{i18n.BG, i18n.EN} {
				if !i18n.Has(l, prefix+string(k)) {
					t.Errorf("%s catalogue lacks %s%s", l, prefix, k)
				}
			}
		}
	}
}
