package storetest

import (
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// testWatch checks the Watch part of store.Store.
func testWatch(t *testing.T, s store.Store) {
	_ = s
}
