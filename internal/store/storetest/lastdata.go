package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/store"
)

// testLastData checks that LastData gives, per site, the latest of its devices' last batches (as
// DeviceHead dates them), leaves out sites without evidence and unknown ones, and answers for more sites
// than one query names.
func testLastData(t *testing.T, s store.Store) {
	ctx := context.Background()
	reg := register(t, s, 2) // site BGNCA00005001 with devices 001 and 002
	// A second site with one device and no evidence.
	quiet := "BGNCA00005002"
	must(t, s.PutSite(ctx, store.Site{Warehouse: quiet, Operator: reg.operator, Name: "Склад Русе",
		CustomsOffice: "BG002000", State: store.SiteLive}))
	must(t, s.PutDevice(ctx, store.Device{ID: quiet + "001", Name: "box"}))

	got, err := s.LastData(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("LastData(nil) = %v, %v; want empty", got, err)
	}

	a, b := newChain(reg.devices[0], reg.points[0]), newChain(reg.devices[1], reg.points[1])
	mustAppend(t, s, a.batch(3, t0))
	latestA := a.batch(2, t0.Add(2*time.Hour))
	mustAppend(t, s, latestA)
	latestB := b.batch(4, t0.Add(time.Hour))
	mustAppend(t, s, latestB)

	// Many unknown sites around the two real ones: more than one query's worth of names.
	sites := []string{reg.site, quiet}
	for i := range 1200 {
		sites = append(sites, fmt.Sprintf("BGNCA%08d", 90000000+i))
	}
	sites = append(sites, reg.site) // asked twice: one answer
	got, err = s.LastData(ctx, sites)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("LastData gave %d sites (%v), want only %s", len(got), got, reg.site)
	}
	if want := latestA.Created; !got[reg.site].Equal(want.Truncate(time.Millisecond)) {
		t.Errorf("last data of %s: %v, want %v (device %s's last batch)", reg.site, got[reg.site], want, a.device)
	}
	if _, ok := got[quiet]; ok {
		t.Errorf("site %s without evidence has last data %v", quiet, got[quiet])
	}
	// The same time DeviceHead gives, so the console's list and site page agree.
	h, err := s.DeviceHead(ctx, a.device)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Created.Equal(got[reg.site]) {
		t.Errorf("LastData %v, DeviceHead %v", got[reg.site], h.Created)
	}
	// A later batch of the other device moves the site's time.
	later := b.batch(1, t0.Add(3*time.Hour))
	mustAppend(t, s, later)
	got, err = s.LastData(ctx, []string{reg.site})
	if err != nil {
		t.Fatal(err)
	}
	if !got[reg.site].Equal(later.Created.Truncate(time.Millisecond)) {
		t.Errorf("last data after device %s's new batch: %v, want %v", b.device, got[reg.site], later.Created)
	}
}
