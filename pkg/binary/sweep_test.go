package binary

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

// A file of the family that the layout no longer has goes, with its
// directory; one the component did not write, or a directory in its
// place, stays. (Written's use of it: the runtimes' install tests.)
func TestWriteSweepsOnlyItsOwnFilesOfAFormerRun(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	mine := func(b []byte) bool { return bytes.HasPrefix(b, []byte("# ours\n")) }
	l := Layout{
		Files: map[string]host.File{
			"/etc/x/a/hosts.toml": {Data: []byte("# ours\na\n"), Mode: 0o644},
			"/etc/x/b/hosts.toml": {Data: []byte("# ours\nb\n"), Mode: 0o644},
		},
		Sweeps: []Sweep{{Glob: "/etc/x/*/hosts.toml", Mine: mine}},
	}
	log := logrus.New()
	if _, err := l.Write(root, testrec.New(), nil, false, log); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(root.Path(p)), 0o755)
		if err := os.WriteFile(root.Path(p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("/etc/x/op/hosts.toml", "server = \"operator's\"\n")
	os.MkdirAll(root.Path("/etc/x/d/hosts.toml"), 0o755)

	delete(l.Files, "/etc/x/b/hosts.toml")
	if old, err := stale(root, l.Sweeps, l.Files); err != nil || !reflect.DeepEqual(old, []string{"/etc/x/b/hosts.toml"}) {
		t.Fatalf("stale = %v, %v; want b alone", old, err)
	}
	changed, err := l.Write(root, testrec.New(), nil, false, log)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(changed, []string{"/etc/x/b/hosts.toml"}) {
		t.Errorf("changed %v, want b's removal alone", changed)
	}
	if _, err := os.Stat(root.Path("/etc/x/b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b's directory: %v, want it gone", err)
	}
	for _, p := range []string{"/etc/x/a/hosts.toml", "/etc/x/op/hosts.toml", "/etc/x/d/hosts.toml"} {
		if _, err := os.Stat(root.Path(p)); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	if old, err := stale(root, l.Sweeps, l.Files); err != nil || len(old) != 0 {
		t.Errorf("stale after the sweep = %v, %v", old, err)
	}
}
