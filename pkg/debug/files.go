package debug

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// sniffLen is how much of a file tells a binary (a NUL byte) from text.
const sniffLen = 8 << 10

// errBinary is a file that is no text: an executable the journal lists.
var errBinary = errors.New("a binary file")

// readFile reads the host file of s under the root, capped.
func (c *collector) readFile(s source, e Entry) ([]byte, Entry, error) {
	full := c.d.Root.Path(s.path)
	f, err := os.Open(full)
	if errors.Is(err, fs.ErrNotExist) {
		e.Status = StatusAbsent
		return nil, e, fmt.Errorf("not on this host")
	}
	if err != nil {
		return nil, e, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, e, err
	}
	if !st.Mode().IsRegular() {
		e.Status = StatusOmitted
		return nil, e, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	size := st.Size()
	head := make([]byte, min(size, sniffLen))
	if _, err := io.ReadFull(f, head); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, e, err
	}
	if bytes.IndexByte(head, 0) >= 0 {
		e.Status = StatusOmitted
		return nil, e, errBinary
	}
	limit := c.d.FileCap
	// /proc files say size 0: read them to the cap.
	if size == 0 || size <= limit {
		rest, err := io.ReadAll(io.LimitReader(f, limit+1-int64(len(head))))
		if err != nil {
			return nil, e, err
		}
		data := append(head, rest...)
		return c.capped(data, max(size, int64(len(data))), s.tail, &e), e, nil
	}
	off := int64(0)
	if s.tail {
		off = size - limit
	}
	data := make([]byte, limit)
	n, err := f.ReadAt(data, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, e, err
	}
	return c.capped(data[:n], size, s.tail, &e), e, nil
}

// filesUnder lists the regular files under the host directory dir, sorted,
// as host paths.
func filesUnder(r interface{ Path(string) string }, dir string) []string {
	var out []string
	base := r.Path(dir)
	_ = filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return nil
		}
		rel, rerr := filepath.Rel(base, p)
		if rerr != nil {
			return nil
		}
		out = append(out, path.Join(dir, filepath.ToSlash(rel)))
		return nil
	})
	sort.Strings(out)
	return out
}

// globUnder lists the host paths matching pattern under the root.
func globUnder(r interface{ Path(string) string }, pattern string) []string {
	base := r.Path("/")
	matches, _ := filepath.Glob(r.Path(pattern))
	var out []string
	for _, m := range matches {
		rel, err := filepath.Rel(base, m)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		out = append(out, "/"+filepath.ToSlash(rel))
	}
	sort.Strings(out)
	return out
}

// isLog says a file is appended to: its end is what matters.
func isLog(p string) bool {
	return strings.HasPrefix(p, "/var/log/") || strings.Contains(path.Base(p), ".log")
}
