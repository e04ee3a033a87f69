package uninstall

import (
	"bufio"
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

// MountsUnder lists the mount points at or below dir, deepest first, read
// from /proc/self/mountinfo.
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
	return under(all, dir), nil
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
	return fmt.Sprintf("refusing to delete %s: %s is still mounted under it; unmount it first", e.Dir, e.Mount)
}

// RemoveAll deletes dir after checking that nothing is mounted at or below
// it, and never descends into another filesystem while deleting (a mount
// appearing meanwhile is left alone and reported).
func RemoveAll(dir string) error {
	ms, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		return &ErrMountBelow{Dir: dir, Mount: ms[len(ms)-1]}
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	return removeSameDevice(dir, st.Dev)
}

// removeSameDevice removes path and, for a directory, its entries, without
// crossing onto a device other than dev.
func removeSameDevice(path string, dev uint64) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Dev != dev {
		return &ErrMountBelow{Dir: filepath.Dir(path), Mount: path}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := removeSameDevice(filepath.Join(path, e.Name()), dev); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// mountEntry is one line of mountinfo: its ID, its parent's ID, where.
type mountEntry struct {
	ID, Parent int
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
		// The bottom mount at a point is the one whose parent is elsewhere.
		if keepBase && e.Point == dir && byID[e.Parent].Point != dir {
			continue
		}
		out = append(out, e.Point)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out
}

// PlanUnmountTree returns what UnmountTree would unmount now.
func PlanUnmountTree(dir string, keepBase bool) ([]string, error) {
	all, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	return treeMounts(all, dir, keepBase), nil
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
