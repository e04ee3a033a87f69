//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// collectionDir is where the packages put the Ansible collection: Ansible's
// default collections path, so add2tke.node.* resolves without ansible-galaxy.
const collectionDir = "/usr/share/ansible/collections/ansible_collections/add2tke/node"

// TestDebInstallsWithDpkg: the amd64 deb that `make packages` leaves in dist/
// installs with plain dpkg on a fresh host (no ansible-galaxy, no other
// package), puts a binary that reports the snapshot version on PATH and the
// collection with its tree intact, and dpkg -r takes both away again.
func TestDebInstallsWithDpkg(t *testing.T) {
	debs, _ := filepath.Glob(filepath.Join(env.Root, "dist", "add2tkectl_*_linux_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one add2tkectl_*_linux_amd64.deb in %s/dist, have %d: `make packages` builds it", env.Root, len(debs))
	}
	deb := debs[0]
	// goreleaser names the package after the version it builds into the binary.
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(deb), "add2tkectl_"), "_linux_amd64.deb")
	if !strings.Contains(version, "SNAPSHOT") {
		t.Fatalf("%s: version %q is not a snapshot's; `make packages` builds one", deb, version)
	}
	tasks := collectionDir + "/roles/add2tkectl/tasks/main.yml"
	want, err := os.ReadFile(filepath.Join(env.Root, "packaging/ansible/roles/add2tkectl/tasks/main.yml"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)

	h := env.FreshHost(t, "host1")
	h.Sh(t, 10*time.Second, `! command -v add2tkectl && ! command -v ansible-galaxy && test ! -e `+collectionDir)
	h.CopyFile(t, deb, "/root/add2tkectl.deb", 0o644)
	start := time.Now()
	h.Run(t, time.Minute, "dpkg", "-i", "/root/add2tkectl.deb")
	t.Logf("dpkg -i %s in %s", filepath.Base(deb), time.Since(start).Round(time.Millisecond))

	if got := strings.TrimSpace(h.Run(t, 10*time.Second, "sh", "-c", "command -v add2tkectl")); got != "/usr/local/bin/add2tkectl" {
		t.Errorf("add2tkectl on PATH is %q, want /usr/local/bin/add2tkectl", got)
	}
	if out := h.Run(t, 10*time.Second, "add2tkectl", "version"); !strings.HasPrefix(out, "add2tkectl "+version+" ") {
		t.Errorf("add2tkectl version printed %q, want the package's version %s", out, version)
	}
	if mode := strings.TrimSpace(h.Run(t, 10*time.Second, "stat", "-c", "%a", "/usr/local/bin/add2tkectl")); mode != "755" {
		t.Errorf("/usr/local/bin/add2tkectl has mode %s, want 755", mode)
	}
	listed := h.Run(t, 10*time.Second, "dpkg", "-L", "add2tkectl")
	for _, path := range []string{"/usr/local/bin/add2tkectl", tasks, collectionDir + "/roles/add2tkectl/defaults/main.yml", collectionDir + "/galaxy.yml"} {
		if !slices.Contains(strings.Split(listed, "\n"), path) {
			t.Errorf("dpkg -L add2tkectl does not list %s:\n%s", path, listed)
		}
	}
	if got := strings.Fields(h.Run(t, 10*time.Second, "sha256sum", tasks)); len(got) == 0 || got[0] != hex.EncodeToString(sum[:]) {
		t.Errorf("installed %s has sha256 %v, want packaging/ansible's %x", tasks, got, sum)
	}

	h.Run(t, time.Minute, "dpkg", "-r", "add2tkectl")
	h.Sh(t, 10*time.Second, `test ! -e /usr/local/bin/add2tkectl && test ! -e `+tasks+` && ! dpkg -s add2tkectl 2>/dev/null | grep -q '^Status: install ok installed'`)
}
