package uninstall

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/docker"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// These tests put an operator's data where uninstall goes — behind
// symlinks, bind-mounted into the kubelet's pods, in a data dir the
// configuration names only since install — and check that it survives
// byte for byte with its modes.

// bind bind-mounts src on dst (created), unmounted at the end of the test.
func bind(t *testing.T, src, dst string) {
	t.Helper()
	needMount(t)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not permitted here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dst, unix.MNT_DETACH) })
}

// operatorData makes a directory of an operator's files (a local PV) at the
// host path dir under root and returns its snapshot.
func operatorData(t *testing.T, root, dir string) map[string]string {
	t.Helper()
	full := filepath.Join(root, dir)
	for p, mode := range map[string]os.FileMode{"pv.img": 0o640, "sub/notes.txt": 0o600, "run.sh": 0o755} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(full, p)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(full, p), []byte("operator's "+p+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(full, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	return snapshot(t, full)
}

func mounted(t *testing.T, p string) bool {
	t.Helper()
	all, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Point == p {
			return true
		}
	}
	return false
}

// symlinkedKubelet is a host where the operator moved the kubelet's root to
// a data disk before install: /var/lib/kubelet -> ../../data/kubelet.
func symlinkedKubelet(f *fixture) {
	if err := os.MkdirAll(f.root.Path("/data/kubelet"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(f.root.Path("/var/lib"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink("../../data/kubelet", f.root.Path("/var/lib/kubelet")); err != nil {
		f.t.Fatal(err)
	}
}

const localPV = "/data/kubelet/pods/uid2/volumes/kubernetes.io~local-volume/pv1"

func checkKubeletSymlinkKept(t *testing.T, f *fixture, link string) {
	t.Helper()
	if got, err := os.Readlink(f.root.Path("/var/lib/kubelet")); err != nil || got != link {
		t.Errorf("/var/lib/kubelet is %q (%v), want the operator's symlink to %s kept", got, err, link)
	}
	des, err := os.ReadDir(f.root.Path("/data/kubelet"))
	if err != nil {
		t.Fatalf("the kubelet's real root is gone: %v", err)
	}
	for _, de := range des {
		t.Errorf("left in the kubelet's root: %s", de.Name())
	}
}

func TestUninstallDoesNotDescendIntoABindMountReachedThroughASymlink(t *testing.T) {
	needMount(t)
	f := newFixtureWith(t, fixtureOptions{before: symlinkedKubelet})
	want := operatorData(t, f.root.Dir, "/srv/pv1")
	bind(t, f.root.Path("/srv/pv1"), f.root.Path(localPV))
	if res, _, err := f.run(false); err != nil {
		t.Fatalf("uninstall: %v\n%+v", err, res)
	}
	if diff := cmp.Diff(want, snapshot(t, f.root.Path("/srv/pv1"))); diff != "" {
		t.Fatalf("the operator's data bound into a pod changed (-before +after):\n%s", diff)
	}
	if mounted(t, f.root.Path(localPV)) {
		t.Error("the pod's bind mount is still mounted")
	}
	checkKubeletSymlinkKept(t, f, "../../data/kubelet")
}

// Under --root DIR, an absolute symlink means DIR/data/kubelet, as it will
// on the host the root becomes: never the machine's own /data.
func TestUninstallResolvesAnAbsoluteSymlinkInsideTheRoot(t *testing.T) {
	needMount(t)
	f := newFixtureWith(t, fixtureOptions{before: symlinkedKubelet})
	if err := os.Remove(f.root.Path("/var/lib/kubelet")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/data/kubelet", f.root.Path("/var/lib/kubelet")); err != nil {
		t.Fatal(err)
	}
	want := operatorData(t, f.root.Dir, "/srv/pv1")
	bind(t, f.root.Path("/srv/pv1"), f.root.Path(localPV))
	if res, _, err := f.run(false); err != nil {
		t.Fatalf("uninstall: %v\n%+v", err, res)
	}
	if diff := cmp.Diff(want, snapshot(t, f.root.Path("/srv/pv1"))); diff != "" {
		t.Fatalf("the operator's data changed (-before +after):\n%s", diff)
	}
	checkKubeletSymlinkKept(t, f, "/data/kubelet")
}

// --root may itself be a symlink (/mnt/image -> /srv/images/node1).
func TestUninstallThroughASymlinkedRootDir(t *testing.T) {
	needMount(t)
	f := newFixture(t)
	real := f.root.Dir
	want := operatorData(t, real, "/srv/pv1")
	bind(t, filepath.Join(real, "srv/pv1"), filepath.Join(real, "var/lib/kubelet/pods/uid2/volumes/kubernetes.io~local-volume/pv1"))
	link := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	f.root = host.Root{Dir: link}
	if res, _, err := f.run(false); err != nil {
		t.Fatalf("uninstall: %v\n%+v", err, res)
	}
	if diff := cmp.Diff(want, snapshot(t, filepath.Join(real, "srv/pv1"))); diff != "" {
		t.Fatalf("the operator's data changed (-before +after):\n%s", diff)
	}
	if f.exists("/var/lib/kubelet") {
		t.Error("the kubelet's root install created is still there")
	}
}

// RemoveAll, reached through a symlink, refuses the same-filesystem bind
// mount below, before deleting anything.
func TestRemoveAllRefusesABindMountReachedThroughASymlink(t *testing.T) {
	needMount(t)
	base := t.TempDir()
	want := operatorData(t, base, "/srv/pv1")
	victim := filepath.Join(base, "data", "kubelet")
	bind(t, filepath.Join(base, "srv/pv1"), filepath.Join(victim, "pods/p/volumes/v"))
	if err := os.WriteFile(filepath.Join(victim, "pods/p/other"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "data"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	var mb *ErrMountBelow
	if err := RemoveAll(filepath.Join(base, "link", "kubelet", "pods")); !errors.As(err, &mb) {
		t.Fatalf("RemoveAll = %v, want ErrMountBelow", err)
	}
	if diff := cmp.Diff(want, snapshot(t, filepath.Join(base, "srv/pv1"))); diff != "" {
		t.Fatalf("the bound data changed (-before +after):\n%s", diff)
	}
}

// A bind mount that mountinfo does not list under the path the walk meets
// it by (another mount namespace's view, a path mountinfo spells
// differently) is still found: by the mount-root attribute, and on kernels
// without it by the device and inode of the mounts of the same filesystem.
func TestMountPointOfTheSameFilesystemIsFoundWithoutItsPath(t *testing.T) {
	needMount(t)
	base := t.TempDir()
	operatorData(t, base, "/srv/pv1")
	target := filepath.Join(base, "kubelet/pods/p/volumes/v")
	bind(t, filepath.Join(base, "srv/pv1"), target)
	all, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(target, &st); err != nil {
		t.Fatal(err)
	}
	var parent unix.Stat_t
	if err := unix.Lstat(filepath.Dir(target), &parent); err != nil {
		t.Fatal(err)
	}
	if st.Dev != parent.Dev {
		t.Skip("the bind mount shows another device here; the case is the same filesystem")
	}
	for _, noStatx := range []bool{false, true} {
		ms := newMountSet(all)
		delete(ms.points, target)
		ms.noStatx = noStatx
		if !ms.isMountPoint(target, &st, parent.Dev) {
			t.Errorf("noStatx=%v: the bind mount at %s is not seen as a mount point", noStatx, target)
		}
		if ms.isMountPoint(filepath.Dir(target), &parent, parent.Dev) {
			t.Errorf("noStatx=%v: its parent is seen as a mount point", noStatx)
		}
	}
}

func TestRealPathResolvesInsideTheRoot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"data/kubelet", "var/lib", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"var/lib/kubelet": "/data/kubelet",
		"var/lib/up":      "../../../../../etc", // .. stops at the root
		"var/lib/loop":    "loop",
		"var/lib/rel":     "kubelet/pods",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	rootLink := filepath.Join(t.TempDir(), "r")
	if err := os.Symlink(root, rootLink); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/var/lib/kubelet/pods/x": "/data/kubelet/pods/x",
		"/var/lib/up/passwd":      "/etc/passwd",
		"/var/lib/rel":            "/data/kubelet/pods",
		"/var/lib/loop/x":         "/var/lib/loop/x",
		"/missing/../etc":         "/missing/../etc",
		"/":                       "/",
	} {
		for _, r := range []string{root, rootLink} {
			if got := realPath(r, in); got != filepath.Join(root, want) {
				t.Errorf("realPath(%s, %s) = %s, want %s", r, in, got, filepath.Join(root, want))
			}
		}
	}
}

// configWithDataDir loads the configuration as the command does, with the
// data dir changed since install by the environment or by --set.
func configWithDataDir(t *testing.T, how, dir string) *config.NodePoolJoin {
	t.Helper()
	o := config.Options{Environ: []string{"ADD2TKE_NODEPOOL_RUNTIME_KIND=containerd"}}
	switch how {
	case "env":
		o.Environ = append(o.Environ, "ADD2TKE_NODEPOOL_RUNTIME_DATADIR="+dir)
	case "set":
		o.Sets = []string{"nodePool.runtime.dataDir=" + dir}
	}
	l, err := config.Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.NodePool.Runtime.DataDir != dir {
		t.Fatalf("the configuration's data dir is %q, want %q", l.Config.NodePool.Runtime.DataDir, dir)
	}
	return l.Config
}

// The data dir install gave the runtime is the one uninstall empties; a
// directory the configuration names only since (a new bundle, the
// environment, --set) is the operator's, even with runtime-like names in it.
func TestUninstallEmptiesOnlyTheDataDirInstallRecorded(t *testing.T) {
	for _, how := range []string{"env", "set"} {
		t.Run(how, func(t *testing.T) {
			f := newFixture(t)
			f.cfg = configWithDataDir(t, how, "/srv/operator")
			operatorData(t, f.root.Dir, "/srv/operator")
			for _, n := range []string{"io.containerd.content.v1.content/blob", "tmpmounts/m"} {
				f.write("/srv/operator/"+n, "operator's")
			}
			if err := os.Chmod(f.root.Path("/srv/operator"), 0o755); err != nil {
				t.Fatal(err)
			}
			want := snapshot(t, f.root.Path("/srv/operator"))
			if _, _, err := f.run(false); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, snapshot(t, f.root.Path("/srv/operator"))); diff != "" {
				t.Errorf("a directory install never gave the runtime changed (-before +after):\n%s", diff)
			}
			if f.exists("/var/lib/containerd") {
				t.Error("the data dir install recorded is still there")
			}
		})
	}
}

// With --keep-data, the recorded data dir is kept, not the configured one
// (which is not touched either way).
func TestKeepDataKeepsTheRecordedDataDir(t *testing.T) {
	f := newFixture(t)
	f.cfg = configWithDataDir(t, "env", "/srv/operator")
	if _, _, err := f.run(false, func(d *Deps) { d.KeepData = true }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(f.root.Path("/var/lib/containerd/io.containerd.content.v1.content/blob")); err != nil || string(b) != "layer" {
		t.Fatalf("the recorded data dir was not kept: %q %v", b, err)
	}
}

// A journal written before the data dir was recorded: a data dir install
// did not create is left as it is, and the log says so.
func TestOldJournalLeavesADataDirInstallDidNotCreate(t *testing.T) {
	f := newFixtureWith(t, fixtureOptions{dataDir: "none", before: func(f *fixture) {
		f.write("/data/containerd/lost+found/x", "fsck")
	}})
	f.cfg = testConfig("/data/containerd")
	f.write("/data/containerd/io.containerd.metadata.v1.bolt/meta.db", "bolt")
	want := snapshot(t, f.root.Path("/data/containerd"))
	_, u, err := f.run(false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, snapshot(t, f.root.Path("/data/containerd"))); diff != "" {
		t.Errorf("a data dir the journal does not record changed (-before +after):\n%s", diff)
	}
	said := false
	for _, w := range u.Report().Warnings {
		said = said || (strings.Contains(w, "older add2tkectl") && strings.Contains(w, "/data/containerd"))
	}
	if !said {
		t.Errorf("no warning about the data dir left alone: %q", u.Report().Warnings)
	}
}

// Docker's data dir on a disk that held the operator's "tmp" and "volumes"
// before install: those stay, docker's own entries go.
func TestDockerDataDirKeepsWhatWasThereBeforeInstall(t *testing.T) {
	dir := t.TempDir()
	root := host.Root{Dir: dir}
	opTmp := operatorData(t, dir, "/data/tmp")
	opVolumes := operatorData(t, dir, "/data/volumes")
	inst := phase.Phase{Name: "runtime", Run: func(_ context.Context, rec phase.Recorder) error {
		if err := install.RecordDataDir(root, "/data", rec); err != nil {
			return err
		}
		if _, err := root.WriteFile(rec, systemd.UnitPath(docker.DockerService), []byte("[Service]\n"), 0o644); err != nil {
			return err
		}
		return rec.Unit(docker.DockerService)
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{inst}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/data/overlay2/l/x", "/data/image/overlay2/repositories.json", "/data/containers/c1/config.v2.json", "/data/tmp/docker-build"} {
		if err := os.MkdirAll(filepath.Dir(root.Path(p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(p), []byte("docker"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys := systemdtest.NewFake(dir)
	c := testConfig("/var/lib/docker")
	c.NodePool.Runtime.Kind = config.RuntimeDocker
	u := New(Deps{Root: root, Log: quietLog(), Journal: j, Config: c, NodeName: "node1",
		Systemd:    func(context.Context) (systemd.Manager, error) { return sys, nil },
		Containers: func(string) component.ContainerRemover { return &fakeContainers{down: true} },
	})
	if _, err := phase.Run(context.Background(), u.Steps(), phase.Options{Root: dir, NoJournal: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/data/overlay2", "/data/image", "/data/containers"} {
		if _, err := os.Lstat(root.Path(p)); err == nil {
			t.Errorf("docker's %s kept", p)
		}
	}
	if diff := cmp.Diff(opVolumes, snapshot(t, root.Path("/data/volumes"))); diff != "" {
		t.Errorf("the operator's /data/volumes changed (-before +after):\n%s", diff)
	}
	got := snapshot(t, root.Path("/data/tmp"))
	delete(got, "/docker-build") // what docker added to it is left with it
	if diff := cmp.Diff(opTmp, got); diff != "" {
		t.Errorf("the operator's /data/tmp changed (-before +after):\n%s", diff)
	}
}

// A user-script directory that existed before install (the operator staged
// files there) keeps them; what install wrote in it goes.
func TestUninstallKeepsTheOperatorsFilesInAPreexistingUserScriptDir(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("needs bash")
	}
	f := newFixture(t)
	operatorData(t, f.root.Dir, userscript.Dir)
	if err := os.Chmod(f.root.Path(userscript.Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, f.root.Path(userscript.Dir))
	cfg := *f.cfg
	cfg.NodePool.UserScript = "#!/bin/bash\necho configured\n"
	run := phase.Phase{Name: "userscript", Run: func(ctx context.Context, rec phase.Recorder) error {
		return userscript.Run(ctx, userscript.Deps{Root: f.root, Config: &cfg, NodeName: "node1"}, rec)
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{run}, phase.Options{Root: f.root.Dir}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.run(false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, snapshot(t, f.root.Path(userscript.Dir))); diff != "" {
		t.Errorf("the user-script directory is not as the operator had it (-before +after):\n%s", diff)
	}
}
