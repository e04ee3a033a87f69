package userscript

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// A chatty script: its whole output is in its own log, and add2tkectl's
// log gets the last LogTailBytes of it, ending with the script's last line.
func TestScriptOutputReachesAddToTKECtlsLogAsABoundedTail(t *testing.T) {
	d, j := testDeps(t, "#!/bin/bash\nfor i in $(seq 1 4000); do echo \"line $i of the script's output, padded to be long enough\"; done\necho the last line\n")
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetFormatter(&logrus.JSONFormatter{})
	d.Log = l
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	whole := read(t, d.Root.Path(LogPath))
	if !strings.Contains(whole, "line 1 of") || !strings.Contains(whole, "the last line") {
		t.Fatalf("the script's own log lacks its output (%d bytes)", len(whole))
	}
	var tail string
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"output"`) {
			tail = line
		}
	}
	if tail == "" {
		t.Fatalf("no output in add2tkectl's log:\n%.2000s", buf.String())
	}
	if len(tail) > LogTailBytes+4096 { // JSON escapes each newline, and the fields
		t.Errorf("the log line is %d bytes, want at most about %d", len(tail), LogTailBytes)
	}
	for _, want := range []string{"the last line", "line 4000 of", "bytes before this", LogPath} {
		if !strings.Contains(tail, want) {
			t.Errorf("add2tkectl's log lacks %q", want)
		}
	}
	if strings.Contains(tail, `line 1 of`) {
		t.Error("add2tkectl's log has the head of the output, not only its tail")
	}
}

// A log grown over many runs is moved aside when a run starts.
func TestALogOverTheLimitIsRotatedWhenARunStarts(t *testing.T) {
	d, j := testDeps(t, "echo fresh\n")
	if err := os.MkdirAll(d.Root.Path(Dir), 0o700); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("old output\n"), MaxLogBytes/10)
	if err := os.WriteFile(d.Root.Path(LogPath), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if got := read(t, d.Root.Path(OldLogPath)); got != string(old) {
		t.Errorf("the rotated log is %d bytes, want the old %d", len(got), len(old))
	}
	if got := read(t, d.Root.Path(LogPath)); strings.Contains(got, "old output") || !strings.Contains(got, "fresh") {
		t.Errorf("the new log is %.200q", got)
	}
}

// A directory that existed before install is the operator's: not recorded
// (uninstall would remove it whole), its permissions left as they were.
func TestAPreexistingDirIsNeitherRecordedNorChmodded(t *testing.T) {
	d, j := testDeps(t, "echo hi\n")
	if err := os.MkdirAll(d.Root.Path(Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Root.Path(Dir+"/operator.sh"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(j.dirs, Dir) {
		t.Errorf("a directory install did not create is recorded: %v", j.dirs)
	}
	if m := mode(t, d.Root.Path(Dir)); m != 0o755 {
		t.Errorf("the operator's directory is %o now, want 0755", m)
	}
	if got := read(t, d.Root.Path(Dir+"/operator.sh")); got != "mine" {
		t.Errorf("the operator's file is %q", got)
	}
}
