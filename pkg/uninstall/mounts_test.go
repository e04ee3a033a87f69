package uninstall

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnderOrdersDeepestFirst(t *testing.T) {
	all := []string{"/", "/var/lib/kubelet", "/var/lib/kubelet/pods/a/volumes/x", "/var/lib/kubeletX", "/var/lib/kubelet/pods/a", "/var/lib/kubelet"}
	got := under(all, "/var/lib/kubelet/")
	want := []string{"/var/lib/kubelet/pods/a/volumes/x", "/var/lib/kubelet/pods/a", "/var/lib/kubelet"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("under = %v, want %v", got, want)
	}
}

func TestMountPointsUnescapes(t *testing.T) {
	in := "36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n"
	got, err := mountPoints(strings.NewReader(in))
	if err != nil || len(got) != 1 || got[0] != "/mnt/with space" {
		t.Fatalf("mountPoints = %q, %v", got, err)
	}
}

func needMount(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
}

// A bind mount of a directory that must survive (an operator's data) placed
// under the directory being removed: RemoveAll refuses, UnmountUnder then
// RemoveAll deletes the directory and the bound data is untouched.
func TestRemoveAllNeverDeletesThroughABindMount(t *testing.T) {
	needMount(t)
	base := t.TempDir()
	precious := filepath.Join(base, "etc")
	if err := os.MkdirAll(precious, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(precious, "passwd"), []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(base, "kubelet")
	target := filepath.Join(victim, "pods", "p1", "volumes", "host")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(precious, target, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not permitted here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })

	var mb *ErrMountBelow
	if err := RemoveAll(victim); !errors.As(err, &mb) {
		t.Fatalf("RemoveAll with a mount below = %v, want ErrMountBelow", err)
	}
	if _, err := os.Stat(filepath.Join(precious, "passwd")); err != nil {
		t.Fatalf("bound data touched: %v", err)
	}
	done, err := UnmountUnder(victim)
	if err != nil || len(done) != 1 {
		t.Fatalf("UnmountUnder = %v, %v", done, err)
	}
	if err := RemoveAll(victim); err != nil {
		t.Fatalf("RemoveAll after unmount: %v", err)
	}
	if _, err := os.Stat(victim); !os.IsNotExist(err) {
		t.Fatalf("victim still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(precious, "passwd")); err != nil || string(b) != "root:x:0:0\n" {
		t.Fatalf("bound data changed: %q %v", b, err)
	}
}

func TestUnmountUnderHandlesStackedAndNested(t *testing.T) {
	needMount(t)
	dir := filepath.Join(t.TempDir(), "root")
	inner := filepath.Join(dir, "run", "shm")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("tmpfs mount not permitted here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // stacked twice on the same point
		if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := UnmountUnder(dir); err != nil {
		t.Fatal(err)
	}
	if ms, _ := MountsUnder(dir); len(ms) != 0 {
		t.Fatalf("left mounted: %v", ms)
	}
}

func TestTreeMountsKeepsOnlyTheBaseOfADirWeDidNotCreate(t *testing.T) {
	// 20 is the data disk at /data; 30 the kubelet's bind of it onto itself
	// (stacked); 40 an overlay below it; 50 a neighbour with a common prefix.
	in := `1 0 8:1 / / rw - ext4 /dev/sda1 rw
20 1 8:2 / /data rw - ext4 /dev/sdb rw
30 20 8:2 / /data rw - ext4 /dev/sdb rw
40 30 0:50 / /data/overlay2/x/merged rw - overlay overlay rw
50 1 0:51 / /data2 rw - tmpfs tmpfs rw
`
	all, err := parseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(treeMounts(all, "/data", true), ","), "/data/overlay2/x/merged,/data"; got != want {
		t.Errorf("keepBase: %s, want %s", got, want)
	}
	if got, want := strings.Join(treeMounts(all, "/data", false), ","), "/data/overlay2/x/merged,/data,/data"; got != want {
		t.Errorf("all: %s, want %s", got, want)
	}
}

// A directory install did not create that is a mount point (a data disk)
// keeps that mount; what is mounted on top and below goes.
func TestUnmountTreeKeepsTheOperatorsMount(t *testing.T) {
	needMount(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("tmpfs mount not permitted here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(dir, "disk-marker"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(dir, "overlay", "merged")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil { // stacked, as the kubelet does
		t.Fatal(err)
	}
	if _, err := UnmountTree(dir, true); err != nil {
		t.Fatal(err)
	}
	ms, _ := MountsUnder(dir)
	if len(ms) != 1 || ms[0] != dir {
		t.Fatalf("mounts left: %v, want only the base at %s", ms, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "disk-marker")); err != nil {
		t.Fatalf("the disk's content is gone: %v", err)
	}
}

// The kubelet binds its root onto itself. When that root is a directory
// install did not create (reached through a symlink, say) but not a mount
// point before, the bind is the kubelet's and goes; a data disk mounted
// there, or another directory bound there, stays.
func TestTreeMountsRemovesTheKubeletsBindOfItsRootOntoItself(t *testing.T) {
	in := `1 0 8:1 / / rw - ext4 /dev/sda1 rw
20 1 8:1 /data/kubelet /data/kubelet rw - ext4 /dev/sda1 rw
30 1 8:2 / /data/disk rw - ext4 /dev/sdb rw
40 1 8:1 /srv/elsewhere /data/bound rw - ext4 /dev/sda1 rw
50 30 8:2 /k /data/disk/k rw - ext4 /dev/sdb rw
`
	all, err := parseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		"/data/kubelet": "/data/kubelet", "/data/disk": "/data/disk/k", "/data/bound": "", "/data/disk/k": "/data/disk/k",
	} {
		if got := strings.Join(treeMounts(all, dir, true), ","); got != want {
			t.Errorf("treeMounts(%s, keepBase) = %q, want %q", dir, got, want)
		}
	}
}
