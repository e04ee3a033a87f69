package artifact

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	// klauspost's inflate is a drop-in for compress/gzip, 1.3x as fast on
	// the runtime's archives (0.66 s against 0.84 s for containerd and the
	// CNI plugins): extraction is most of the runtime phase.
	"github.com/klauspost/compress/gzip"
)

// Limits bound what one archive may put on disk, so that a small archive
// that unpacks to terabytes (a zip bomb, a sparse file) or to millions of
// inodes is refused before it fills the disk.
type Limits struct {
	// Bytes is the total size of the regular files, as the headers declare
	// them (a sparse file counts at its full size).
	Bytes int64
	// Entries is the number of members.
	Entries int
}

// DefaultLimits fit every runtime archive (containerd, docker and the CNI
// plugins unpack to a few hundred MiB) with a wide margin.
var DefaultLimits = Limits{Bytes: 4 << 30, Entries: 100_000}

// ExtractTarGz extracts the gzip-compressed tarball src into dstDir with
// DefaultLimits; see ExtractTarGzLimited.
func ExtractTarGz(src, dstDir string) error {
	return ExtractTarGzLimited(src, dstDir, DefaultLimits)
}

// ExtractTarGzLimited extracts the gzip-compressed tarball src into dstDir,
// safely: absolute paths, ".." elements, links that point outside dstDir,
// writes through a symlink, device files and archives beyond lim are
// refused; setuid and setgid bits are dropped, other permission bits kept.
// It extracts into a temporary directory beside dstDir (same filesystem) and
// renames it into place, replacing a previous dstDir (a directory the
// installer owns), so dstDir is either the old tree or the whole new one.
// Failures are *Error.
func ExtractTarGzLimited(src, dstDir string, lim Limits) error {
	return extractTarGz(context.Background(), src, dstDir, lim)
}

func extractTarGz(ctx context.Context, src, dstDir string, lim Limits) error {
	fail := func(err error) error {
		return &Error{Artifact: filepath.Base(src), Op: "extract", Err: err}
	}
	in, err := os.Open(src)
	if err != nil {
		return fail(err)
	}
	defer in.Close()
	parent := filepath.Dir(filepath.Clean(dstDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dstDir)+".extract-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	if err := extractInto(ctxReader{ctx, in}, tmp, lim); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(err)
	}
	old := ""
	if _, err := os.Lstat(dstDir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dstDir, old); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, dstDir); err != nil {
		if old != "" {
			_ = os.Rename(old, dstDir)
		}
		return fail(err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return nil
}

type dirMode struct {
	path string
	mode os.FileMode
}

func extractInto(r io.Reader, root string, lim Limits) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var dirs []dirMode
	var links []string
	var total int64
	for entries := 1; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if entries > lim.Entries {
			return fmt.Errorf("the archive has more than %d entries; refusing it (an archive bomb, or not a runtime archive)", lim.Entries)
		}
		if hdr.Typeflag == tar.TypeReg {
			// The header's size is the file's full (for a sparse file,
			// logical) size: refuse before writing a byte of it.
			if hdr.Size < 0 || hdr.Size > lim.Bytes-total {
				return fmt.Errorf("entry %s would unpack the archive beyond %s; refusing it (an archive bomb, or not a runtime archive)", hdr.Name, HumanBytes(lim.Bytes))
			}
			total += hdr.Size
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" { // "./"
			continue
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		if err := noSymlinkParents(root, name); err != nil {
			return err
		}
		mode := os.FileMode(hdr.Mode) & os.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			if st, err := os.Lstat(target); err == nil && st.IsDir() {
				dirs = append(dirs, dirMode{target, mode})
				continue
			}
			if err := ensureParent(root, name); err != nil {
				return err
			}
			if err := replaceable(target); err != nil {
				return err
			}
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{target, mode})
		case tar.TypeReg:
			if err := ensureParent(root, name); err != nil {
				return err
			}
			if err := replaceable(target); err != nil {
				return err
			}
			if err := writeEntry(target, tr, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, hdr.Linkname); err != nil {
				return err
			}
			if err := ensureParent(root, name); err != nil {
				return err
			}
			if err := replaceable(target); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
			links = append(links, target)
		case tar.TypeLink:
			old, err := entryName(hdr.Linkname)
			if err != nil || old == "" {
				return fmt.Errorf("hard link %s -> %s points outside the archive", hdr.Name, hdr.Linkname)
			}
			if err := noSymlinkParents(root, old); err != nil {
				return err
			}
			oldPath := filepath.Join(root, filepath.FromSlash(old))
			if st, err := os.Lstat(oldPath); err != nil || !st.Mode().IsRegular() {
				return fmt.Errorf("hard link %s -> %s: target is not a regular file extracted before it", hdr.Name, hdr.Linkname)
			}
			if err := ensureParent(root, name); err != nil {
				return err
			}
			if err := replaceable(target); err != nil {
				return err
			}
			if err := os.Link(oldPath, target); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
			continue
		default:
			return fmt.Errorf("entry %s has type %q (device, fifo or other special file); refusing it", hdr.Name, string(hdr.Typeflag))
		}
	}
	// A symlink may point into a directory through another symlink: check
	// where each one finally leads, now that the tree is complete.
	for _, l := range links {
		if err := resolvesInside(root, l); err != nil {
			return err
		}
	}
	// Directory modes last, deepest first, so a read-only directory does not
	// stop its own extraction.
	slices.SortFunc(dirs, func(a, b dirMode) int { return len(b.path) - len(a.path) })
	for _, d := range dirs {
		if err := os.Chmod(d.path, d.mode); err != nil {
			return err
		}
	}
	return nil
}

// entryName cleans an archive path and refuses absolute ones and "..".
func entryName(n string) (string, error) {
	if strings.HasPrefix(n, "/") || filepath.IsAbs(n) {
		return "", fmt.Errorf("entry %q has an absolute path; refusing the archive", n)
	}
	if strings.ContainsRune(n, 0) || strings.Contains(n, `\`) {
		return "", fmt.Errorf("entry %q has a bad character; refusing the archive", n)
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", fmt.Errorf("entry %q contains '..'; refusing the archive", n)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// checkLinkTarget refuses a symlink whose target is absolute or climbs out
// of the root, judged from the link's own directory.
func checkLinkTarget(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return fmt.Errorf("symlink %s -> %q: absolute or empty target; refusing the archive", name, target)
	}
	joined := path.Join(path.Dir(name), target)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return fmt.Errorf("symlink %s -> %s points outside the target directory; refusing the archive", name, target)
	}
	return nil
}

// noSymlinkParents refuses to write through a symlink the archive made.
func noSymlinkParents(root, name string) error {
	els := strings.Split(name, "/")
	p := root
	for _, el := range els[:len(els)-1] {
		p = filepath.Join(p, el)
		st, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("entry %s is written through the symlink %s; refusing the archive", name, strings.TrimPrefix(p, root+"/"))
		}
		if !st.IsDir() {
			return fmt.Errorf("entry %s: %s is not a directory", name, strings.TrimPrefix(p, root+"/"))
		}
	}
	return nil
}

// ensureParent creates missing parent directories of an entry (0755).
func ensureParent(root, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	return os.MkdirAll(filepath.Join(root, filepath.FromSlash(dir)), 0o755)
}

// replaceable removes a previous entry of the same name (a later entry in a
// tar wins), but never a directory.
func replaceable(target string) error {
	st, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("entry %s would replace a directory; refusing the archive", filepath.Base(target))
	}
	return os.Remove(target)
}

func writeEntry(target string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(target, mode)
}

// resolvesInside checks that a symlink, followed to the end, stays in root.
// A dangling or looping link is refused too: nothing can vouch for it.
func resolvesInside(root, link string) error {
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(root, link)
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return fmt.Errorf("symlink %s is dangling or loops; refusing the archive", rel)
	}
	if real != rootReal && !strings.HasPrefix(real, rootReal+string(filepath.Separator)) {
		return fmt.Errorf("symlink %s points outside the target directory; refusing the archive", rel)
	}
	return nil
}
