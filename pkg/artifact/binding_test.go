package artifact_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

// A signed expiry in the future, or none, verifies; the cached copy of an
// accepted manifest verifies after its expiry (a re-run on a joined host
// needs no fresh manifest), a fetched one does not.
func TestManifestExpiryBoundsAFetchedManifestOnly(t *testing.T) {
	withExpiry := func(at time.Time) []byte {
		p := goodPayload()
		p["expires"] = at.UTC().Format(time.RFC3339)
		return signPayload(t, mustJSON(p))
	}
	if _, err := artifact.VerifyManifest(withExpiry(time.Now().Add(time.Hour)), "https://b.example/m.json", string(testPub)); err != nil {
		t.Errorf("a manifest expiring in an hour: %v", err)
	}
	past := withExpiry(time.Now().Add(-time.Minute))
	_, err := artifact.VerifyManifest(past, "https://b.example/m.json", string(testPub))
	var ae *artifact.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("an expired manifest: %v, want an *artifact.Error (exit 4)", err)
	}
	if _, err := artifact.VerifyCachedManifest(past, string(testPub)); err != nil {
		t.Errorf("the cached copy of an accepted manifest: %v", err)
	}
	if _, err := artifact.VerifyCachedManifest(past, strings.Replace(string(testPub), "A", "B", 1)); err == nil {
		t.Error("the cached copy is not checked against the key")
	}
}

// A validly signed manifest for other versions than the configuration's
// (an old one replayed, say) is refused, naming both versions.
func TestCheckPinsRefusesAManifestForOtherVersions(t *testing.T) {
	m := &artifact.Manifest{SchemaVersion: 1, Artifacts: []artifact.Artifact{
		{Name: "kubelet", Version: "v1.18.0", OS: "linux", Arch: "amd64"},
		{Name: "containerd", Version: "1.2.0", OS: "linux", Arch: "amd64"},
		{Name: "runc", Version: "1.1.0", OS: "linux", Arch: "amd64"},
	}}
	pins := artifact.Pins{
		"kubelet":    {Version: "1.35.4", Setting: "cluster.kubernetesVersion"},
		"containerd": {Version: "1.7.22", Setting: "nodePool.runtime.version"},
		"docker":     {Version: "24.0.9", Setting: "nodePool.runtime.version"},
	}
	err := m.CheckPins(pins)
	var ae *artifact.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an *artifact.Error (exit 4)", err)
	}
	for _, want := range []string{"kubelet is v1.18.0 in the manifest (linux/amd64) but cluster.kubernetesVersion is 1.35.4",
		"containerd is 1.2.0 in the manifest (linux/amd64) but nodePool.runtime.version is 1.7.22"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	m.Artifacts[0].Version, m.Artifacts[1].Version = "v1.35.4", "v1.7.22"
	if err := m.CheckPins(pins); err != nil {
		t.Errorf("matching versions (with or without a v): %v", err)
	}
}
