package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCommitSyncsTheDirectoryAfterTheRename: the directory is fsynced once
// the new file is in place, or a power loss could bring the old one back.
func TestCommitSyncsTheDirectoryAfterTheRename(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "state.json")
	var synced []string
	orig := syncDir
	syncDir = func(d string) error {
		b, err := os.ReadFile(target)
		if err != nil || string(b) != "new" {
			t.Errorf("directory synced before the rename: target holds %q (%v)", b, err)
		}
		synced = append(synced, d)
		return orig(d)
	}
	t.Cleanup(func() { syncDir = orig })
	if err := Write(target, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Errorf("synced %q, want [%s]", synced, dir)
	}
}

// TestWriteDoesNotFollowASymlinkAtItsTempName: someone who guessed the temp
// name and put a symlink there gains nothing: the write takes another name
// and the symlink's target is untouched.
func TestWriteDoesNotFollowASymlinkAtItsTempName(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "kubelet.conf")
	guessed := []string{"guess", "other", "unused"}
	orig := tempSuffix
	tempSuffix = func() (string, error) {
		s := guessed[0]
		guessed = guessed[1:]
		return s, nil
	}
	t.Cleanup(func() { tempSuffix = orig })
	link := filepath.Join(dir, ".kubelet.conf.tmp-guess")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched" {
		t.Errorf("the symlink was followed: victim holds %q", b)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted symlink was replaced: %v %v", fi, err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "secret" {
		t.Errorf("target %q, %v", b, err)
	}
	if len(guessed) != 1 {
		t.Errorf("took %d names, want 2: the guessed one, refused, and another", 3-len(guessed))
	}
}

// TestAFailedWriteLeavesTheTargetAndNoTempFile: a rename that cannot
// happen (the target is a directory) keeps the old target and removes the
// temp file.
func TestAFailedWriteLeavesTheTargetAndNoTempFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("x"), 0o600); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "busy" || !entries[0].IsDir() {
		t.Errorf("directory holds %v, want only busy/", entries)
	}
}

// TestCleanupAfterCommitKeepsTheFile: the deferred Cleanup of a committed
// replacement removes nothing.
func TestCleanupAfterCommitKeepsTheFile(t *testing.T) {
	target := filepath.Join(t.TempDir(), "f")
	p, err := New(target, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	p.Cleanup()
	if st, err := os.Stat(target); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("after Cleanup: %v, %v", st, err)
	}
}

// TestMkdirAllSyncsTheParentOfEachNewDirectory: a directory created for a
// file (/var/lib/add2tkectl for state.json) is itself made durable.
func TestMkdirAllSyncsTheParentOfEachNewDirectory(t *testing.T) {
	base := t.TempDir()
	var synced []string
	orig := syncDir
	syncDir = func(d string) error { synced = append(synced, d); return orig(d) }
	t.Cleanup(func() { syncDir = orig })
	if err := MkdirAll(filepath.Join(base, "var/lib/add2tkectl"), 0o700); err != nil {
		t.Fatal(err)
	}
	want := []string{base, filepath.Join(base, "var"), filepath.Join(base, "var/lib")}
	if !slices.Equal(synced, want) {
		t.Errorf("synced %q, want %q", synced, want)
	}
	synced = nil
	if err := MkdirAll(filepath.Join(base, "var/lib/add2tkectl"), 0o700); err != nil || len(synced) != 0 {
		t.Errorf("existing directory: synced %q, %v; want nothing", synced, err)
	}
	if st, err := os.Stat(filepath.Join(base, "var/lib/add2tkectl")); err != nil || !st.IsDir() {
		t.Errorf("%v %v", st, err)
	}
}
