package userscript

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestAWiderOldLogIsMadePrivateBeforeTheScriptWritesToIt: a log left at
// 0644 (by an older agent) is 0600 once the script, whose output may hold
// secrets, has appended to it.
func TestAWiderOldLogIsMadePrivateBeforeTheScriptWritesToIt(t *testing.T) {
	d, j := testDeps(t, "#!/bin/bash\necho output\n")
	full := d.Root.Path(LogPath)
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte("old run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(full, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, full); got != 0o600 {
		t.Errorf("log mode %o, want 600", got)
	}
}
