package watch

// SetIncidentPage sets the incidents read at once (tests of a flood use a small page) and gives a
// function that puts the default back.
func SetIncidentPage(n int) (restore func()) {
	old := incidentPage
	incidentPage = n
	return func() { incidentPage = old }
}

// RoutePatterns gives the ServeMux patterns of every endpoint, so that a test can check it covers them all.
func RoutePatterns() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}
