// Package examples holds the sample sites of akciz: for each, the simulator's scenario (scenario.xml) and,
// beside it, the automation_config.xml that reads it. The scenarios are embedded so that
// `akciz sim fuel-depot` works without the repository at hand.
package examples

import "embed"

// Scenarios holds <site>/scenario.xml of every sample site.
//
//go:embed */scenario.xml
var Scenarios embed.FS
