//go:build e2e

package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// clusterCAHash is kubeadm's --discovery-token-ca-cert-hash of the
// environment's cluster CA: sha256 of its DER SubjectPublicKeyInfo.
func clusterCAHash(t *testing.T) string {
	t.Helper()
	blk, _ := pem.Decode(mustRead(t, env.Var(t, "CA_FILE")))
	if blk == nil {
		t.Fatal("the cluster CA file holds no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pinnedBundle bundles the sample pool with its CA given only by
// caCertHashes (no caData), as a console that hands out kubeadm-style pins
// would.
func pinnedBundle(t *testing.T, hashes ...string) string {
	t.Helper()
	sample := env.Bundle(t)
	data := mustRead(t, filepath.Join(filepath.Dir(filepath.Dir(sample)), "pool.yaml"))
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	api := doc["cluster"].(map[string]any)["apiServer"].(map[string]any)
	delete(api, "caData")
	api["caCertHashes"] = hashes
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pool := filepath.Join(dir, "pool.yaml")
	if err := os.WriteFile(pool, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(env.Var(t, "ADD2TKECTL"), "bundle", "--config", pool, "--out", filepath.Join(dir, "bundle")).CombinedOutput(); err != nil {
		t.Fatalf("add2tkectl bundle: %v\n%s", err, b)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "bundle", "add2tkectl-*"))
	if len(matches) != 1 {
		t.Fatalf("bundled %d binaries, want 1", len(matches))
	}
	return matches[0]
}

// TestInstallWithOnlyCACertHashesJoinsAReadyNode: the pool pins the
// cluster CA by hash; install reads the CA from kube-public/cluster-info
// (signed by the bootstrap signer for the pool's token), and the kubelet
// bootstraps with it.
func TestInstallWithOnlyCACertHashesJoinsAReadyNode(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, pinnedBundle(t, clusterCAHash(t)))

	mustInstall(t, h, bin)
	n := getNode(t, h.Name)
	ready := false
	for _, c := range n.Status.Conditions {
		ready = ready || c.Type == "Ready" && c.Status == "True"
	}
	if !ready {
		t.Errorf("Node %s is not Ready after install: %+v", n.Name, n.Status.Conditions)
	}
	ca := mustRead(t, env.Var(t, "CA_FILE"))
	if got := h.Run(t, 30*time.Second, "cat", "/etc/kubernetes/pki/ca.crt"); got != string(ca) {
		t.Errorf("/etc/kubernetes/pki/ca.crt is not the cluster CA:\n%s", got)
	}
	if kc := h.Run(t, 30*time.Second, "cat", "/etc/kubernetes/bootstrap-kubelet.conf"); !strings.Contains(kc, base64.StdEncoding.EncodeToString(ca)) {
		t.Error("the bootstrap kubeconfig does not carry the cluster CA from cluster-info")
	}
	if code, rep, stderr := statusOf(t, h, bin); code != 0 {
		t.Errorf("status after install exited %d: %q\n%s", code, rep.Problems, stderr)
	}
}

// TestInstallWithAWrongCACertHashExits3AndChangesNothing: a pin that is not
// the cluster CA's stops install in preflight (exit 3), naming the expected
// and the actual hash, before anything is installed.
func TestInstallWithAWrongCACertHashExits3AndChangesNothing(t *testing.T) {
	h := env.FreshHost(t, "host1")
	wrong := "sha256:" + strings.Repeat("0", 64)
	bin := h.InstallBundle(t, pinnedBundle(t, wrong))

	before := snapshot(t, h)
	code, r, stderr := install(t, h, bin)
	if code != 3 {
		t.Fatalf("install with a wrong caCertHashes exited %d, want 3:\n%s", code, stderr)
	}
	for _, s := range []string{wrong, clusterCAHash(t), "cluster-info"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("the refusal does not name %s:\n%s", s, stderr)
		}
	}
	for _, p := range r.Phases {
		if p.Name != "preflight" {
			t.Errorf("phase %s ran (%s) after a failed preflight", p.Name, p.Status)
		}
	}
	// The state journal records the refused run (status then says install
	// failed in preflight, not "not installed"); nothing else may change.
	journal := func(l string) bool {
		return strings.HasPrefix(l, "+ fs /var/lib/add2tkectl ") || strings.HasPrefix(l, "+ fs /var/lib/add2tkectl/state.json ") ||
			strings.HasPrefix(l, "+ sum ") && strings.HasSuffix(l, " /var/lib/add2tkectl/state.json")
	}
	var diff []string
	for _, l := range diffSnapshots(before, snapshot(t, h)) {
		if !journal(l) {
			diff = append(diff, l)
		}
	}
	if len(diff) > 0 {
		t.Errorf("a refused install changed the host:\n%s", strings.Join(diff, "\n"))
	}
	var j struct {
		Phases []struct{ Name, Status string } `json:"phases"`
	}
	if err := json.Unmarshal([]byte(h.Run(t, 30*time.Second, "cat", "/var/lib/add2tkectl/state.json")), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Phases) != 1 || j.Phases[0].Name != "preflight" || j.Phases[0].Status != string(phase.StatusFailed) {
		t.Errorf("the journal of a refused install holds %+v, want only a failed preflight", j.Phases)
	}
}

// TestInstallAfterUninstallIsHealthyEveryTime: uninstall cannot delete the
// Node, so a new install finds the previous kubelet's Ready=True on it; the
// join must wait for the new kubelet's own Ready, so that status right after
// install is healthy, every time.
func TestInstallAfterUninstallIsHealthyEveryTime(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	mustInstall(t, h, bin)
	for i := 1; i <= 5; i++ {
		runUninstall(t, h, bin)
		start := time.Now()
		mustInstall(t, h, bin)
		took := time.Since(start).Round(time.Millisecond)
		code, rep, stderr := statusOf(t, h, bin)
		t.Logf("round %d: install %s, status exit %d", i, took, code)
		if code != 0 {
			t.Fatalf("round %d: status right after install exited %d: %q\n%s", i, code, rep.Problems, stderr)
		}
	}
}
