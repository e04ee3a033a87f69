package binary

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/artifacttest"
	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

func TestMembersAreFoundByUniqueSuffix(t *testing.T) {
	dir := t.TempDir()
	art := map[string]string{"c": artifacttest.TarGz(t, dir, "c.tgz", map[string]string{
		"containerd-1.7/bin/containerd": "A", "containerd-1.7/bin/ctr": "B", "top": "T",
	})}
	root := host.Root{Dir: t.TempDir()}
	p := Plan{Component: "c", Items: []Item{
		{Artifact: "c", From: "bin/containerd", Dst: "/usr/local/bin/containerd", Mode: 0o755},
		{Artifact: "c", From: "*", Dst: "/opt/x", Mode: 0o700},
	}}
	changed, err := p.Install(root, testrec.New(), art)
	if err != nil || len(changed) != 2 {
		t.Fatalf("Install = %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(root.Path("/usr/local/bin/containerd")); string(b) != "A" {
		t.Errorf("containerd = %q", b)
	}
	if st, err := os.Stat(root.Path("/opt/x/top")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("top-level member: %v", err)
	}
	p.Items = append(p.Items, Item{Artifact: "c", From: "nothere", Dst: "/x", Mode: 0o755})
	if _, err := p.Install(root, testrec.New(), art); err == nil || !strings.Contains(err.Error(), "0 files named nothere") {
		t.Errorf("missing member: err = %v", err)
	}
}

func TestExtractRefusesEscapingMembers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"../evil", "/etc/evil", "a/../../evil"} {
		tgz := artifacttest.TarGz(t, dir, "e.tgz", map[string]string{name: "x"})
		if err := ExtractTarGz(tgz, filepath.Join(dir, "out")); err == nil {
			t.Errorf("%s: extracted", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
		t.Error("a file escaped the target directory")
	}
}

func TestStampTrustsStatOnlyWhenUnchanged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := SumFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Matches(p); !ok {
		t.Error("unchanged file does not match")
	}
	// Same size, new content: the mtime moved, so it is hashed again.
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Matches(p); ok {
		t.Error("changed content matches")
	}
}
