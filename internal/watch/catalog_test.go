package watch_test

import (
	"testing"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// The keys the package makes from a prefix and a value (the i18n test sees only literal keys) exist in
// both languages, so that no page shows a bare key.
func TestCatalogueHasTheMadeKeys(t *testing.T) {
	var keys []string
	for _, k := range store.AlarmKinds {
		keys = append(keys, "watch.kind."+string(k), "watch.alarm."+string(k))
	}
	for _, s := range []store.AlarmState{store.AlarmStateOpen, store.AlarmStateAcknowledged, store.AlarmStateClosed} {
		keys = append(keys, "watch.state."+string(s))
	}
	for _, e := range core.EventKinds {
		keys = append(keys, "watch.event."+string(e))
	}
	for _, d := range []core.Direction{core.DirectionOut, core.DirectionIn, core.DirectionBoth} {
		keys = append(keys, "watch.direction."+string(d))
	}
	for _, q := range []string{"volume", "stdVolume", "mass", "count"} {
		keys = append(keys, "watch.quantity."+q)
	}
	for _, s := range []string{"operator", "server", "officer", "agent"} {
		keys = append(keys, "watch.source."+s)
	}
	for _, f := range []string{"image", "config", "modbus-map", "modem-config", "other"} {
		keys = append(keys, "watch.file."+f)
	}
	for _, c := range []string{"forbidden", "not-found", "refused", "invalid", "internal"} {
		keys = append(keys, "watch.api.code."+c)
	}
	for _, k := range []store.ComparisonKind{store.ComparisonTestData, store.ComparisonThreeWay} {
		keys = append(keys, "watch.compare.title_"+string(k))
	}
	keys = append(keys, "watch.report.totals_day", "watch.report.totals_month")
	for _, s := range []store.SiteState{store.SiteDraft, store.SiteApproved, store.SiteTesting, store.SiteLive,
		store.SiteSuspended, store.SiteClosed} {
		keys = append(keys, "watch.site_state."+string(s))
	}
	for _, r := range []store.Role{store.RoleOperator, store.RoleOfficer, store.RoleAdmin} {
		keys = append(keys, "watch.role."+string(r))
	}
	for _, c := range []string{"point", "time", "tag", "role", "value", "unit", "quality", "test", "begin", "end", "product",
		"product_name", "direction", "quantity", "amount", "device", "event", "previous", "bits", "period", "total",
		"transactions", "id", "kind", "site", "state", "opened", "restored", "closed", "detail"} {
		keys = append(keys, "watch.col."+c)
	}
	for _, c := range core.IntervalClasses {
		keys = append(keys, "watch.class."+string(c))
	}
	for _, k := range []store.IncidentKind{store.IncidentGap, store.IncidentReplay, store.IncidentReorder, store.IncidentAltered,
		store.IncidentBadSignature, store.IncidentUnknownCertificate, store.IncidentExpiredCertificate,
		store.IncidentWrongDevice, store.IncidentWrongOperator, store.IncidentMalformed} {
		keys = append(keys, "watch.incident."+string(k))
	}
	for _, d := range []string{"event", "incident", "tag", "value", "previous", "unit", "bits", "time", "seq", "seq_first",
		"seq_last", "last", "limit", "class", "detail"} {
		keys = append(keys, "watch.detail."+d)
	}
	for _, k := range keys {
		for _, l := range []i18n.Lang{i18n.BG, i18n.EN} {
			if !i18n.Has(l, k) {
				t.Errorf("%s lacks %s", l, k)
			}
		}
	}
}
