package storetest

import (
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// testNotices checks the Notices part of store.Store.
func testNotices(t *testing.T, s store.Store) {
	_ = s
}
