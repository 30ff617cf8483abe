package postgres

import "testing"

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                            "SELECT 1",
		"SELECT a FROM t WHERE b = ?":         "SELECT a FROM t WHERE b = $1",
		"INSERT INTO t VALUES (?, ?, 'é', ?)": "INSERT INTO t VALUES ($1, $2, 'é', $3)",
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
		if got := rebind(in); got != want {
			t.Errorf("cached rebind(%q) = %q", in, got)
		}
	}
}
