// Package artifacttest makes small artifact files (binaries, tar.gz) for
// unit tests of the installers.
package artifacttest

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Binary writes an executable script whose content includes tag (so two
// versions differ) and returns its path.
func Binary(t *testing.T, dir, name, tag string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n# "+name+" "+tag+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TarGz writes a tar.gz holding members (path -> content), sorted by
// path, as executables, and returns its path.
func TarGz(t *testing.T, dir, name string, members map[string]string) string {
	t.Helper()
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	sort.Strings(names)
	entries := make([]Entry, 0, len(names))
	for _, n := range names {
		entries = append(entries, Entry{Name: n, Body: members[n], Mode: 0o755})
	}
	return TarGzOf(t, dir, name, entries...)
}

// Entry is one member of TarGzOf: a regular file unless Type says otherwise.
type Entry struct {
	Name, Body string
	// Link is a symlink's or hard link's target.
	Link string
	// Type is the tar type flag (tar.TypeReg when zero).
	Type byte
	// Mode defaults to 0644.
	Mode int64
	// Size, when larger than Body, is the size the header declares; the
	// archive then ends after Body, so a bomb that claims gigabytes costs a
	// few bytes (an extractor must refuse it from the header alone).
	Size int64
}

// TarGzOf writes a tar.gz of entries, in order, and returns its path.
func TarGzOf(t *testing.T, dir, name string, entries ...Entry) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	truncated := false
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode, Size: int64(len(e.Body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		} else if e.Size > h.Size {
			h.Size = e.Size
			truncated = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
		if truncated {
			break
		}
	}
	if !truncated {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := tw.Flush(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}
