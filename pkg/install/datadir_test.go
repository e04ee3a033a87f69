package install

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

func recordDataDir(t *testing.T, root host.Root, dataDir string) map[string]string {
	t.Helper()
	p := phase.Phase{Name: "runtime", Run: func(_ context.Context, rec phase.Recorder) error {
		return RecordDataDir(root, dataDir, rec)
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{p}, phase.Options{Root: root.Dir}); err != nil {
		t.Fatal(err)
	}
	j, err := phase.LoadJournal(root.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return j.Values()
}

// The data dir, its permissions and what it held are recorded before the
// runtime first uses it, kept over re-runs (which see the runtime's
// permissions and entries), and recorded again when the data dir moves.
func TestRecordDataDirRecordsTheDirItsModeAndEntriesOnce(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	disk := root.Path("/data/containerd")
	if err := os.MkdirAll(filepath.Join(disk, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(disk, "volumes"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(disk, 0o751); err != nil {
		t.Fatal(err)
	}
	v := recordDataDir(t, root, "/data/containerd/")
	if v[KeyDataDir] != "/data/containerd" || v[KeyDataDirMode] != "0751" || v[KeyDataDirEntries] != `["lost+found","volumes"]` {
		t.Fatalf("facts = %v", v)
	}
	// The runtime ran: 0700 and its own entries. A re-run keeps the facts.
	if err := os.Chmod(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(disk, "io.containerd.content.v1.content"), 0o700); err != nil {
		t.Fatal(err)
	}
	if v2 := recordDataDir(t, root, "/data/containerd"); v2[KeyDataDirMode] != "0751" || v2[KeyDataDirEntries] != v[KeyDataDirEntries] {
		t.Fatalf("a re-run changed the facts: %v", v2)
	}
	// Moved to a directory install creates: nothing was there before.
	if v3 := recordDataDir(t, root, "/var/lib/containerd"); v3[KeyDataDir] != "/var/lib/containerd" || v3[KeyDataDirMode] != "" || v3[KeyDataDirEntries] != "[]" {
		t.Fatalf("facts after the data dir moved = %v", v3)
	}
}

func TestRecordDataDirRefusesAFile(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	if err := os.WriteFile(root.Path("/data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := phase.Phase{Name: "runtime", Run: func(_ context.Context, rec phase.Recorder) error {
		return RecordDataDir(root, "/data", rec)
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{p}, phase.Options{Root: root.Dir}); err == nil {
		t.Fatal("a data dir that is a file was accepted")
	}
}
