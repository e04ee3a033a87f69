package uninstall

import (
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinks bounds the symlinks followed in one path, as the kernel's ELOOP.
const maxLinks = 40

// realPath returns where the host path p is under root once every symlink
// in it is followed as the host would with root as "/": an absolute target
// starts again at root and ".." stops at root, so a host with
// /var/lib/kubelet -> /data/kubelet under --root DIR resolves to
// DIR/data/kubelet, never to the machine's /data. root itself may be a
// symlink. Resolution stops at the first component that does not exist
// (or cannot be read): the rest is joined as it is.
func realPath(root, p string) string {
	if root == "" {
		root = "/"
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	cur := "/"
	rest := strings.Split(p, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		full := filepath.Join(root, next)
		st, err := os.Lstat(full)
		if err != nil {
			return filepath.Join(append([]string{root, next}, rest...)...)
		}
		if st.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := os.Readlink(full)
		links++
		if err != nil || links > maxLinks {
			return filepath.Join(append([]string{root, next}, rest...)...)
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, cur)
}

// real is the host path p under the root with every symlink resolved: the
// directory to read, unmount under, or chmod.
func (u *Uninstall) real(p string) string { return realPath(u.d.Root.Dir, p) }

// realParent is the host path p under the root with the symlinks above it
// resolved, but not p itself: what to lstat or remove, so that removing a
// symlink removes the link, not what it points to.
func (u *Uninstall) realParent(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return u.real(p)
	}
	return filepath.Join(u.real(path.Dir(p)), path.Base(p))
}
