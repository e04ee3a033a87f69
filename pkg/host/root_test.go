package host

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// TestWriteFileNeverShowsASecretWithAWiderMode: rewriting a secret over an
// existing 0644 file (an old bootstrap-kubelet.conf), no directory entry
// that anyone can open ever holds the secret with a mode wider than 0600 —
// not the temp file, not the target between rename and chmod — no byte
// goes to $TMPDIR, and symlinks planted at names a writer might pick are
// not followed.
func TestWriteFileNeverShowsASecretWithAWiderMode(t *testing.T) {
	tmpdir := t.TempDir()
	t.Setenv("TMPDIR", tmpdir)
	root := Root{Dir: t.TempDir()}
	const p = "/etc/kubernetes/bootstrap-kubelet.conf"
	full := root.Path(p)
	dir := filepath.Dir(full)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(full, 0o644); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("untouched\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	planted := []string{full + ".tmp", full + ".new", full + "~", filepath.Join(dir, ".bootstrap-kubelet.conf"), filepath.Join(dir, ".bootstrap-kubelet.conf.tmp")}
	for _, s := range planted {
		if err := os.Symlink(victim, s); err != nil {
			t.Fatal(err)
		}
	}

	const secret = "0123456789abcdef"
	var (
		mu     sync.Mutex
		leaks  []string
		stop   = make(chan struct{})
		polled int
	)
	watch := func(d string) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			f, err := os.OpenFile(filepath.Join(d, e.Name()), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				continue // renamed away, or a planted symlink
			}
			st, serr := f.Stat()
			b, _ := io.ReadAll(f)
			_ = f.Close()
			if serr == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 && bytes.Contains(b, []byte(secret)) {
				mu.Lock()
				leaks = append(leaks, fmt.Sprintf("%s at %v", filepath.Join(d, e.Name()), st.Mode().Perm()))
				mu.Unlock()
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			watch(dir)
			watch(tmpdir)
			polled++
		}
	}()
	rec := testrec.New()
	const writes = 300
	for i := 0; i < writes; i++ {
		// Large enough that a write takes a while to watch.
		data := bytes.Repeat([]byte(fmt.Sprintf("token: abcdef.%s # %d\n", secret, i)), 2000)
		if _, err := root.WriteFile(rec, p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()

	if len(leaks) > 0 {
		t.Errorf("%d of %d polls saw the secret with a mode wider than 0600 (first: %s)", len(leaks), polled, leaks[0])
	}
	if st, err := os.Stat(full); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("final mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if entries, _ := os.ReadDir(tmpdir); len(entries) > 0 {
		t.Errorf("$TMPDIR holds %d entries (first %s): temp files belong beside the target", len(entries), entries[0].Name())
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
		t.Errorf("a planted symlink was followed: the victim now holds %d bytes", len(b))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1+len(planted) {
		t.Errorf("%d entries beside the target, want the target and the %d planted links: a temp file was left", len(entries), len(planted))
	}
}

// TestWriteFileMakesTheModeExactWhateverTheUmask: a umask that removes
// group and other read still gives a 0644 unit file its 0644, and a 0600
// file stays 0600 under umask 0.
func TestWriteFileMakesTheModeExactWhateverTheUmask(t *testing.T) {
	root := Root{Dir: t.TempDir()}
	for _, tc := range []struct {
		umask int
		mode  os.FileMode
	}{{0o077, 0o644}, {0, 0o600}, {0o022, 0o700}} {
		old := syscall.Umask(tc.umask)
		p := fmt.Sprintf("/etc/umask-%o-%o", tc.umask, tc.mode)
		_, err := root.WriteFile(testrec.New(), p, []byte("x"), tc.mode)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(root.Path(p)); err != nil || st.Mode().Perm() != tc.mode {
			t.Errorf("umask %o, mode %v: got %v (%v)", tc.umask, tc.mode, st.Mode().Perm(), err)
		}
	}
}

// WriteAll records new files in one journal write before writing any; a
// file that replaces one already there is recorded only just before it is
// written, so a stopped run never lists (for uninstall to remove) a file it
// did not write.
func TestWriteAllRecordsAReplacedFileOnlyWhenItWritesIt(t *testing.T) {
	root := Root{Dir: t.TempDir()}
	if err := os.MkdirAll(root.Path("/etc/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	// /etc/b/x is the operator's; /etc/a/blocked cannot be written (its
	// parent is a dangling symlink), and comes first in path order.
	if err := os.WriteFile(root.Path("/etc/b/x"), []byte("operator's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere", root.Path("/etc/a")); err != nil {
		t.Fatal(err)
	}
	rec := &batches{Recorder: testrec.New()}
	_, err := root.WriteAll(rec, map[string]File{
		"/etc/a/blocked": {Data: []byte("1"), Mode: 0o644},
		"/etc/b/x":       {Data: []byte("ours"), Mode: 0o644},
		"/etc/c/new":     {Data: []byte("3"), Mode: 0o644},
	})
	if err == nil {
		t.Fatal("WriteAll under a dangling symlink succeeded")
	}
	if _, ok := rec.Recorder.Files["/etc/b/x"]; ok {
		t.Error("the operator's file was recorded though install never wrote over it")
	}
	if b, _ := os.ReadFile(root.Path("/etc/b/x")); string(b) != "operator's" {
		t.Errorf("the operator's file = %q", b)
	}
	if len(rec.batches) != 1 || len(rec.batches[0]) != 2 {
		t.Errorf("batches %v: want one, of the two new files", rec.batches)
	}

	// Unblocked, it is written and recorded; the new files are too.
	if err := os.Remove(root.Path("/etc/a")); err != nil {
		t.Fatal(err)
	}
	rec = &batches{Recorder: testrec.New()}
	changed, err := root.WriteAll(rec, map[string]File{
		"/etc/a/blocked": {Data: []byte("1"), Mode: 0o644},
		"/etc/b/x":       {Data: []byte("ours"), Mode: 0o644},
	})
	if err != nil || len(changed) != 2 || len(rec.Recorder.Files) != 2 {
		t.Errorf("WriteAll = %v, %v, recorded %v; want both written and recorded", changed, err, rec.Recorder.Files)
	}
}

// batches is a BatchRecorder that keeps each batch's paths.
type batches struct {
	*testrec.Recorder
	batches [][]string
}

func (b *batches) Files(recs []phase.FileRecord) error {
	var ps []string
	for _, f := range recs {
		ps = append(ps, f.Path)
		if err := b.File(f.Path, f.SHA256); err != nil {
			return err
		}
	}
	b.batches = append(b.batches, ps)
	return nil
}
