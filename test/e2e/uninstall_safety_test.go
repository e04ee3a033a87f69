//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// operatorFiles lists the operator's directories the safety test puts in
// uninstall's way, as path, type, mode, owner, size, and sha256: equal
// before and after means byte-identical with the same modes.
const operatorFiles = `
set -euo pipefail
find /srv/pv1 /srv/opdata -printf '%p %y %m %u:%g %s\n' | sort
find /srv/pv1 /srv/opdata -type f -print0 | xargs -0 sha256sum | sort
`

// runUninstallWith runs `uninstall -o json` with environment variables
// (NAME=value) in front, as an operator would from a shell.
func runUninstallWith(t *testing.T, h *Host, envs []string, bin string, args ...string) uninstallResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := append(append([]string{"env"}, envs...), append([]string{bin, "uninstall", "-o", "json", "--no-progress"}, args...)...)
	res, err := h.Exec(ctx, nil, cmd...)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("uninstall %v %v: exit %d, %v\nstdout:\n%s\nstderr:\n%s", envs, args, res.ExitCode, err, res.Stdout, res.Stderr)
	}
	var r uninstallResult
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("uninstall printed no result: %v\n%s", err, res.Stdout)
	}
	return r
}

// TestUninstallKeepsDataBehindSymlinksAndBindMounts: before install the
// operator moved the kubelet's root to a data disk (/var/lib/kubelet ->
// /data/kubelet) and has /srv/opdata, files named like containerd's in it.
// After install, a local PV (/srv/pv1) is bind-mounted into a pod's
// volumes under /data/kubelet. Uninstall, run with
// ADD2TKE_NODEPOOL_RUNTIME_DATADIR=/srv/opdata (a data dir install never
// gave the runtime), unmounts the PV and leaves it byte-identical, leaves
// /srv/opdata as it was, keeps the operator's symlink and empties what it
// points to; the host is otherwise as before install. A second uninstall
// with --set pointing at /srv/opdata changes nothing.
func TestUninstallKeepsDataBehindSymlinksAndBindMounts(t *testing.T) {
	h := env.FreshHost(t, uninstallHost)
	bin := h.InstallBundle(t, env.Bundle(t))
	h.Sh(t, time.Minute, `
		mkdir -p /data/kubelet /srv/pv1/sub /srv/opdata/io.containerd.content.v1.content /srv/opdata/tmpmounts
		ln -s /data/kubelet /var/lib/kubelet
		echo 'local PV data' > /srv/pv1/pv.img && chmod 0640 /srv/pv1/pv.img
		echo 'notes' > /srv/pv1/sub/notes.txt && chmod 0600 /srv/pv1/sub/notes.txt && chmod 0750 /srv/pv1/sub
		echo 'operator blob' > /srv/opdata/io.containerd.content.v1.content/blob
		echo 'operator mount list' > /srv/opdata/tmpmounts/list && chmod 0751 /srv/opdata`)
	before := snapshot(t, h)
	files := h.Sh(t, time.Minute, operatorFiles)

	joinWithPod(t, h, bin)
	pv := "/data/kubelet/pods/x/volumes/kubernetes.io~local-volume/pv1"
	h.Sh(t, time.Minute, `
		mkdir -p `+pv+`
		mount --bind /srv/pv1 `+pv+`
		test "$(cat /var/lib/kubelet/pods/x/volumes/kubernetes.io~local-volume/pv1/pv.img)" = 'local PV data'`)

	r := runUninstallWith(t, h, []string{"ADD2TKE_NODEPOOL_RUNTIME_DATADIR=/srv/opdata"}, bin)
	if !r.Changed {
		t.Error("uninstall changed nothing")
	}
	t.Logf("uninstall warnings: %q", r.Warnings)
	if got := h.Sh(t, time.Minute, operatorFiles); got != files {
		t.Errorf("the operator's files changed:\nbefore:\n%s\nafter:\n%s", files, got)
	}
	if out := h.Sh(t, time.Minute, `grep -c ' /data/kubelet' /proc/self/mountinfo || true`); strings.TrimSpace(out) != "0" {
		t.Errorf("%s mounts left under /data/kubelet", strings.TrimSpace(out))
	}
	if link := h.Sh(t, time.Minute, `readlink /var/lib/kubelet; ls -A /data/kubelet`); link != "/data/kubelet\n" {
		t.Errorf("/var/lib/kubelet and /data/kubelet after uninstall: %q, want the symlink kept and its target emptied", link)
	}
	if d := diffSnapshots(before, snapshot(t, h)); len(d) > 0 {
		t.Errorf("the host differs from before install (-before +after):\n%s", strings.Join(d, "\n"))
	}

	r2 := runUninstallWith(t, h, nil, bin, "--set", "nodePool.runtime.dataDir=/srv/opdata")
	if r2.Changed || len(r2.Plan) != 0 {
		t.Errorf("second uninstall with --set: changed %v, plan %v", r2.Changed, r2.Plan)
	}
	if got := h.Sh(t, time.Minute, operatorFiles); got != files {
		t.Errorf("the operator's files changed with --set:\nbefore:\n%s\nafter:\n%s", files, got)
	}
}
