package artifact_test

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

func TestUnpacksHandsOverGzipArchivesAndRemovesWhatNoOneTook(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	taken := write("taken", tarGz(entry{name: "bin/ctr", typ: tar.TypeReg, content: "ctr", mode: 0o755}))
	left := write("left", tarGz(entry{name: "loopback", typ: tar.TypeReg, content: "lo", mode: 0o755}))
	plain := write("kubelet", []byte("\x7fELF not an archive"))
	broken := write("broken", append([]byte{0x1f, 0x8b}, "not gzip after all"...))

	u := artifact.NewUnpacks(context.Background())
	for _, p := range []string{taken, left, plain, broken, taken} {
		u.Start(p)
	}
	got, ok, err := u.Take(taken)
	if !ok || err != nil || got != artifact.UnpackDir(taken) {
		t.Fatalf("Take(archive) = %q, %v, %v; want its UnpackDir", got, ok, err)
	}
	if b, err := os.ReadFile(filepath.Join(got, "bin/ctr")); err != nil || string(b) != "ctr" {
		t.Errorf("unpacked bin/ctr = %q, %v", b, err)
	}
	if _, ok, _ := u.Take(taken); ok {
		t.Error("an archive was handed over twice")
	}
	if _, ok, _ := u.Take(plain); ok {
		t.Error("a file that is not gzip was unpacked")
	}
	if _, ok, err := u.Take(broken); !ok || err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("Take(broken) = %v, %v; want the extractor's error", ok, err)
	}
	u.Close()
	if _, err := os.Stat(artifact.UnpackDir(left)); !os.IsNotExist(err) {
		t.Errorf("an archive no one took is still unpacked after Close: %v", err)
	}
	if _, err := os.Stat(got); err != nil {
		t.Errorf("Close removed a directory handed over (the taker removes it): %v", err)
	}
	u.Start(left) // after Close: nothing starts
	if _, ok, _ := u.Take(left); ok {
		t.Error("an archive started after Close")
	}
	var none *artifact.Unpacks
	none.Start(taken)
	if _, ok, _ := none.Take(taken); ok {
		t.Error("a nil set handed over an archive")
	}
	none.Close()
}

func TestUnpacksStopsOnCancel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.tgz")
	if err := os.WriteFile(p, tarGz(entry{name: "x", typ: tar.TypeReg, content: "x"}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u := artifact.NewUnpacks(ctx)
	u.Start(p)
	if _, ok, _ := u.Take(p); ok {
		t.Error("an archive started unpacking on a cancelled context")
	}
	u.Close()
}
