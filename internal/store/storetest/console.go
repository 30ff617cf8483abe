package storetest

import (
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// testConsole checks the Console part of store.Store.
func testConsole(t *testing.T, s store.Store) {
	_ = s
}
