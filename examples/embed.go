// Package examples holds the sample sites of akciz: for each, the simulator's scenario (scenario.xml) and,
// beside it, the automation_config.xml that reads it. Both are embedded so that `akciz sim fuel-depot`
// and `akciz demo` work without the repository at hand.
package examples

import "embed"

// Scenarios holds <site>/scenario.xml of every sample site.
//
//go:embed */scenario.xml
var Scenarios embed.FS

// Configs holds <site>/automation_config.xml of every sample site: the configuration whose agent reads
// the scenario beside it.
//
//go:embed */automation_config.xml
var Configs embed.FS
