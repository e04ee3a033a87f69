package artifact_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

// entry is one tar member; content only for regular files.
type entry struct {
	name, link, content string
	typ                 byte
	mode                int64
}

func tarGz(entries ...entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.content))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.content))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func writeTmp(t testing.TB, b []byte) string {
	p := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtractTarGzKeepsModesAndReplaces(t *testing.T) {
	src := writeTmp(t, tarGz(
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/runc", typ: tar.TypeReg, mode: 0o755, content: "runc"},
		entry{name: "etc/config.toml", typ: tar.TypeReg, mode: 0o600, content: "cfg"},
		entry{name: "bin/runc.link", typ: tar.TypeSymlink, link: "runc"},
		entry{name: "bin/runc.hard", typ: tar.TypeLink, link: "bin/runc"},
		entry{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		entry{name: "ro/file", typ: tar.TypeReg, mode: 0o444, content: "x"},
	))
	dst := filepath.Join(t.TempDir(), "opt", "runtime")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dst, "stale"), []byte("old"), 0o644)
	if err := artifact.ExtractTarGz(src, dst); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"bin/runc": 0o755, "etc/config.toml": 0o600, "ro": os.ModeDir | 0o555, "ro/file": 0o444} {
		st, err := os.Lstat(filepath.Join(dst, p))
		if err != nil || st.Mode() != mode {
			t.Errorf("%s: %v, mode %v want %v", p, err, st.Mode(), mode)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dst, "bin/runc.link")); err != nil || string(b) != "runc" {
		t.Errorf("symlink inside: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "bin/runc.hard")); err != nil || string(b) != "runc" {
		t.Errorf("hard link inside: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "stale")); !os.IsNotExist(err) {
		t.Error("the previous tree was not replaced")
	}
	ents, _ := os.ReadDir(filepath.Dir(dst))
	if len(ents) != 1 {
		t.Errorf("temporary directories left beside the target: %v", ents)
	}
	os.Chmod(filepath.Join(dst, "ro"), 0o755) // let t.TempDir clean up
}

func TestExtractTarGzRefuses(t *testing.T) {
	cases := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"traversal", []entry{{name: "../evil", typ: tar.TypeReg, content: "x"}}, "'..'"},
		{"traversal inside", []entry{{name: "a/../../evil", typ: tar.TypeReg, content: "x"}}, "'..'"},
		{"absolute path", []entry{{name: "/etc/evil", typ: tar.TypeReg, content: "x"}}, "absolute"},
		{"absolute symlink", []entry{{name: "l", typ: tar.TypeSymlink, link: "/etc"}}, "absolute"},
		{"symlink escape", []entry{{name: "a/l", typ: tar.TypeSymlink, link: "../../etc"}}, "outside"},
		{"write through symlink", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "."},
			{name: "l/x", typ: tar.TypeReg, content: "x"}}, "through the symlink"},
		{"symlink chain escape", []entry{
			{name: "s", typ: tar.TypeSymlink, link: "."},
			{name: "t", typ: tar.TypeSymlink, link: "s/.."}}, "outside"},
		{"dangling symlink", []entry{{name: "l", typ: tar.TypeSymlink, link: "missing"}}, "dangling"},
		{"hard link escape", []entry{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}, "outside the archive"},
		{"hard link absolute", []entry{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, "outside the archive"},
		{"char device", []entry{{name: "null", typ: tar.TypeChar}}, "device"},
		{"block device", []entry{{name: "sda", typ: tar.TypeBlock}}, "device"},
		{"fifo", []entry{{name: "p", typ: tar.TypeFifo}}, "fifo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "root", "dst")
			err := artifact.ExtractTarGz(writeTmp(t, tarGz(tc.entries...)), dst)
			var ae *artifact.Error
			if !errors.As(err, &ae) || ae.Op != "extract" {
				t.Fatalf("got %v, want an extract *artifact.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if _, err := os.Lstat(dst); !os.IsNotExist(err) {
				t.Error("the target exists after a refused archive")
			}
			if ents, _ := os.ReadDir(filepath.Join(base, "root")); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
			if ents, _ := os.ReadDir(base); len(ents) != 1 {
				t.Errorf("something was written outside the target: %v", ents)
			}
		})
	}
}

func TestExtractTarGzRefusesNonGzip(t *testing.T) {
	err := artifact.ExtractTarGz(writeTmp(t, []byte("plain")), filepath.Join(t.TempDir(), "d"))
	var ae *artifact.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v", err)
	}
}

// The hardened extractor drops setuid and setgid bits; other bits stay.
func TestExtractTarGzDropsSetuidAndSetgidBits(t *testing.T) {
	src := writeTmp(t, tarGz(
		entry{name: "bin/su", typ: tar.TypeReg, mode: 0o4755, content: "x"},
		entry{name: "bin/wall", typ: tar.TypeReg, mode: 0o2755, content: "y"},
		entry{name: "bin/both", typ: tar.TypeReg, mode: 0o6711, content: "z"},
		entry{name: "shared/", typ: tar.TypeDir, mode: 0o2775},
	))
	dst := filepath.Join(t.TempDir(), "dst")
	if err := artifact.ExtractTarGz(src, dst); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"bin/su": 0o755, "bin/wall": 0o755, "bin/both": 0o711, "shared": os.ModeDir | 0o775} {
		st, err := os.Lstat(filepath.Join(dst, p))
		if err != nil || st.Mode() != want {
			t.Errorf("%s: %v, mode %v, want %v", p, err, st.Mode(), want)
		}
	}
}

// zeroBomb is n bytes of zeros in one member: it compresses about 1000:1.
func zeroBomb(t *testing.T, n int64) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// sparseBomb is a GNU sparse file (PAX format 0.1) of 1 TiB logical size
// holding one byte of data: a few hundred bytes that would unpack to a
// terabyte. Go's tar writer does not write sparse files, so the PAX header
// is made as a regular member whose type flag is then patched to 'x'.
func sparseBomb(t *testing.T) []byte {
	rec := func(k, v string) string {
		n := len(k) + len(v) + 3
		for len(strconv.Itoa(n))+len(k)+len(v)+3 != n {
			n++
		}
		return strconv.Itoa(n) + " " + k + "=" + v + "\n"
	}
	pax := rec("GNU.sparse.map", "1099511627775,1") + rec("GNU.sparse.numblocks", "1") + rec("GNU.sparse.size", "1099511627776")
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "PaxHeaders/bomb", Mode: 0o644, Size: int64(len(pax)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
	tw.Write([]byte(pax))
	tw.WriteHeader(&tar.Header{Name: "bomb", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
	tw.Write([]byte{1})
	tw.Close()
	raw := tb.Bytes()
	raw[156] = tar.TypeXHeader
	copy(raw[148:156], "        ")
	sum := 0
	for _, b := range raw[:512] {
		sum += int(b)
	}
	copy(raw[148:156], fmt.Sprintf("%06o\x00 ", sum))
	// The reader must see the bomb as a 1 TiB regular file, or the test
	// proves nothing.
	tr := tar.NewReader(bytes.NewReader(raw))
	h, err := tr.Next()
	if err != nil || h.Typeflag != tar.TypeReg || h.Size != 1<<40 {
		t.Fatalf("sparse bomb reads as %+v, %v", h, err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw)
	zw.Close()
	return out.Bytes()
}

// Archive bombs are refused before they fill the disk: real zeros past the
// byte limit, a sparse file whose logical size is past it, too many members.
func TestExtractTarGzRefusesArchiveBombs(t *testing.T) {
	many := make([]entry, 50)
	for i := range many {
		many[i] = entry{name: fmt.Sprintf("f%d", i), typ: tar.TypeReg, content: "x"}
	}
	lim := artifact.Limits{Bytes: 1 << 20, Entries: 40}
	cases := []struct {
		name    string
		archive []byte
		lim     artifact.Limits
		want    string
	}{
		{"zeros past the limit", zeroBomb(t, 8<<20), lim, "beyond 1.0 MiB"},
		{"sparse terabyte", sparseBomb(t), artifact.DefaultLimits, "beyond 4.0 GiB"},
		{"too many members", tarGz(many...), lim, "more than 40 entries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.archive) > 64<<10 {
				t.Fatalf("the bomb is %d bytes compressed; it should be small", len(tc.archive))
			}
			base := t.TempDir()
			dst := filepath.Join(base, "dst")
			err := artifact.ExtractTarGzLimited(writeTmp(t, tc.archive), dst, tc.lim)
			var ae *artifact.Error
			if !errors.As(err, &ae) || ae.Op != "extract" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an extract *artifact.Error saying %q", err, tc.want)
			}
			var used int64
			filepath.Walk(base, func(_ string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					used += info.Size()
				}
				return nil
			})
			if used != 0 {
				t.Errorf("%d bytes left on disk after refusing", used)
			}
		})
	}
	// Exactly at the limit is fine.
	if err := artifact.ExtractTarGzLimited(writeTmp(t, zeroBomb(t, 1<<20)), filepath.Join(t.TempDir(), "d"), lim); err != nil {
		t.Errorf("an archive of exactly the limit: %v", err)
	}
}
