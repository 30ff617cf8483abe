package main

import (
	"os"
	"strings"
	"testing"
)

// TestNoticesCommands drives the administrator's commands on a fresh database: the catalogue, grants,
// a refusal named by its flag, a planned window with its reminders queued, and the delivery listing.
func TestNoticesCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string, string) {
		return runCmd(t, append(append([]string{"notices"}, args...), "--dir", dir, "--lang", "bg")...)
	}
	if code, out, _ := runCmd(t, "notices", "publish", "--help"); code != 0 || !strings.Contains(out, "--planned") {
		t.Errorf("publish --help: %d %s", code, out)
	}
	if code, out, errs := run("systems", "add", "--code", "BACIS", "--name", "БАЦИС"); code != 0 || !strings.Contains(out, "BACIS") {
		t.Fatalf("systems add: %d %s %s", code, out, errs)
	}
	if code, _, errs := run("systems", "add", "--code", "bad code", "--name", "x"); code != 2 || !strings.Contains(errs, "--code:") {
		t.Errorf("bad code: %d %s", code, errs)
	}
	if code, _, errs := run("systems", "grant", "--code", "BACIS", "--eik", "121000004"); code != 0 {
		t.Fatalf("grant: %d %s", code, errs)
	}
	if code, out, _ := run("systems"); code != 0 || !strings.Contains(out, "BACIS\tБАЦИС\t121000004") {
		t.Errorf("systems list: %d %q", code, out)
	}
	// Operability never carries a file: refused, naming the flag.
	file := dir + "/guide.pdf"
	if err := os.WriteFile(file, []byte("%PDF-1.7"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run("publish", "--system", "BACIS", "--kind", "operability", "--planned", "--start", "2099-11-25 10:00",
		"--end", "2099-11-25 12:00", "--title", "Профилактика", "--text", "Няма да се приемат данни.", "--file", file)
	if code != 2 || !strings.Contains(errs, "--file:") {
		t.Errorf("operability with a file: %d %s", code, errs)
	}
	code, out, errs := run("publish", "--system", "BACIS", "--kind", "operability", "--planned", "--start", "2099-11-25 10:00",
		"--end", "2099-11-25 12:00", "--title", "Профилактика", "--text", "Няма да се приемат данни.")
	if code != 0 || !strings.Contains(out, "известие 1, редакция 1") {
		t.Fatalf("publish: %d %s %s", code, out, errs)
	}
	if code, out, _ := run("publish", "--notice", "1", "--action", "cancel"); code != 0 || !strings.Contains(out, "редакция 2 (cancel)") {
		t.Errorf("cancel: %d %s", code, out)
	}
	if code, out, _ := run("list"); code != 0 || !strings.Contains(out, "1\tBACIS\toperability\t2\tcancel") {
		t.Errorf("list: %d %q", code, out)
	}
	if code, _, errs := run("publish", "--start", "someday"); code != 2 || !strings.Contains(errs, "--start") {
		t.Errorf("bad time: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "notices", "deliveries", "--dir", dir, "1"); code != 0 {
		t.Errorf("deliveries: %d %s", code, errs)
	}
}
