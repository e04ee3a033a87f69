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
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// firstBootTimeout bounds one boot: cloud-init's stages and the first-boot
// unit's start job, which lasts until install succeeds or gives up.
const firstBootTimeout = 12 * time.Minute

// userData runs `<bundle> cloud-init --url url` on this machine, as an
// operator would, and returns the path of the user-data it printed.
func userData(t *testing.T, bundle, url string) string {
	t.Helper()
	out, err := exec.Command(bundle, "cloud-init", "--url", url).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s cloud-init --url %s: %v\n%s", filepath.Base(bundle), url, err, stderr)
	}
	path := filepath.Join(t.TempDir(), "user-data")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// boot is one boot-with-cloud-init: what it printed (cloud-init status
// --long) and cloud-init's status exit code.
type boot struct {
	Output string
	Status int
	Took   time.Duration
}

// BootWithCloudInit boots name fresh with userData as its NoCloud seed
// (scripts/e2e/boot-with-cloud-init) and returns when cloud-init is done and
// the boot finished (the first-boot unit's start job included).
func (e *Env) BootWithCloudInit(t *testing.T, name, userData string) (*Host, boot) {
	t.Helper()
	h := e.cloudInitHost(t, name)
	b, err := h.bootWithCloudInit(context.Background(), userData)
	if err != nil {
		t.Fatalf("boot-with-cloud-init %s: %v\n%s", name, err, b.Output)
	}
	return h, b
}

func (e *Env) cloudInitHost(t *testing.T, name string) *Host {
	h := &Host{Name: name, IP: "10.77.0.1" + strings.TrimPrefix(name, "host"), env: e}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_LOGS_ALWAYS") != "" {
			e.CollectLogs(t, h)
		}
	})
	return h
}

// bootWithCloudInit runs the script; err is set only when it could not run
// or timed out (a cloud-init error is b.Status).
func (h *Host) bootWithCloudInit(ctx context.Context, userData string) (boot, error) {
	ctx, cancel := context.WithTimeout(ctx, firstBootTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(h.env.Root, "scripts/e2e/boot-with-cloud-init"), h.Name, userData)
	cmd.Env = append(os.Environ(), fmt.Sprintf("E2E_BOOT_TIMEOUT=%d", int(firstBootTimeout.Seconds())-60))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, all killed when ctx ends: a host powered off
	// mid-boot leaves host.sh waiting for a boot that will never finish.
	// (systemd-nspawn runs in a session of its own and is not in it.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	b := boot{Output: out.String(), Took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		b.Status, err = ee.ExitCode(), nil
	}
	return b, err
}

// reboot kills the host's PID 1 (power loss) and boots it again on the same
// disk: its overlay and data dirs stay, cloud-init finds the same instance.
func (h *Host) reboot(t *testing.T) time.Duration {
	t.Helper()
	h.powerOff(t)
	start := time.Now()
	h.hostScript(t, "boot")
	return time.Since(start)
}

func (h *Host) powerOff(t *testing.T) {
	t.Helper()
	h.hostScript(t, "kill")
}

func (h *Host) hostScript(t *testing.T, verb string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), firstBootTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(h.env.Root, "scripts/e2e/host.sh"), verb, h.Name)
	cmd.Env = append(os.Environ(), fmt.Sprintf("E2E_BOOT_TIMEOUT=%d", int(firstBootTimeout.Seconds())-60))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("host.sh %s %s: %v\n%s", verb, h.Name, err, out)
	}
}

// firstBootResult reads the host's /var/lib/add2tkectl/firstboot.json and checks its mode.
func firstBootResult(t *testing.T, h *Host) firstboot.Result {
	t.Helper()
	out := h.Sh(t, 30*time.Second, `stat -c %a `+firstboot.ResultPath+`; cat `+firstboot.ResultPath)
	mode, body, _ := strings.Cut(out, "\n")
	if mode != "600" {
		t.Errorf("%s has mode %s, want 600", firstboot.ResultPath, mode)
	}
	var r firstboot.Result
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %v\n%s", firstboot.ResultPath, err, body)
	}
	return r
}

// unitState is the first-boot unit's ActiveState/Result/NRestarts.
func unitState(t *testing.T, h *Host) map[string]string {
	t.Helper()
	out := h.Run(t, 30*time.Second, "systemctl", "show", firstboot.UnitName, "-p", "ActiveState,Result,NRestarts,UnitFileState")
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// firstBootNode waits until the first-boot unit has finished (cloud-init
// returns as soon as it is started, and the Node turns Ready before
// install's later phases, the cordon's lift among them, have run), then
// returns the Ready Node.
func firstBootNode(t *testing.T, h *Host, timeout time.Duration) *corev1.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		res, err := h.Exec(ctx, nil, "systemctl", "show", firstboot.UnitName, "-p", "ActiveState", "--value")
		if err != nil {
			return false, nil
		}
		last = strings.TrimSpace(res.Stdout)
		return last == "inactive" || last == "failed", nil
	})
	if err != nil {
		t.Fatalf("%s still %q after %s: %v", firstboot.UnitName, last, timeout, err)
	}
	n, err := env.WaitNodeReady(ctx, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// statusFirstBoot is status -o json's firstBoot.
func statusFirstBoot(t *testing.T, h *Host, bin string) *firstboot.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := h.Exec(ctx, nil, bin, "status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		FirstBoot *firstboot.Result `json:"firstBoot"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("status -o json (exit %d): %v\n%s\n%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	return rep.FirstBoot
}

// noSecretInCloudInitLogs: neither the bootstrap token's secret nor a
// presigned signature is in cloud-init's logs or the user-data it kept.
func noSecretInCloudInitLogs(t *testing.T, h *Host) {
	t.Helper()
	secret := tokenSecret(t)
	logs := h.Sh(t, 30*time.Second, `cat /var/log/cloud-init*.log; cat /var/lib/cloud/instance/user-data.txt`)
	if !strings.Contains(logs, "add2tkectl") {
		t.Fatalf("cloud-init's logs do not mention add2tkectl: the scan would prove nothing\n%s", logs)
	}
	for what, s := range map[string]string{"the bootstrap token's secret": secret, "a presigned signature": "q-signature"} {
		if strings.Contains(logs, s) {
			t.Errorf("%s is in cloud-init's logs", what)
		}
	}
}

// tokenSecret is the secret half of the environment's bootstrap token, the
// string a scan for leaks looks for.
func tokenSecret(t *testing.T) string {
	t.Helper()
	token := strings.TrimSpace(string(mustRead(t, env.Var(t, "BOOTSTRAP_TOKEN_FILE"))))
	_, secret, _ := strings.Cut(token, ".")
	if secret == "" {
		t.Fatalf("no bootstrap token secret in %s", env.Var(t, "BOOTSTRAP_TOKEN_FILE"))
	}
	return secret
}

// bundledName is the bundle's path in the host, where the user-data puts it.
func bundledName() string {
	return "/usr/local/bin/" + filepath.Base(env.Vars["BUNDLE"])
}

// TestFirstBootJoinsThenLaterBootsChangeNothing: a fresh host booted with
// the user-data `cloud-init --url` makes joins with the pool's settings,
// cloud-init done and the unit inactive with success; no secret in
// cloud-init's logs. A second boot of the joined host runs an install that
// changes nothing: no phase ran, no service restarted beyond the boot, the
// same Node.
func TestFirstBootJoinsThenLaterBootsChangeNothing(t *testing.T) {
	ud := userData(t, env.Var(t, "BUNDLE"), env.Var(t, "BUNDLE_URL"))
	h, b := env.BootWithCloudInit(t, "host1", ud)
	t.Logf("boot with cloud-init: %s (status exit %d)\n%s", b.Took.Round(time.Millisecond), b.Status, b.Output)
	if b.Status != 0 || !strings.Contains(b.Output, "status: done") {
		t.Fatalf("cloud-init status exit %d, want 0 and done:\n%s", b.Status, b.Output)
	}
	n := firstBootNode(t, h, 3*time.Minute)
	t.Logf("boot start to Node Ready: %s", b.Took.Round(time.Second))
	checkPoolNode(t, h, n, false)
	if u := unitState(t, h); u["ActiveState"] != "inactive" || u["Result"] != "success" || u["UnitFileState"] != "enabled" {
		t.Errorf("%s after the join: %v, want inactive, success, enabled", firstboot.UnitName, u)
	}
	r := firstBootResult(t, h)
	if r.State != firstboot.StateJoined || !r.Changed || r.JoinedAt == nil || r.Attempts < 1 {
		t.Errorf("first-boot result %+v, want joined with changed and attempts ≥ 1", r)
	}
	bin := bundledName()
	if fb := statusFirstBoot(t, h, bin); fb == nil || fb.State != firstboot.StateJoined {
		t.Errorf("status firstBoot %+v, want joined", fb)
	}
	noSecretInCloudInitLogs(t, h)
	uid := n.UID
	journalBefore := mustJournal(t, h)

	took := h.reboot(t)
	t.Logf("second boot (the unit's install included): %s", took.Round(time.Millisecond))
	if u := unitState(t, h); u["ActiveState"] != "inactive" || u["Result"] != "success" || u["NRestarts"] != "0" {
		t.Errorf("%s on the second boot: %v, want inactive, success, no restart", firstboot.UnitName, u)
	}
	// A rebooted kubelet posts NotReady for its first seconds: the join
	// phase waits for its Ready (phase.Phase.Await) without running again,
	// so every phase is as the first boot left it and nothing changed.
	journalAfter := mustJournal(t, h)
	for _, p := range journalAfter.Phases {
		before := journalBefore.phase(p.Name)
		if before == nil || !sameTime(p.FinishedAt, before.FinishedAt) {
			t.Errorf("phase %s ran again on the second boot (finished %v, before %v)", p.Name, p.FinishedAt, before)
		}
	}
	r2 := firstBootResult(t, h)
	if r2.State != firstboot.StateJoined || r2.Changed || r2.BootID == r.BootID || r2.Attempts != r.Attempts+1 {
		t.Errorf("first-boot result after the second boot %+v, want joined, unchanged, one attempt in a new boot (first: %+v)", r2, r)
	}
	n2 := firstBootNode(t, h, 3*time.Minute)
	if n2.UID != uid {
		t.Errorf("the Node was made again on the second boot: UID %s, was %s", n2.UID, uid)
	}
	// The pool's settings hold, and the cordon the user script lifted stays lifted.
	checkPoolNode(t, h, n2, false)
	// cloud-init ran its per-instance modules once: the fetch is not repeated.
	if out := h.Run(t, 30*time.Second, "cat", "/var/log/cloud-init-output.log"); strings.Count(out, "add2tkectl: fetching") != 1 {
		t.Errorf("the user-data's fetch ran %d times over two boots, want 1", strings.Count(out, "add2tkectl: fetching"))
	}
}

// sameTime: both unset (a phase that only checks, as preflight), or equal.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

type journal struct{ phase.Journal }

func (j journal) phase(name string) *phase.PhaseRecord {
	for _, p := range j.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// mustJournal is the host's state journal.
func mustJournal(t *testing.T, h *Host) journal {
	t.Helper()
	var j journal
	if err := json.Unmarshal([]byte(h.Run(t, 30*time.Second, "cat", "/var/lib/add2tkectl/state.json")), &j.Journal); err != nil {
		t.Fatal(err)
	}
	return j
}

// setFault adds a fault to the artifact server (cosserver's /_faults) and
// clears them all when the test ends.
func setFault(t *testing.T, fault string) {
	t.Helper()
	base := env.Var(t, "ARTIFACT_URL")
	resp, err := http.Post(base+"/_faults", "application/json", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("fault %s: HTTP %d", fault, resp.StatusCode)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, base+"/_faults", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
}

// TestFirstBootRetriesAMirrorThatAnswers503: the mirror answers 503 for the
// first 30 s of the boot; the user-data's fetch retries and the node joins.
func TestFirstBootRetriesAMirrorThatAnswers503(t *testing.T) {
	url := env.Var(t, "BUNDLE_URL")
	ud := userData(t, env.Var(t, "BUNDLE"), url)
	path := strings.TrimPrefix(url, env.Var(t, "ARTIFACT_URL"))
	cosStats(t, http.MethodDelete)
	setFault(t, fmt.Sprintf(`{"path":%q,"status":503,"for":"30s"}`, path))
	h, b := env.BootWithCloudInit(t, "host1", ud)
	t.Logf("boot with cloud-init: %s (status exit %d)", b.Took.Round(time.Millisecond), b.Status)
	if b.Status != 0 {
		t.Fatalf("cloud-init status exit %d, want 0:\n%s", b.Status, b.Output)
	}
	firstBootNode(t, h, 3*time.Minute)
	stats := cosStats(t, http.MethodGet)
	s := stats[path]
	t.Logf("the mirror answered %s: %v", path, s.Status)
	if s.Status["503"] < 2 || s.Status["200"] != 1 {
		t.Errorf("the mirror answered %v for the bundle, want at least two 503s, then one 200", s.Status)
	}
	if out := h.Run(t, 30*time.Second, "cat", "/var/log/cloud-init-output.log"); !strings.Contains(out, "503") {
		t.Errorf("cloud-init's output does not show the 503s the fetch retried:\n%s", out)
	}
}

// TestFirstBootRefusesABinaryWithTheWrongHash: the URL serves another
// binary than the one the user-data was made for: nothing is executed, the
// failure is clear in cloud-init status --long and the journal.
func TestFirstBootRefusesABinaryWithTheWrongHash(t *testing.T) {
	// Another binary at a mirror path of the same name: the unbundled add2tkectl.
	name := filepath.Base(env.Var(t, "BUNDLE"))
	dir := filepath.Join(env.Var(t, "E2E_STATE"), "bucket", "wrong")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := mustRead(t, env.Var(t, "ADD2TKECTL"))
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
		t.Fatal(err)
	}
	ud := userData(t, env.Var(t, "BUNDLE"), env.Var(t, "ARTIFACT_URL")+"/wrong/"+name)
	h, b := env.BootWithCloudInit(t, "host1", ud)
	t.Logf("boot with cloud-init: %s (status exit %d)\n%s", b.Took.Round(time.Millisecond), b.Status, b.Output)
	if b.Status == 0 || !strings.Contains(b.Output, "status: error") {
		t.Errorf("cloud-init status exit %d, want an error:\n%s", b.Status, b.Output)
	}
	if !strings.Contains(b.Output, "scripts_user") && !strings.Contains(b.Output, "scripts-user") {
		t.Errorf("cloud-init status --long does not name the failed runcmd (scripts_user):\n%s", b.Output)
	}
	logs := h.Sh(t, 30*time.Second, `journalctl -b --no-pager -o cat; cat /var/log/cloud-init-output.log`)
	if !strings.Contains(logs, "is not the binary this user-data was made for") {
		t.Errorf("neither the journal nor cloud-init's output says the binary is not the expected one")
	}
	h.Sh(t, 30*time.Second, fmt.Sprintf(`! test -e %[1]s; ! test -e %[1]s.download; ! test -e /var/lib/add2tkectl/firstboot.json; ! test -e /var/lib/add2tkectl/state.json`, bundledName()))
	if u := unitState(t, h); u["ActiveState"] != "inactive" || u["NRestarts"] != "0" || u["UnitFileState"] == "enabled" {
		t.Errorf("%s after a refused binary: %v, want never started, not enabled", firstboot.UnitName, u)
	}
	if _, err := env.Client.CoreV1().Nodes().Get(context.Background(), h.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("a Node %s registered from a refused binary", h.Name)
	}
}

// blockAPIServer rejects the host's connections to the API server (in the
// driver network namespace, where the API server listens) until unblock.
func blockAPIServer(t *testing.T, h *Host) (unblock func()) {
	t.Helper()
	return rejectFromHost(t, h, 6443)
}

// unblockAfterAFailedAttempt lifts the block once the first-boot unit has
// recorded a failed install (or after limit): the boot's own pace, which a
// busy machine stretches, does not decide whether an attempt met the block.
func unblockAfterAFailedAttempt(h *Host, unblock func(), limit time.Duration) (stop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unblock()
		_ = poll(ctx, func(ctx context.Context) (bool, error) {
			res, err := h.Exec(ctx, nil, "cat", firstboot.ResultPath)
			if err != nil || res.ExitCode != 0 {
				return false, nil
			}
			var r firstboot.Result
			return json.Unmarshal([]byte(res.Stdout), &r) == nil && r.LastError != "", nil
		})
	}()
	return func() { cancel(); <-done }
}

// TestFirstBootJoinsWhenTheAPIServerComesLate: the API server is out of
// the host's reach until the unit's first install has failed on it; the
// unit retries and the node joins.
func TestFirstBootJoinsWhenTheAPIServerComesLate(t *testing.T) {
	ud := userData(t, env.Var(t, "BUNDLE"), env.Var(t, "BUNDLE_URL"))
	h := env.cloudInitHost(t, "host1")
	unblock := blockAPIServer(t, h)
	start := time.Now()
	stop := unblockAfterAFailedAttempt(h, unblock, 5*time.Minute)
	defer stop()
	b, err := h.bootWithCloudInit(context.Background(), ud)
	if err != nil {
		t.Fatalf("boot-with-cloud-init: %v\n%s", err, b.Output)
	}
	if b.Status != 0 {
		t.Fatalf("cloud-init status exit %d, want 0:\n%s", b.Status, b.Output)
	}
	n := firstBootNode(t, h, 3*time.Minute)
	t.Logf("API server out of reach until a failed attempt: boot start to Node Ready %s", time.Since(start).Round(time.Second))
	checkPoolNode(t, h, n, false)
	r := firstBootResult(t, h)
	if r.State != firstboot.StateJoined || r.Attempts < 2 {
		t.Errorf("first-boot result %+v, want joined after at least one failed attempt", r)
	}
	journalLog := h.Run(t, 30*time.Second, "journalctl", "-u", firstboot.UnitName, "--no-pager", "-o", "cat")
	if !strings.Contains(journalLog, "install attempt 1 of") || !strings.Contains(journalLog, "waiting") {
		t.Errorf("the unit's journal does not show a failed attempt and the backoff:\n%s", journalLog)
	}
	if u := unitState(t, h); u["ActiveState"] != "inactive" || u["Result"] != "success" || u["NRestarts"] == "0" {
		t.Errorf("%s: %v, want inactive with success after restarts", firstboot.UnitName, u)
	}
}

// TestFirstBootResumesAfterPowerLossMidInstall: the host loses power (its
// PID 1 is killed) while install is in the middle of its phases; booted
// again, the unit resumes: one Node, and the phases done before the kill do
// not run again.
func TestFirstBootResumesAfterPowerLossMidInstall(t *testing.T) {
	ud := userData(t, env.Var(t, "BUNDLE"), env.Var(t, "BUNDLE_URL"))
	h := env.cloudInitHost(t, "host1")
	journalPath := filepath.Join(env.Var(t, "E2E_STATE"), "hosts", h.Name, "upper", "var/lib/add2tkectl/state.json")
	bootCtx, stopBoot := context.WithCancel(context.Background())
	defer stopBoot()
	bootDone := make(chan error, 1)
	go func() {
		_, err := h.bootWithCloudInit(bootCtx, ud)
		bootDone <- err
	}()
	// Power off once a phase after the runtime is under way.
	var at journal
	deadline := time.Now().Add(firstBootTimeout - time.Minute)
	for time.Now().Before(deadline) {
		var j journal
		if b, err := os.ReadFile(journalPath); err == nil && json.Unmarshal(b, &j.Journal) == nil {
			if rt := j.phase("runtime"); rt != nil && rt.Status == phase.StatusDone {
				if running := runningPhase(j); running != "" {
					at = j
					break
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if runningPhase(at) == "" {
		t.Fatalf("install never reached a phase after the runtime in %s", firstBootTimeout)
	}
	h.powerOff(t)
	stopBoot() // its boot will never finish
	<-bootDone
	killedAt := time.Now()
	// What the journal says once the host is dead is what the next boot finds.
	at = journal{}
	if b, err := os.ReadFile(journalPath); err != nil || json.Unmarshal(b, &at.Journal) != nil {
		t.Fatalf("the journal after the power loss: %v", err)
	}
	interrupted := runningPhase(at)
	t.Logf("powered off with phase %q running (phases: %s)", interrupted, phaseStates(at))

	took := h.reboot(t)
	n := firstBootNode(t, h, 3*time.Minute)
	t.Logf("second boot to Node Ready: %s", took.Round(time.Second))
	checkPoolNode(t, h, n, false)
	nodes, err := env.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, x := range nodes.Items {
		if x.Name == h.Name || internalIP(&x) == h.IP {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d Node objects for %s, want 1", count, h.Name)
	}
	after := mustJournal(t, h)
	for _, p := range at.Phases {
		if p.Status != phase.StatusDone {
			continue
		}
		q := after.phase(p.Name)
		if q == nil || !sameTime(q.FinishedAt, p.FinishedAt) {
			t.Errorf("phase %s, done before the power loss, ran again after it", p.Name)
		}
	}
	if interrupted != "" {
		q := after.phase(interrupted)
		if q == nil || (q.Status != phase.StatusDone && q.Status != phase.StatusUnchanged) ||
			!((q.StartedAt != nil && q.StartedAt.After(killedAt)) || (q.CheckedAt != nil && q.CheckedAt.After(killedAt))) {
			t.Errorf("the interrupted phase %s is %+v after the second boot, want run again or found done after the power loss", interrupted, q)
		}
	}
	t.Logf("after the second boot: %s", phaseStates(after))
	if r := firstBootResult(t, h); r.State != firstboot.StateJoined {
		t.Errorf("first-boot result %+v, want joined", r)
	}
}

// phaseStates is a journal's phases and their states, for the log.
func phaseStates(j journal) string {
	var b strings.Builder
	for _, p := range j.Phases {
		fmt.Fprintf(&b, "%s=%s ", p.Name, p.Status)
	}
	return strings.TrimSpace(b.String())
}

// runningPhase is the phase a journal shows in progress, "" for none.
func runningPhase(j journal) string {
	for _, p := range j.Phases {
		if p.Status == phase.StatusRunning {
			return p.Name
		}
	}
	return ""
}

// TestCloudInitSchemaAcceptsEveryUserData: `cloud-init schema` of the
// host's cloud-init passes on the user-data the command generates and the
// example the project ships.
func TestCloudInitSchemaAcceptsEveryUserData(t *testing.T) {
	h := env.FreshHost(t, "host1")
	shipped := filepath.Join(env.Root, "packaging/cloud-init/user-data.yaml")
	for name, path := range map[string]string{
		"generated": userData(t, env.Var(t, "BUNDLE"), env.Var(t, "BUNDLE_URL")),
		"shipped":   shipped,
	} {
		h.CopyFile(t, path, "/root/"+name+".yaml", 0o600)
		out := h.Run(t, time.Minute, "cloud-init", "schema", "--config-file", "/root/"+name+".yaml")
		if !strings.Contains(out, "Valid cloud-config") {
			t.Errorf("cloud-init schema of the %s user-data: %s", name, out)
		}
	}
}
