//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/debug"
)

// debugArchive runs `debug --out FILE` in the host, copies the archive out
// and returns its entries by name (without the archive's top directory),
// and its index; it logs the listing and the size.
func debugArchive(t *testing.T, h *Host, bin string) (map[string][]byte, debug.Index) {
	t.Helper()
	const out = "/root/debug.tar.gz"
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := h.Exec(ctx, nil, bin, "debug", "--out", out, "--timeout", "60s")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("debug: exit %d, err %v\n%s\n%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	took := time.Since(start)
	if mode := strings.TrimSpace(h.Run(t, 30*time.Second, "stat", "-c", "%a", out)); mode != "600" {
		t.Errorf("the archive's mode is %s, want 600", mode)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Run(t, time.Minute, "base64", "-w0", out)))
	if err != nil {
		t.Fatalf("decode the archive: %v", err)
	}
	t.Logf("debug took %s: %s", took.Round(time.Millisecond), strings.TrimSpace(res.Stdout))
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the archive is no gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	entries := map[string][]byte{}
	var listing strings.Builder
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read the archive: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", hdr.Name, err)
		}
		_, name, _ := strings.Cut(hdr.Name, "/")
		entries[name] = b
		if hdr.Mode != 0o600 {
			t.Errorf("entry %s has mode %o, want 600", hdr.Name, hdr.Mode)
		}
		listing.WriteString(hdr.Name + " " + strconv.Itoa(len(b)) + "\n")
	}
	t.Logf("archive of %d bytes, %d entries:\n%s", len(raw), len(entries), listing.String())
	var idx debug.Index
	if err := json.Unmarshal(entries[debug.IndexName], &idx); err != nil {
		t.Fatalf("index.json: %v\n%s", err, entries[debug.IndexName])
	}
	t.Logf("MANIFEST.txt:\n%s", entries[debug.ManifestName])
	return entries, idx
}

// wantEntries fails the test for each name missing from the archive.
func wantEntries(t *testing.T, entries map[string][]byte, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := entries[n]; !ok {
			t.Errorf("the archive has no %s", n)
		}
	}
}

// noSecretInArchive: no entry holds the bootstrap token's secret, a
// presigned signature or a private key's body.
func noSecretInArchive(t *testing.T, entries map[string][]byte) {
	t.Helper()
	secret := tokenSecret(t)
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for what, s := range map[string]string{"the bootstrap token's secret": secret, "a presigned signature": "q-signature", "a private key's body": "PRIVATE KEY-----\nMI"} {
			if bytes.Contains(entries[n], []byte(s)) {
				t.Errorf("%s holds %s", n, what)
			}
		}
	}
}

// indexEntry is the index's line of the entry name.
func indexEntry(idx debug.Index, name string) *debug.Entry {
	for i := range idx.Entries {
		if idx.Entries[i].Name == name {
			return &idx.Entries[i]
		}
	}
	return nil
}

// TestDebugOnAJoinedNodeCollectsARedactedArchive: on a joined node, debug
// writes a 0600 archive with the status, the journal, install's log, the
// units' state and journal lines, the rendered configs and kubeconfigs,
// the user script's log, versions and the host's network; the index says
// how each command went; no entry holds a secret.
func TestDebugOnAJoinedNodeCollectsARedactedArchive(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	mustInstall(t, h, bin)

	entries, idx := debugArchive(t, h, bin)
	wantEntries(t, entries,
		debug.IndexName, debug.ManifestName, debug.VersionName, debug.StatusName,
		"files/var/lib/add2tkectl/state.json",
		"files/var/log/add2tkectl/add2tkectl.log",
		"files/usr/local/qcloud/tke/userscript/userscript.log",
		"files/usr/local/qcloud/tke/userscript/last-run.json",
		"files/etc/containerd/config.toml",
		"files/etc/kubernetes/kubelet.conf",
		"files/etc/kubernetes/bootstrap-kubelet.conf",
		"commands/systemctl-show-kubelet.service.txt",
		"commands/systemctl-show-containerd.service.txt",
		"commands/journalctl-kubelet.service.txt",
		"commands/journalctl-add2tkectl-install.service.txt",
		"commands/kubelet-version.txt",
		"commands/containerd-version.txt",
		"commands/uname.txt", "files/etc/os-release", "files/proc/self/mountinfo",
		"commands/ip-addr.txt", "commands/ip-route.txt", "commands/iptables-save.txt",
	)
	var rep struct {
		Healthy bool `json:"healthy"`
		Node    struct {
			Ready bool `json:"ready"`
		} `json:"node"`
	}
	if err := json.Unmarshal(entries[debug.StatusName], &rep); err != nil || !rep.Node.Ready {
		t.Errorf("status.json (err %v) does not show the Ready node:\n%s", err, entries[debug.StatusName])
	}
	if s := string(entries["commands/systemctl-show-kubelet.service.txt"]); !strings.Contains(s, "ActiveState=active") {
		t.Errorf("systemctl show kubelet.service says no ActiveState=active:\n%s", s)
	}
	if s := string(entries["commands/kubelet-version.txt"]); !strings.Contains(s, "Kubernetes v") {
		t.Errorf("kubelet --version: %q", s)
	}
	if !strings.Contains(string(entries["commands/ip-addr.txt"]), h.IP) {
		t.Errorf("ip addr lacks the host's address %s", h.IP)
	}
	for _, name := range []string{"commands/systemctl-show-kubelet.service.txt", "commands/iptables-save.txt"} {
		e := indexEntry(idx, name)
		if e == nil || e.Status != debug.StatusOK || e.ExitCode == nil || *e.ExitCode != 0 || e.Size != int64(len(entries[name])) {
			t.Errorf("index entry of %s: %+v, want ok, exit 0, size %d", name, e, len(entries[name]))
		}
	}
	// The bootstrap kubeconfig held the token: masked, the id kept.
	if s := string(entries["files/etc/kubernetes/bootstrap-kubelet.conf"]); !strings.Contains(s, "REDACTED") {
		t.Errorf("bootstrap-kubelet.conf shows no redaction:\n%s", s)
	}
	noSecretInArchive(t, entries)
}

// TestDebugOnAFailedInstallStillCollects: on a host whose install failed
// (its manifest is nowhere), debug finishes quickly with the journal that
// names the failed phase, install's log, and absent units recorded, never
// fatal; no entry holds a secret.
func TestDebugOnAFailedInstallStillCollects(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	code, _, stderr := install(t, h, bin, "--set", "artifacts.manifestURL=http://10.77.0.1:8080/no-such-bucket/manifest.json")
	if code == 0 {
		t.Fatalf("install with a manifest that is nowhere exited 0:\n%s", stderr)
	}
	t.Logf("install failed as meant, exit %d", code)

	entries, idx := debugArchive(t, h, bin)
	wantEntries(t, entries,
		debug.IndexName, debug.ManifestName, debug.StatusName,
		"files/var/lib/add2tkectl/state.json",
		"files/var/log/add2tkectl/add2tkectl.log",
		"commands/systemctl-show-kubelet.service.txt",
		"commands/uname.txt", "commands/ip-route.txt",
	)
	if idx.TimedOut {
		t.Error("debug on a failed install reached its timeout")
	}
	if _, ok := entries["commands/kubelet-version.txt"]; ok {
		t.Error("a kubelet version of a host where none was installed")
	}
	if e := indexEntry(idx, "commands/systemctl-show-kubelet.service.txt"); e == nil || e.ExitCode == nil {
		t.Errorf("index entry of systemctl show kubelet.service: %+v, want its exit status", e)
	}
	if s := string(entries["files/var/lib/add2tkectl/state.json"]); !strings.Contains(s, `"failed"`) {
		t.Errorf("the journal in the archive names no failed phase:\n%s", s)
	}
	if !strings.Contains(string(entries["files/var/log/add2tkectl/add2tkectl.log"]), "no-such-bucket") {
		t.Error("install's log in the archive does not mention the manifest URL that failed")
	}
	noSecretInArchive(t, entries)
}
