//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The collection is proven by ansible-playbook over SSH against the real
// hosts (STYLE.md 10): scripts/e2e/fleet.sh made the key pair, the hosts
// authorize it, and ANSIBLE_COLLECTIONS_PATH finds add2tke.node as an
// installed collection.

// collectionsPath is a collections path of this test run in which
// add2tke.node is this checkout's packaging/ansible, as an installed
// collection: the environment's own (ANSIBLE_COLLECTIONS_PATH) follows
// whichever checkout last asked scripts/e2e/env.
func collectionsPath(t *testing.T) string {
	t.Helper()
	collectionsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "add2tkectl-e2e-collections.")
		if err == nil {
			ns := filepath.Join(dir, "ansible_collections", "add2tke")
			if err = os.MkdirAll(ns, 0o755); err == nil {
				err = os.Symlink(filepath.Join(env.Root, "packaging/ansible"), filepath.Join(ns, "node"))
			}
		}
		collectionsDir, collectionsErr = dir, err
	})
	if collectionsErr != nil {
		t.Fatalf("a collections path for add2tke.node: %v", collectionsErr)
	}
	return collectionsDir
}

var (
	collectionsOnce sync.Once
	collectionsDir  string
	collectionsErr  error
)

// fleet is a rollout of the tests: its hosts, an inventory of one node-pool
// group carrying a bundle of its own, and a stage directory of its own.
type fleet struct {
	hosts     []*Host
	inventory string
	stage     string
	hostsYAML string
}

func newFleet(t *testing.T, names ...string) *fleet {
	t.Helper()
	bundle := env.Bundle(t)
	f := &fleet{stage: t.TempDir(), inventory: filepath.Join(t.TempDir(), "inventory.yml")}
	var hosts strings.Builder
	for _, n := range names {
		h := env.FreshHost(t, n)
		// scripts/e2e/exec marks the host touched, so the next reset reboots it
		// even though ansible-playbook reached it over SSH only.
		h.Run(t, 10*time.Second, "test", "-s", "/root/.ssh/authorized_keys")
		f.hosts = append(f.hosts, h)
		fmt.Fprintf(&hosts, "        %s: {ansible_host: %s}\n", h.Name, h.IP)
	}
	f.hostsYAML = hosts.String()
	f.useBundle(t, bundle)
	return f
}

// useBundle (re)writes the inventory: the pool's group carries bundle, as
// an operator points it at the console's new bundle for an upgrade.
func (f *fleet) useBundle(t *testing.T, bundle string) {
	t.Helper()
	state := env.Var(t, "E2E_STATE")
	inv := fmt.Sprintf(`all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: %[1]s/ssh/id_ed25519
    ansible_ssh_common_args: -o UserKnownHostsFile=%[1]s/ssh/known_hosts -o StrictHostKeyChecking=yes
    ansible_python_interpreter: /usr/bin/python3
    add2tkectl_stage_dir: %[2]s
  children:
    np_e2e0pool:
      vars:
        add2tkectl_binary: %[3]s
        add2tkectl_bundle_dir: %[4]s
      hosts:
%[5]s`, state, f.stage, filepath.Base(bundle), filepath.Dir(bundle), f.hostsYAML)
	if err := os.WriteFile(f.inventory, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
}

// play is one ansible-playbook run: its output and the recap per host.
type play struct {
	out   string
	rc    int
	recap map[string]map[string]int
	took  time.Duration
}

var recapLine = regexp.MustCompile(`(?m)^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)`)

func (f *fleet) run(t *testing.T, playbook string, args ...string) play {
	t.Helper()
	path := filepath.Join(env.Root, "packaging/ansible/playbooks", playbook)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", append([]string{"-i", f.inventory, path}, args...)...)
	cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+collectionsPath(t),
		"ANSIBLE_FORCE_COLOR=0", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=1",
		"ANSIBLE_RETRY_FILES_SAVE_PATH="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	p := play{out: out.String(), took: time.Since(start), recap: map[string]map[string]int{}}
	if ee, ok := err.(*exec.ExitError); ok {
		p.rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ansible-playbook %s: %v\n%s", playbook, err, p.out)
	}
	for _, m := range recapLine.FindAllStringSubmatch(p.out, -1) {
		c := map[string]int{}
		for i, k := range []string{"ok", "changed", "unreachable", "failed", "skipped", "rescued"} {
			var n int
			fmt.Sscan(m[i+2], &n)
			c[k] = n
		}
		p.recap[m[1]] = c
	}
	t.Logf("ansible-playbook %s %v: rc %d in %s", playbook, args, p.rc, p.took.Round(time.Millisecond))
	return p
}

// objectStats is what the artifact server answered for one object.
type objectStats struct {
	Requests, Bytes int64
	Status          map[string]int // HTTP status -> count
}

// cosStats is the artifact server's bytes, requests and statuses per object.
func cosStats(t *testing.T, method string) map[string]objectStats {
	t.Helper()
	req, _ := http.NewRequest(method, env.Var(t, "ARTIFACT_URL")+"/_stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]objectStats{}
	if method == http.MethodGet {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestAnsibleInstallsFleetOnceStagedThenNoOp: install.yml joins three fresh
// hosts through the canary batches; every artifact is served once for the
// three; a second run changes nothing and restarts no service; uninstall.yml
// gives the hosts back, and its second run changes nothing.
func TestAnsibleInstallsFleetOnceStagedThenNoOp(t *testing.T) {
	f := newFleet(t, "host1", "host2", "host3")
	cosStats(t, http.MethodDelete)
	p := f.run(t, "install.yml", "-v")
	if p.rc != 0 {
		t.Fatalf("install.yml: rc %d\n%s", p.rc, p.out)
	}
	noSecretIn(t, "install.yml -v", p.out)
	if !strings.Contains(p.out, "Roll out") || strings.Count(p.out, "PLAY [Roll out]") != 3 {
		t.Errorf("want three batches (serial [1, 25%%] of 3 hosts), got %d", strings.Count(p.out, "PLAY [Roll out]"))
	}
	for _, h := range f.hosts {
		if p.recap[h.Name]["changed"] == 0 {
			t.Errorf("%s: install.yml reported no change on a fresh host", h.Name)
		}
		n, err := env.WaitNodeReady(context.Background(), h.Name)
		if err != nil {
			t.Fatal(err)
		}
		if n.Labels["example.com/rack"] != "r42" {
			t.Errorf("%s: labels %v, want the pool's example.com/rack=r42", h.Name, n.Labels)
		}
	}
	var payload struct{ Artifacts []artifact }
	if err := json.Unmarshal(mustRead(t, env.Var(t, "ARTIFACT_PAYLOAD")), &payload); err != nil {
		t.Fatal(err)
	}
	stats := cosStats(t, http.MethodGet)
	var total int64
	for _, a := range payload.Artifacts {
		if a.Arch != "amd64" && a.Arch != "" {
			continue
		}
		for _, u := range a.URLs {
			obj := u
			if i := strings.Index(obj, "?"); i >= 0 {
				obj = obj[:i]
			}
			obj = obj[strings.LastIndex(obj, "/"):]
			for k, s := range stats {
				if strings.HasSuffix(k, obj) && s.Bytes > a.Size {
					t.Errorf("%s served %d bytes for three hosts, want one copy (%d)", k, s.Bytes, a.Size)
				}
			}
		}
	}
	for _, s := range stats {
		total += s.Bytes
	}
	t.Logf("COS served %d bytes for three hosts (staged)", total)

	units := map[string]string{}
	for _, h := range f.hosts {
		units[h.Name] = h.Run(t, 10*time.Second, "systemctl", "show", "-p", "ExecMainStartTimestampMonotonic", "kubelet", "containerd")
	}
	p = f.run(t, "install.yml")
	if p.rc != 0 {
		t.Fatalf("second install.yml: rc %d\n%s", p.rc, p.out)
	}
	for _, h := range f.hosts {
		if p.recap[h.Name]["changed"] != 0 {
			t.Errorf("%s: second install.yml changed=%d, want 0", h.Name, p.recap[h.Name]["changed"])
		}
		if got := h.Run(t, 10*time.Second, "systemctl", "show", "-p", "ExecMainStartTimestampMonotonic", "kubelet", "containerd"); got != units[h.Name] {
			t.Errorf("%s: a service restarted on the no-op run: %q -> %q", h.Name, units[h.Name], got)
		}
	}
	check := f.run(t, "install.yml", "--check")
	for _, h := range f.hosts {
		if check.recap[h.Name]["changed"] != 0 {
			t.Errorf("%s: --check on a joined host changed=%d, want 0", h.Name, check.recap[h.Name]["changed"])
		}
	}

	upgradeFleet(t, f)

	p = f.run(t, "uninstall.yml")
	if p.rc != 0 {
		t.Fatalf("uninstall.yml: rc %d\n%s", p.rc, p.out)
	}
	for _, h := range f.hosts {
		if p.recap[h.Name]["changed"] == 0 {
			t.Errorf("%s: uninstall.yml reported no change on a joined host", h.Name)
		}
	}
	p = f.run(t, "uninstall.yml")
	for _, h := range f.hosts {
		if p.rc != 0 || p.recap[h.Name]["changed"] != 0 {
			t.Errorf("%s: second uninstall.yml rc %d changed=%d, want 0", h.Name, p.rc, p.recap[h.Name]["changed"])
		}
	}
}

// TestAnsibleCheckModeLeavesFreshHostAsItWas: --check --diff on a fresh host
// reports changed and the phases, and the host is identical before and after
// (what the SSH login itself writes aside: ansible's remote_tmp and the
// motd pam_motd renders at each login).
func TestAnsibleCheckModeLeavesFreshHostAsItWas(t *testing.T) {
	f := newFleet(t, "host1")
	h := f.hosts[0]
	before := snapshot(t, h)
	p := f.run(t, "install.yml", "--check", "--diff")
	if p.rc != 0 || p.recap["host1"]["changed"] == 0 {
		t.Fatalf("--check on a fresh host: rc %d changed=%d, want changed\n%s", p.rc, p.recap["host1"]["changed"], p.out)
	}
	if !strings.Contains(p.out, "install would run download") {
		t.Errorf("--diff does not list the phases install would run:\n%s", p.out)
	}
	var diff []string
	for _, l := range diffSnapshots(before, snapshot(t, h)) {
		if !strings.Contains(l, "/root/.ansible") && !strings.Contains(l, "/run/motd.dynamic") {
			diff = append(diff, l)
		}
	}
	if len(diff) > 0 {
		t.Errorf("--check changed the host:\n%s", strings.Join(diff, "\n"))
	}
}

// TestAnsibleFailingCanaryStopsRollout: port 10250 taken on the canary fails
// its preflight; the later batches are untouched, and the summary names the
// host and the check.
func TestAnsibleFailingCanaryStopsRollout(t *testing.T) {
	f := newFleet(t, "host1", "host2")
	f.hosts[0].Run(t, 10*time.Second, "systemd-run", "--unit=port-squatter", "python3", "-m", "http.server", "10250")
	time.Sleep(500 * time.Millisecond) // python binds in ms; preflight reports it either way
	p := f.run(t, "install.yml")
	if p.rc == 0 {
		t.Fatalf("install.yml succeeded with port 10250 taken on the canary\n%s", p.out)
	}
	if p.recap["host1"]["failed"] == 0 {
		t.Errorf("host1 not failed in the recap:\n%s", p.out)
	}
	if !regexp.MustCompile(`host1: install failed: preflight: .*10250`).MatchString(p.out) {
		t.Errorf("the summary does not name host1 and the failed check:\n%s", p.out)
	}
	if res, _ := f.hosts[1].Exec(context.Background(), nil, "test", "-e", "/var/lib/add2tkectl/state.json"); res.ExitCode == 0 {
		t.Error("host2, of a later batch, was installed after the canary failed")
	}
}

// TestAnsibleCollectionLints: ansible-lint's production profile passes and
// every playbook passes --syntax-check.
func TestAnsibleCollectionLints(t *testing.T) {
	dir := filepath.Join(env.Root, "packaging/ansible")
	cmd := exec.Command("ansible-lint", "--profile", "production", "galaxy.yml", "meta", "playbooks", "roles")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+collectionsPath(t), "NO_COLOR=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("ansible-lint --profile production: %v\n%s", err, out)
	}
	books, _ := filepath.Glob(filepath.Join(dir, "playbooks", "*.yml"))
	if len(books) < 3 {
		t.Fatalf("playbooks: %v", books)
	}
	for _, b := range books {
		cmd := exec.Command("ansible-playbook", "-i", "localhost,", "--syntax-check", b)
		cmd.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+collectionsPath(t))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("--syntax-check %s: %v\n%s", filepath.Base(b), err, out)
		}
	}
}

// noSecretIn: neither the bootstrap token's secret nor a presigned
// signature is in what Ansible printed.
func noSecretIn(t *testing.T, what, out string) {
	t.Helper()
	secret := tokenSecret(t)
	if !strings.Contains(out, "install") {
		t.Fatalf("%s printed nothing of install: the scan would prove nothing", what)
	}
	for name, s := range map[string]string{"the bootstrap token's secret": secret, "a presigned signature": "q-signature"} {
		if strings.Contains(out, s) {
			t.Errorf("%s prints %s", what, name)
		}
	}
}

// upgradeFleet rolls new bundles out over the joined fleet with
// upgrade.yml: one whose kubelet is newer than the control plane is refused
// before any host changes; one with containerd 2 goes batch by batch through
// the health gate, each Node the same object on the new runtime; a second
// run changes nothing.
func upgradeFleet(t *testing.T, f *fleet) {
	t.Helper()
	before := map[string]string{}
	for _, h := range f.hosts {
		before[h.Name] = h.Sh(t, 30*time.Second, "sha256sum /usr/local/bin/add2tkectl-*; systemctl show -p ExecMainStartTimestampMonotonic kubelet containerd")
	}
	newer := env.Bundle(t, "E2E_POOL_KUBERNETES_VERSION=1.36.0")
	f.useBundle(t, newer)
	p := f.run(t, "upgrade.yml")
	if p.rc == 0 {
		t.Fatalf("upgrade.yml to a kubelet 1.36.0 on a v1.35 control plane succeeded:\n%s", p.out)
	}
	if !strings.Contains(p.out, "newer than the API server") || !strings.Contains(p.out, "no host was changed") {
		t.Errorf("upgrade.yml's refusal does not say the kubelet is newer than the API server:\n%s", p.out)
	}
	if strings.Contains(p.out, "PLAY [Roll out]") && strings.Contains(p.out, "TASK [add2tke.node.add2tkectl : Install (join the cluster)]") {
		t.Errorf("upgrade.yml went on to the rollout after the version gate failed")
	}
	for _, h := range f.hosts {
		if got := h.Sh(t, 30*time.Second, "sha256sum /usr/local/bin/add2tkectl-*; systemctl show -p ExecMainStartTimestampMonotonic kubelet containerd"); got != before[h.Name] {
			t.Errorf("%s changed although the version gate refused the upgrade:\n%s\n->\n%s", h.Name, before[h.Name], got)
		}
	}

	uids := map[string]string{}
	for _, h := range f.hosts {
		uids[h.Name] = string(getNode(t, h.Name).UID)
	}
	state := env.Var(t, "E2E_STATE")
	rt2 := env.Bundle(t, "E2E_POOL_RUNTIME_VERSION="+containerd2Version, "E2E_POOL_MANIFEST_URL_FILE="+filepath.Join(state, "manifest-url-containerd2"))
	f.useBundle(t, rt2)
	p = f.run(t, "upgrade.yml")
	if p.rc != 0 {
		t.Fatalf("upgrade.yml to containerd %s: rc %d\n%s", containerd2Version, p.rc, p.out)
	}
	t.Logf("upgrade.yml (containerd %s, three hosts): %s", containerd2Version, p.took.Round(time.Millisecond))
	if n := strings.Count(p.out, "PLAY [Roll out]"); n != 3 {
		t.Errorf("upgrade.yml rolled out in %d batches, want 3 (serial [1, 25%%] of 3 hosts)", n)
	}
	if !strings.Contains(p.out, "kubelet 1.35.4, API server v1.35.4") {
		t.Errorf("upgrade.yml does not show the version gate's verdict:\n%s", p.out)
	}
	for _, h := range f.hosts {
		if p.recap[h.Name]["changed"] == 0 {
			t.Errorf("%s: upgrade.yml reported no change", h.Name)
		}
		// The kubelet reports the new runtime at its next node status update.
		n := getNode(t, h.Name)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := poll(ctx, func(context.Context) (bool, error) {
			n = getNode(t, h.Name)
			return n.Status.NodeInfo.ContainerRuntimeVersion == "containerd://"+containerd2Version, nil
		})
		cancel()
		if err != nil {
			t.Errorf("%s: Node runtime %q after the upgrade, want containerd://%s", h.Name, n.Status.NodeInfo.ContainerRuntimeVersion, containerd2Version)
		}
		if string(n.UID) != uids[h.Name] {
			t.Errorf("%s: the upgrade made a new Node object", h.Name)
		}
	}
	p = f.run(t, "upgrade.yml")
	for _, h := range f.hosts {
		if p.rc != 0 || p.recap[h.Name]["changed"] != 0 {
			t.Errorf("%s: second upgrade.yml rc %d changed=%d, want 0", h.Name, p.rc, p.recap[h.Name]["changed"])
		}
	}
}

// TestAnsibleRolloutOutlivesItsLinks: every presigned link of the pool's
// manifest expires shortly after the controller staged the artifacts; the
// hosts of the later batch install after that, from the staged copy, and
// the rollout succeeds (the signed manifest is still verified on each host).
func TestAnsibleRolloutOutlivesItsLinks(t *testing.T) {
	const validity = 45 * time.Second
	state := env.Var(t, "E2E_STATE")
	f := newFleet(t, "host1", "host2")
	// Published last, so that the links' time runs from the rollout's start.
	publish := exec.Command(filepath.Join(env.Root, "scripts/e2e/artifacts.sh"), "publish-short", "manifest-short", fmt.Sprint(int(validity.Seconds())))
	if out, err := publish.CombinedOutput(); err != nil {
		t.Fatalf("artifacts.sh publish-short: %v\n%s", err, out)
	}
	expires := time.Now().Add(validity)
	urlFile := filepath.Join(state, "manifest-url-manifest-short")
	f.useBundle(t, env.Bundle(t, "E2E_POOL_MANIFEST_URL_FILE="+urlFile))
	p := f.run(t, "install.yml", "-e", `{"add2tkectl_serial": [1]}`)
	if p.rc != 0 {
		t.Fatalf("install.yml with links that expire at %s: rc %d\n%s", expires.Format(time.TimeOnly), p.rc, p.out)
	}
	// The later host's install began after every link had expired.
	last := mustJournal(t, f.hosts[1]).phase("download")
	if last == nil || last.StartedAt == nil {
		t.Fatalf("%s: no download phase in its journal", f.hosts[1].Name)
	}
	if !last.StartedAt.After(expires) {
		t.Fatalf("%s installed at %s, before the links expired at %s: the test proves nothing (the rollout was faster than %s)",
			f.hosts[1].Name, last.StartedAt.Format(time.TimeOnly), expires.Format(time.TimeOnly), validity)
	}
	t.Logf("links expired at %s; %s installed from the staged copy at %s", expires.Format(time.TimeOnly), f.hosts[1].Name, last.StartedAt.Format(time.TimeOnly))
	resp, err := http.Get(strings.TrimSpace(string(mustRead(t, urlFile))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the manifest link answers %d after its expiry, want 403: the links did not expire", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, h := range f.hosts {
		if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
			t.Error(err)
		}
	}
}
