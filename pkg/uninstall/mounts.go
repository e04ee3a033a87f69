package uninstall

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// mountPoints returns the mount points listed in a mountinfo file, in order.
func mountPoints(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		out = append(out, unescapeMountPath(f[4]))
	}
	return out, sc.Err()
}

// unescapeMountPath undoes the octal escapes (\040 for space...) of mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountsUnder lists the mount points at or below dir (its symlinks
// resolved: mountinfo lists real paths), deepest first, read from
// /proc/self/mountinfo.
func MountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := mountPoints(f)
	if err != nil {
		return nil, err
	}
	return under(all, hostReal(dir)), nil
}

// hostReal resolves the symlinks in an existing host path; a path that does
// not exist (yet, or any more) is returned clean, its existing part resolved.
func hostReal(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if dir := filepath.Dir(p); dir != p {
		return filepath.Join(hostReal(dir), filepath.Base(p))
	}
	return p
}

// under keeps the mount points at or below dir, deepest (longest) first and
// each once, so children are unmounted before their parents.
func under(all []string, dir string) []string {
	dir = filepath.Clean(dir)
	seen := map[string]bool{}
	var out []string
	for _, m := range all {
		m = filepath.Clean(m)
		if (m == dir || strings.HasPrefix(m, dir+"/")) && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out
}

// UnmountUnder unmounts everything at or below dir, deepest first. A mount
// point stacked several times is unmounted until none is left.
func UnmountUnder(dir string) ([]string, error) {
	var done []string
	for attempt := 0; attempt < 16; attempt++ {
		ms, err := MountsUnder(dir)
		if err != nil {
			return done, err
		}
		if len(ms) == 0 {
			return done, nil
		}
		for _, m := range ms {
			if err := unix.Unmount(m, 0); err != nil && err != unix.EINVAL && err != unix.ENOENT {
				// Busy: detach it, so it disappears from the tree now.
				if err2 := unix.Unmount(m, unix.MNT_DETACH); err2 != nil {
					return done, fmt.Errorf("unmount %s: %w", m, err)
				}
			}
			done = append(done, m)
		}
	}
	return done, fmt.Errorf("mounts under %s keep coming back; stop what creates them and retry", dir)
}

// ErrMountBelow is returned when a directory to delete still has a mount
// under it: deleting would go through the mount into another filesystem.
type ErrMountBelow struct{ Dir, Mount string }

func (e *ErrMountBelow) Error() string {
	return fmt.Sprintf("refusing to delete %s: %s is a mount point under it; unmount it first (or, if it is yours, move it out of there) and run uninstall again", e.Dir, e.Mount)
}

// RemoveAll deletes path (a symlink is removed, not followed) and what is
// in it. It never descends into a mount point, whatever path reached it:
// the symlinks above path are resolved before mountinfo is read, and while
// deleting each directory is checked again (mountinfo by real path, the
// statx mount-root attribute, a device other than the tree's, and the
// device and inode of every mount point of the tree's filesystem, which
// is what gives away a bind mount of a directory of the same filesystem).
func RemoveAll(path string) error {
	path = filepath.Clean(path)
	path = filepath.Join(hostReal(filepath.Dir(path)), filepath.Base(path))
	all, err := readMountInfo()
	if err != nil {
		return err
	}
	ms := newMountSet(all)
	if below := under(ms.pointList(), path); len(below) > 0 {
		return &ErrMountBelow{Dir: path, Mount: below[len(below)-1]}
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return fmt.Errorf("stat %s: %w", path, err)
	}
	return ms.remove(path, &st, st.Dev)
}

// remove removes path (whose lstat is st) and, for a directory, its
// entries, refusing any directory that is a mount point.
func (ms *mountSet) remove(path string, st *unix.Stat_t, dev uint64) error {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if ms.isMountPoint(path, st, dev) {
			return &ErrMountBelow{Dir: filepath.Dir(path), Mount: path}
		}
		entries, err := os.ReadDir(path)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(path, e.Name())
			var est unix.Stat_t
			if err := unix.Lstat(p, &est); err != nil {
				if err == unix.ENOENT {
					continue
				}
				return fmt.Errorf("stat %s: %w", p, err)
			}
			if err := ms.remove(p, &est, dev); err != nil {
				return err
			}
		}
	} else if st.Dev != dev {
		return &ErrMountBelow{Dir: filepath.Dir(path), Mount: path} // a file bind-mounted here
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		if errors.Is(err, unix.EBUSY) {
			return &ErrMountBelow{Dir: filepath.Dir(path), Mount: path}
		}
		return err
	}
	return nil
}

// mountSet answers whether a directory is a mount point, from mountinfo.
type mountSet struct {
	points map[string]bool
	byDev  map[uint64][]string // mount points by the device of their filesystem
	inodes map[uint64]map[uint64]bool
	// noStatx leaves out the statx attribute (tests of the other checks;
	// kernels before 5.8 do not have it).
	noStatx bool
}

func newMountSet(all []mountEntry) *mountSet {
	ms := &mountSet{points: map[string]bool{}, byDev: map[uint64][]string{}, inodes: map[uint64]map[uint64]bool{}}
	for _, e := range all {
		ms.points[e.Point] = true
		ms.byDev[e.Dev] = append(ms.byDev[e.Dev], e.Point)
	}
	return ms
}

func (ms *mountSet) pointList() []string {
	out := make([]string, 0, len(ms.points))
	for p := range ms.points {
		out = append(out, p)
	}
	return out
}

// isMountPoint reports whether the directory path (lstat st), met while
// deleting a tree on device dev, is a mount point or the root of one.
func (ms *mountSet) isMountPoint(path string, st *unix.Stat_t, dev uint64) bool {
	if ms.points[path] || st.Dev != dev {
		return true
	}
	if !ms.noStatx {
		var stx unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO, &stx); err == nil &&
			stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
			return true
		}
	}
	return ms.inodesOf(st.Dev)[st.Ino]
}

// inodesOf are the inodes of the mount points whose filesystem is dev: a
// bind mount of a directory of the same filesystem shows the inode of its
// source. Only the tree's own filesystem is looked at, so a dead network
// mount elsewhere cannot hang uninstall.
func (ms *mountSet) inodesOf(dev uint64) map[uint64]bool {
	if in, ok := ms.inodes[dev]; ok {
		return in
	}
	in := map[uint64]bool{}
	for _, p := range ms.byDev[dev] {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err == nil && st.Dev == dev {
			in[st.Ino] = true
		}
	}
	ms.inodes[dev] = in
	return in
}

// mountEntry is one line of mountinfo: its ID, its parent's ID, where.
type mountEntry struct {
	ID, Parent int
	Dev        uint64 // the device of its filesystem (major:minor), as st_dev
	Root       string // the directory of that filesystem mounted here
	Point      string
}

func parseMountInfo(r io.Reader) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		var e mountEntry
		if _, err := fmt.Sscanf(f[0]+" "+f[1], "%d %d", &e.ID, &e.Parent); err != nil {
			continue
		}
		var major, minor uint32
		if _, err := fmt.Sscanf(f[2], "%d:%d", &major, &minor); err == nil {
			e.Dev = unix.Mkdev(major, minor)
		}
		e.Root = filepath.Clean(unescapeMountPath(f[3]))
		e.Point = filepath.Clean(unescapeMountPath(f[4]))
		out = append(out, e)
	}
	return out, sc.Err()
}

func readMountInfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountInfo(f)
}

// selfBind reports whether mount e is its parent's own directory bound onto
// itself (as the kubelet does with its root, even when that is a plain
// directory reached through a symlink): same filesystem, and e's root is
// the directory at its mount point. Unmounting it hides nothing.
func selfBind(e, parent mountEntry) bool {
	if e.Dev != parent.Dev || e.Root == "" || parent.Root == "" {
		return false
	}
	rel, err := filepath.Rel(parent.Point, e.Point)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	return filepath.Join(parent.Root, rel) == e.Root
}

// treeMounts lists what to unmount at or below dir, deepest first, a point
// once per mount stacked on it. With keepBase, the bottom mount at dir
// itself is kept — a directory that existed before install may be the
// operator's data disk — while mounts stacked on it and below it go.
func treeMounts(all []mountEntry, dir string, keepBase bool) []string {
	dir = filepath.Clean(dir)
	byID := map[int]mountEntry{}
	for _, e := range all {
		byID[e.ID] = e
	}
	var out []string
	for _, e := range all {
		if e.Point != dir && !strings.HasPrefix(e.Point, dir+"/") {
			continue
		}
		// The bottom mount at a point is the one whose parent is elsewhere;
		// the kubelet's bind of its root onto itself is not the operator's.
		if keepBase && e.Point == dir && byID[e.Parent].Point != dir && !selfBind(e, byID[e.Parent]) {
			continue
		}
		out = append(out, e.Point)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out
}

// PlanUnmountTree returns what UnmountTree would unmount now. dir's
// symlinks are resolved first: mountinfo lists real paths.
func PlanUnmountTree(dir string, keepBase bool) ([]string, error) {
	all, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	return treeMounts(all, hostReal(dir), keepBase), nil
}

// UnmountTree unmounts everything at or below dir, deepest first, keeping
// the bottom mount at dir itself when keepBase (see treeMounts). A busy
// mount is detached so it leaves the tree at once.
func UnmountTree(dir string, keepBase bool) ([]string, error) {
	var done []string
	for attempt := 0; attempt < 16; attempt++ {
		ms, err := PlanUnmountTree(dir, keepBase)
		if err != nil {
			return done, err
		}
		if len(ms) == 0 {
			return done, nil
		}
		// One layer per point and pass: the next pass sees what is left.
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m] {
				continue
			}
			seen[m] = true
			if err := unix.Unmount(m, 0); err != nil && err != unix.EINVAL && err != unix.ENOENT {
				if err2 := unix.Unmount(m, unix.MNT_DETACH); err2 != nil {
					return done, fmt.Errorf("unmount %s: %w; find what holds it with `fuser -vm %s` and run uninstall again", m, err, m)
				}
			}
			done = append(done, m)
		}
	}
	return done, fmt.Errorf("mounts under %s keep coming back; stop what creates them and retry", dir)
}
