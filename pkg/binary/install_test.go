package binary

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/internal/artifacttest"
	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

func TestMembersAreFoundByUniqueSuffix(t *testing.T) {
	dir := t.TempDir()
	art := map[string]string{"c": artifacttest.TarGz(t, dir, "c.tgz", map[string]string{
		"containerd-1.7/bin/containerd": "A", "containerd-1.7/bin/ctr": "B", "top": "T",
	})}
	root := host.Root{Dir: t.TempDir()}
	p := Plan{Component: "c", Items: []Item{
		{Artifact: "c", From: "bin/containerd", Dst: "/usr/local/bin/containerd", Mode: 0o755},
		{Artifact: "c", From: "*", Dst: "/opt/x", Mode: 0o700},
	}}
	changed, err := p.Install(root, testrec.New(), art)
	if err != nil || len(changed) != 2 {
		t.Fatalf("Install = %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(root.Path("/usr/local/bin/containerd")); string(b) != "A" {
		t.Errorf("containerd = %q", b)
	}
	if st, err := os.Stat(root.Path("/opt/x/top")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("top-level member: %v", err)
	}
	p.Items = append(p.Items, Item{Artifact: "c", From: "nothere", Dst: "/x", Mode: 0o755})
	if _, err := p.Install(root, testrec.New(), art); err == nil || !strings.Contains(err.Error(), "0 files named nothere") {
		t.Errorf("missing member: err = %v", err)
	}
}

// leftovers lists what is beside the artifact besides itself: the
// extraction directory must be gone after Install, whatever happened.
func leftovers(t *testing.T, src string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(src))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != filepath.Base(src) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Install extracts with the one hardened extractor (pkg/artifact): what
// escapes, links out, device nodes and bombs are refused, not skipped.
func TestInstallRefusesArchivesThatEscapeLinkOutCarryDevicesOrExplode(t *testing.T) {
	ok := artifacttest.Entry{Name: "bin/containerd", Body: "A", Mode: 0o755}
	cases := []struct {
		name string
		bad  artifacttest.Entry
		want string
	}{
		{"dotdot", artifacttest.Entry{Name: "../evil", Body: "x"}, "'..'"},
		{"absolute", artifacttest.Entry{Name: "/etc/evil", Body: "x"}, "absolute"},
		{"dotdot inside", artifacttest.Entry{Name: "a/../../evil", Body: "x"}, "'..'"},
		{"symlink escape", artifacttest.Entry{Name: "bin/etc", Type: tar.TypeSymlink, Link: "../../../../etc"}, "outside"},
		{"absolute symlink", artifacttest.Entry{Name: "bin/etc", Type: tar.TypeSymlink, Link: "/etc"}, "absolute"},
		{"hard link escape", artifacttest.Entry{Name: "bin/passwd", Type: tar.TypeLink, Link: "../../etc/passwd"}, "outside the archive"},
		{"char device", artifacttest.Entry{Name: "bin/null", Type: tar.TypeChar}, "device"},
		{"block device", artifacttest.Entry{Name: "bin/sda", Type: tar.TypeBlock}, "device"},
		// 5 GiB of zeros, declared by the header; the archive is a few bytes.
		{"size bomb", artifacttest.Entry{Name: "bin/zeros", Body: "\x00\x00\x00\x00", Size: 5 << 30}, "beyond 4.0 GiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := artifacttest.TarGzOf(t, dir, "c.tgz", ok, tc.bad)
			if st, _ := os.Stat(src); st.Size() > 64<<10 {
				t.Fatalf("test archive is %d bytes; a bomb must be small", st.Size())
			}
			root := host.Root{Dir: t.TempDir()}
			p := Plan{Component: "c", Items: []Item{{Artifact: "c", From: "bin/containerd", Dst: "/usr/local/bin/containerd", Mode: 0o755}}}
			_, err := p.Install(root, testrec.New(), map[string]string{"c": src})
			var ae *artifact.Error
			if !errors.As(err, &ae) || ae.Op != "extract" {
				t.Fatalf("Install = %v, want an extract *artifact.Error (exit 4)", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if _, err := os.Stat(root.Path("/usr/local/bin/containerd")); !os.IsNotExist(err) {
				t.Error("a refused archive installed a file")
			}
			if l := leftovers(t, src); len(l) != 0 {
				t.Errorf("left beside the artifact: %v", l)
			}
		})
	}
}

// The archive unpacks beside the artifact (the cache's filesystem), not in
// $TMPDIR, and keeps no setuid/setgid bit.
func TestInstallExtractsBesideTheArtifactWithoutSetuidBits(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "no-such-tmpfs"))
	dir := t.TempDir()
	src := artifacttest.TarGzOf(t, dir, "c.tgz",
		artifacttest.Entry{Name: "bin/containerd", Body: "A", Mode: 0o4755},
		artifacttest.Entry{Name: "bin/ctr", Body: "B", Mode: 0o2755},
		artifacttest.Entry{Name: "bin/ctr.link", Type: tar.TypeSymlink, Link: "ctr"},
	)
	root := host.Root{Dir: t.TempDir()}
	p := Plan{Component: "c", Items: []Item{
		{Artifact: "c", From: "bin/containerd", Dst: "/usr/local/bin/containerd", Mode: 0o755},
		{Artifact: "c", From: "bin/ctr", Dst: "/usr/local/bin/ctr", Mode: 0o755}}}
	if _, err := p.Install(root, testrec.New(), map[string]string{"c": src}); err != nil {
		t.Fatalf("Install with TMPDIR unusable: %v", err)
	}
	for _, f := range []string{"/usr/local/bin/containerd", "/usr/local/bin/ctr"} {
		st, err := os.Stat(root.Path(f))
		if err != nil || st.Mode() != 0o755 {
			t.Errorf("%s: %v, mode %v; want 0755 without setuid/setgid", f, err, st.Mode())
		}
	}
	if l := leftovers(t, src); len(l) != 0 {
		t.Errorf("left beside the artifact: %v", l)
	}
}

// A binary is copied through a temp file beside its target: $TMPDIR on the
// same filesystem (where a rename would work) is still never used.
func TestInstallCopiesBinariesWithoutTouchingTMPDIR(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	src := filepath.Join(dir, "kubelet")
	if err := os.WriteFile(src, []byte("kubelet"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := host.Root{Dir: t.TempDir()}
	p := Plan{Component: "k", Items: []Item{{Artifact: "k", Dst: "/usr/bin/kubelet", Mode: 0o755}}}
	watch := make(chan []string)
	stop := make(chan struct{})
	go func() {
		var seen []string
		for {
			select {
			case <-stop:
				watch <- seen
				return
			default:
			}
			if es, _ := os.ReadDir(tmp); len(es) > 0 {
				seen = append(seen, es[0].Name())
			}
		}
	}()
	for i := 0; i < 20; i++ {
		_ = os.Remove(root.Path("/usr/bin/kubelet"))
		if _, err := p.Install(root, testrec.New(), map[string]string{"k": src}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if seen := <-watch; len(seen) > 0 {
		t.Errorf("temp files in $TMPDIR while installing: %v", seen)
	}
	if st, err := os.Stat(root.Path("/usr/bin/kubelet")); err != nil || st.Mode() != 0o755 {
		t.Errorf("kubelet: %v, mode %v", err, st.Mode())
	}
}

func TestStampTrustsStatOnlyWhenUnchanged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := SumFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Matches(p); !ok {
		t.Error("unchanged file does not match")
	}
	// Same size, new content: the mtime moved, so it is hashed again.
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Matches(p); ok {
		t.Error("changed content matches")
	}
}

// The archives of a plan unpack together; one that is refused leaves the
// host without any file of the plan, not with the other archive's.
func TestOneRefusedArchiveInstallsNothingOfThePlan(t *testing.T) {
	dir := t.TempDir()
	good := artifacttest.TarGz(t, dir, "cni.tgz", map[string]string{"bridge": "B", "loopback": "L"})
	bad := artifacttest.TarGzOf(t, dir, "c.tgz",
		artifacttest.Entry{Name: "bin/containerd", Body: "A", Mode: 0o755},
		artifacttest.Entry{Name: "../evil", Body: "x"})
	root := host.Root{Dir: t.TempDir()}
	rec := testrec.New()
	p := Plan{Component: "c", Items: []Item{
		{Artifact: "cni", From: "*", Dst: "/opt/cni/bin", Mode: 0o755},
		{Artifact: "c", From: "bin/containerd", Dst: "/usr/local/bin/containerd", Mode: 0o755},
	}}
	if _, err := p.Install(root, rec, map[string]string{"cni": good, "c": bad}); err == nil || !strings.Contains(err.Error(), "'..'") {
		t.Fatalf("Install = %v, want the refusal of c.tgz", err)
	}
	if ents, _ := os.ReadDir(root.Path("/opt/cni/bin")); len(ents) != 0 || len(rec.Files) != 0 {
		t.Errorf("installed %v, recorded %v; want nothing", ents, rec.Files)
	}
	if l := leftovers(t, good); len(l) != 1 || l[0] != "c.tgz" {
		t.Errorf("left beside the artifacts: %v, want only the other artifact", l)
	}
}

// The sum copyFile records is the one of the bytes it wrote, hashed once
// while copying.
func TestCopyFileRecordsTheSumOfWhatItWrote(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "kubelet")
	body := strings.Repeat("kubelet ", 1<<16)
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	root := host.Root{Dir: t.TempDir()}
	rec := testrec.New()
	changed, sum, err := copyFile(root, rec, "/usr/bin/kubelet", src, 0o755)
	if err != nil || !changed {
		t.Fatalf("copyFile = %v, %v", changed, err)
	}
	want, err := SumFile(root.Path("/usr/bin/kubelet"))
	if err != nil {
		t.Fatal(err)
	}
	if sum != want || rec.Files["/usr/bin/kubelet"] != want.SHA256 {
		t.Errorf("sum %+v, recorded %q; want %+v", sum, rec.Files["/usr/bin/kubelet"], want)
	}
	// Again: identical, untouched, recorded the same.
	if changed, again, err := copyFile(root, rec, "/usr/bin/kubelet", src, 0o755); err != nil || changed || again.SHA256 != want.SHA256 {
		t.Errorf("second copyFile = %v, %+v, %v; want unchanged", changed, again, err)
	}
}

// An archive the download phase already unpacked is installed from that
// directory (not unpacked again), and its refusal there is the plan's.
func TestInstallTakesArchivesUnpackedAhead(t *testing.T) {
	dir := t.TempDir()
	good := artifacttest.TarGz(t, dir, "cni.tgz", map[string]string{"bridge": "B"})
	bad := artifacttest.TarGzOf(t, dir, "c.tgz", artifacttest.Entry{Name: "../evil", Body: "x"})
	u := artifact.NewUnpacks(t.Context())
	defer u.Close()
	u.Start(good)
	u.Start(bad)
	// Once unpacked, a file is planted in the directory: a plan that
	// unpacked the archive again would not install it.
	unpacked := artifact.UnpackDir(good)
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(unpacked, "bridge")); err == nil {
			break
		}
		if i == 500 {
			t.Fatal("cni.tgz was not unpacked ahead within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(unpacked, "ahead"), []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := host.Root{Dir: t.TempDir()}
	p := Plan{Component: "c", Unpacked: u, Items: []Item{{Artifact: "cni", From: "*", Dst: "/opt/cni/bin", Mode: 0o755}}}
	if _, err := p.Install(root, testrec.New(), map[string]string{"cni": good}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"bridge", "ahead"} {
		if _, err := os.Stat(root.Path("/opt/cni/bin/" + f)); err != nil {
			t.Errorf("%s from the directory unpacked ahead: %v", f, err)
		}
	}
	q := Plan{Component: "c", Unpacked: u, Items: []Item{{Artifact: "c", From: "*", Dst: "/opt/c", Mode: 0o755}}}
	if _, err := q.Install(root, testrec.New(), map[string]string{"c": bad}); err == nil || !strings.Contains(err.Error(), "'..'") {
		t.Errorf("Install of an archive refused while unpacked ahead = %v, want the refusal", err)
	}
	if l := leftovers(t, bad); len(l) != 1 || l[0] != "cni.tgz" {
		t.Errorf("left beside the artifacts: %v", l)
	}
}

// A file of the artifact cache is named by its verified sha256: copyFile
// takes the sum from the name (the kernel copies the bytes) and the copy
// has that content.
func TestCopyFileOfACacheFileTakesTheSumFromItsName(t *testing.T) {
	dir := t.TempDir()
	body := []byte(strings.Repeat("kubectl ", 1<<16))
	sum := sha256.Sum256(body)
	src := filepath.Join(dir, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(src, body, 0o600); err != nil {
		t.Fatal(err)
	}
	root := host.Root{Dir: t.TempDir()}
	rec := testrec.New()
	changed, got, err := copyFile(root, rec, "/usr/local/bin/kubectl", src, 0o755)
	if err != nil || !changed {
		t.Fatalf("copyFile = %v, %v", changed, err)
	}
	want, err := SumFile(root.Path("/usr/local/bin/kubectl"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want || want.SHA256 != filepath.Base(src) || rec.Files["/usr/local/bin/kubectl"] != want.SHA256 {
		t.Errorf("sum %+v, recorded %q; want %+v named %s", got, rec.Files["/usr/local/bin/kubectl"], want, filepath.Base(src))
	}
	if st, err := os.Stat(root.Path("/usr/local/bin/kubectl")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("installed mode: %v, %v", st, err)
	}
	if changed, _, err := copyFile(root, rec, "/usr/local/bin/kubectl", src, 0o755); err != nil || changed {
		t.Errorf("second copyFile = %v, %v; want unchanged", changed, err)
	}
}

// batchRec records in batches and checks, when it is called, that no file
// it records is in place yet: the journal must list a file before it lands.
type batchRec struct {
	*testrec.Recorder
	t       *testing.T
	root    host.Root
	batches int
}

func (b *batchRec) Files(recs []phase.FileRecord) error {
	b.batches++
	for _, f := range recs {
		if _, err := os.Stat(b.root.Path(f.Path)); err == nil {
			b.t.Errorf("%s was in place before the journal listed it", f.Path)
		}
		if err := b.File(f.Path, f.SHA256); err != nil {
			return err
		}
	}
	return nil
}

// A plan's new files are recorded in one journal write, before any of them
// is renamed into place; a failure to record installs none of them.
func TestAPlansFilesAreRecordedAtOnceBeforeTheyLand(t *testing.T) {
	dir := t.TempDir()
	cni := artifacttest.TarGz(t, dir, "cni.tgz", map[string]string{"bridge": "B", "loopback": "L", "host-local": "H"})
	root := host.Root{Dir: t.TempDir()}
	p := Plan{Component: "c", Items: []Item{{Artifact: "cni", From: "*", Dst: "/opt/cni/bin", Mode: 0o755}}}
	// An older bridge is there: it is recorded alone, just before its
	// rename (batchRec fails a batch listing a file already in place).
	if err := os.MkdirAll(root.Path("/opt/cni/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/opt/cni/bin/bridge"), []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := &batchRec{Recorder: testrec.New(), t: t, root: root}
	changed, err := p.Install(root, rec, map[string]string{"cni": cni})
	if err != nil || len(changed) != 3 {
		t.Fatalf("Install = %v, %v; want 3 files", changed, err)
	}
	for _, f := range []string{"bridge", "loopback", "host-local"} {
		if _, ok := rec.Recorder.Files["/opt/cni/bin/"+f]; !ok {
			t.Errorf("%s not recorded", f)
		}
	}
	if rec.batches != 1 {
		t.Errorf("%d journal writes for the plan's files; want one", rec.batches)
	}
	fresh := host.Root{Dir: t.TempDir()}
	if _, err := p.Install(fresh, failingRec{testrec.New()}, map[string]string{"cni": cni}); err == nil {
		t.Fatal("Install with a journal that cannot record succeeded")
	}
	if ents, _ := os.ReadDir(fresh.Path("/opt/cni/bin")); len(ents) != 0 {
		t.Errorf("a failed record left %v in place (temp files included)", ents)
	}
}

type failingRec struct{ *testrec.Recorder }

func (failingRec) Files([]phase.FileRecord) error { return errors.New("journal full") }
