package watch_test

import (
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/watch"
)

// The alarm report (CSV/XLSX/PDF export of the alarms list) writes each alarm's detail in the
// catalogue's words, as the console's alarm page shows it: labels, an event's and an incident's kind, a
// point's class of чл. 30(13), times in Sofia's time with the zone, intervals in minutes, numbers as the
// reader writes them; never the engine's key=value.
func TestAlarmsDocumentDetailInWords(t *testing.T) {
	last := t0.Format(time.RFC3339) // 10:00 in Sofia
	alarms := []store.Alarm{
		{ID: 1, Kind: store.AlarmLatePoint, Site: site, Device: device, Point: point1, State: store.AlarmStateOpen, Opened: t0,
			Detail: map[string]string{"last": last, "limit": "11m0s", "class": "road"}},
		{ID: 2, Kind: store.AlarmOutOfLimits, Site: site, Device: device, Point: point1, State: store.AlarmStateOpen, Opened: t0,
			Detail: map[string]string{"event": "out-of-limits", "tag": "p1_flow", "value": "12345.5", "unit": "L/min",
				"time": last, "seq": "7", "extra": "x"}},
		{ID: 3, Kind: store.AlarmIncident, Site: site, Device: device, Incident: 4, State: store.AlarmStateOpen, Opened: t0,
			Detail: map[string]string{"incident": "gap", "first": "10", "last": "12", "detail": "10–12"}},
		{ID: 4, Kind: store.AlarmLateSite, Site: site, State: store.AlarmStateOpen, Opened: t0,
			Detail: map[string]string{"last": "", "limit": "1h2m0s"}},
	}
	want := map[i18n.Lang][]string{
		i18n.BG: {
			"Последни данни: 23.11.2026 10:00:00 EET; Допустим интервал: 11 мин; " +
				"Вид на точката за контрол (чл. 30, ал. 13): автоналивна естакада (т. 1)",
			"Събитие: извън границите; Таг: p1_flow; Стойност: 12\u00a0345,5; Мерна единица: L/min; " +
				"Време на записа: 23.11.2026 10:00:00 EET; Пореден № на записа: 7; extra: x",
			"Инцидент: липсващи записи; От пореден №: 10; До пореден №: 12; Подробности: 10–12",
			"Допустим интервал: 1 ч 2 мин",
		},
		i18n.EN: {
			"Last data: 2026-11-23 10:00:00 EET; Allowed interval: 11 min; Kind of control point (чл. 30(13)): road loading rack (т. 1)",
			"Event: out of limits; Tag: p1_flow; Value: 12,345.5; Unit: L/min; Time of the record: 2026-11-23 10:00:00 EET; " +
				"Record number: 7; extra: x",
			"Incident: missing records; From record number: 10; To record number: 12; Details: 10–12",
			"Allowed interval: 1 h 2 min",
		},
	}
	for lang, lines := range want {
		d := watch.AlarmsDocument(alarms, lang, t0)
		tb := d.Sections[0].Blocks[0].(*report.Table)
		col := len(tb.Columns) - 1
		if tb.Columns[col].Header != i18n.For(lang).T("watch.col.detail") {
			t.Fatalf("%s: last column %q is not the detail", lang, tb.Columns[col].Header)
		}
		for i, w := range lines {
			if got := tb.Rows[i][col].String(); got != w {
				t.Errorf("%s, alarm %d:\n got %q\nwant %q", lang, alarms[i].ID, got, w)
			}
		}
	}
}
