package kubelet

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// installedKubelet installs a kubelet artifact as install does (stamp and
// saved manifest) and returns the root.
func installedKubelet(t *testing.T) host.Root {
	t.Helper()
	dir := t.TempDir()
	body := []byte("#!/bin/sh\necho Kubernetes v9.9.9\n")
	src := filepath.Join(dir, "kubelet")
	if err := os.WriteFile(src, body, 0o755); err != nil {
		t.Fatal(err)
	}
	root := host.Root{Dir: t.TempDir()}
	if _, err := Plan(map[string]string{Artifact: src}).Install(root, testrec.New(), map[string]string{Artifact: src}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	payload, _ := json.Marshal(artifact.Manifest{SchemaVersion: artifact.SchemaVersion, Artifacts: []artifact.Artifact{{
		Name: Artifact, Version: "v1.35.4", OS: "linux", Arch: "amd64", Kind: artifact.KindBinary,
		URLs: []string{"https://cos.example/kubelet"}, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]),
	}}})
	env, _ := json.Marshal(artifact.Envelope{PayloadType: artifact.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload)})
	if err := os.MkdirAll(filepath.Dir(root.Path(paths.ManifestPath)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(paths.ManifestPath), env, 0o600); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTheInstalledKubeletsVersionComesFromItsStamp(t *testing.T) {
	root := installedKubelet(t)
	if v, ok := stampedVersion(root); !ok || v != "v1.35.4" {
		t.Fatalf("stampedVersion = %q, %v; want the manifest's v1.35.4 without running the binary", v, ok)
	}
}

// A binary changed since install is asked, not trusted to be the artifact.
func TestAChangedKubeletIsRunForItsVersion(t *testing.T) {
	for name, change := range map[string]func(p string) error{
		"rewritten": func(p string) error { return os.WriteFile(p, []byte("#!/bin/sh\necho Kubernetes v1.30.0\n"), 0o755) },
		"touched":   func(p string) error { later := time.Now().Add(time.Hour); return os.Chtimes(p, later, later) },
		"removed":   os.Remove,
	} {
		t.Run(name, func(t *testing.T) {
			root := installedKubelet(t)
			if err := change(root.Path(BinaryPath)); err != nil {
				t.Fatal(err)
			}
			if v, ok := stampedVersion(root); ok {
				t.Fatalf("stampedVersion = %q for a %s binary; want it asked", v, name)
			}
		})
	}
	root := installedKubelet(t)
	if err := os.Remove(root.Path(paths.ManifestPath)); err != nil {
		t.Fatal(err)
	}
	if _, ok := stampedVersion(root); ok {
		t.Error("a version without the manifest")
	}
}
