package storetest

import (
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// testSubmissions checks the Submissions part of store.Store.
func testSubmissions(t *testing.T, s store.Store) {
	_ = s
}
