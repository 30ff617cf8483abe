package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/workday"
)

// stateName gives a site's state (or "alarm") as a person reads it.
func stateName(p *i18n.Printer, state string) string {
	key := "web.state." + state
	return p.T(key)
}

// export writes tables as one document in format "csv" (Excel with Bulgarian settings: ';', decimal
// comma, a byte order mark; docs/exports.md) or "xlsx", as an attachment named name-<date>.<format>.
// Table rows may stream (report.Table.Source): nothing is held beyond what the format needs.
func (s *Server) export(w http.ResponseWriter, r *http.Request, format, name, title string, tables ...*report.Table) {
	p := s.Printer(r)
	now := s.cfg.Now()
	d := &report.Document{Title: title, Lang: p.Lang(), Created: now,
		Meta: []report.Field{{Label: p.T("web.export.generated"), Value: formatTime(now, p.Lang())}}}
	if u := UserOf(r); u != nil {
		d.Meta = append(d.Meta, report.Field{Label: p.T("web.export.by"), Value: u.Person.Name})
	}
	sec := &report.Section{Heading: title}
	for _, t := range tables {
		sec.Blocks = append(sec.Blocks, t)
	}
	d.Sections = []*report.Section{sec}
	file := fmt.Sprintf("%s-%s.%s", name, now.In(workday.Sofia).Format("20060102-1504"), format)
	var err error
	// A file of a site's data is nobody's to keep but the person's: no cache on the way keeps it.
	w.Header().Set("Cache-Control", "private, no-store")
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
		if len(tables) == 1 {
			err = report.CSVTable(w, tables[0], report.ExcelBG)
		} else {
			err = report.CSV(w, d, report.ExcelBG)
		}
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
		err = report.XLSX(w, d)
	default:
		s.NotFound(w, r)
		return
	}
	if err != nil {
		// The headers are gone; the log says why the file is short.
		s.cfg.Logger.Printf("export %s.%s: %v", name, format, err)
	}
}

// exportTime is a time cell of an export.
func exportTime(t time.Time, l i18n.Lang) report.Cell { return report.Text(formatTime(t, l)) }
