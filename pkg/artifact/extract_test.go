package artifact_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
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
