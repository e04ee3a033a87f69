package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// installResult is what `install -o json` prints (pkg/phase Result).
type installResult struct {
	Changed bool `json:"changed"`
	Phases  []struct {
		Name            string  `json:"name"`
		Status          string  `json:"status"`
		DurationSeconds float64 `json:"durationSeconds"`
		Error           string  `json:"error"`
	} `json:"phases"`
	DurationSeconds float64 `json:"durationSeconds"`
}

// install runs install in the host and returns its exit code, its result
// (zero if it printed none) and the command's output.
func (l *lab) install(ctx context.Context, bin string, timeout time.Duration, args ...string) (int, installResult, result) {
	r := l.exec(ctx, timeout, nil, bin+" install -o json --no-progress "+strings.Join(args, " "))
	var res installResult
	_ = json.Unmarshal([]byte(r.stdout), &res)
	return r.code, res, r
}

// node is what the matrix checks of the host's Node object.
type node struct {
	Metadata struct {
		UID    string            `json:"uid"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Unschedulable bool `json:"unschedulable"`
		Taints        []struct {
			Key, Value, Effect string
		} `json:"taints"`
	} `json:"spec"`
	Status struct {
		Conditions []struct{ Type, Status, Reason, Message string } `json:"conditions"`
		Addresses  []struct{ Type, Address string }                 `json:"addresses"`
	} `json:"status"`
}

func (l *lab) getNode(ctx context.Context) (*node, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, l.vars["KUBECTL"], "--kubeconfig", l.vars["KUBECONFIG"],
		"get", "node", l.host, "-o", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl get node %s: %w", l.host, err)
	}
	var n node
	return &n, json.Unmarshal(out, &n)
}

// poolNodeProblem says how the Node differs from a Ready node of the sample
// pool (scripts/e2e/pool.sh), or "".
func (l *lab) poolNodeProblem(n *node) string {
	ready := "no Ready condition"
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			ready = "Ready=" + c.Status + " " + c.Reason
			if c.Status == "True" {
				ready = ""
			}
		}
	}
	if ready != "" {
		return ready
	}
	ip := ""
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" {
			ip = a.Address
		}
	}
	switch {
	case ip != l.ip:
		return fmt.Sprintf("InternalIP %q, want %s", ip, l.ip)
	case n.Metadata.Labels["example.com/rack"] != "r42" || n.Metadata.Labels["tke.cloud.tencent.com/location"] != "idc-e2e-01":
		return fmt.Sprintf("pool labels missing: %v", n.Metadata.Labels)
	case n.Spec.Unschedulable:
		return "still cordoned (the user script did not run)"
	case n.Metadata.Labels["add2tke.tke.cloud.tencent.com/uninstalled"] != "":
		return "still marked uninstalled"
	}
	for _, t := range n.Spec.Taints {
		if t.Key == "example.com/dedicated" && t.Value == "idc" && t.Effect == "PreferNoSchedule" {
			return ""
		}
	}
	return "pool taint missing"
}

// waitPoolNode waits until the host's Node is a Ready node of the pool.
func (l *lab) waitPoolNode(ctx context.Context, within time.Duration) (*node, error) {
	deadline := time.Now().Add(within)
	last := "not registered"
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		n, err := l.getNode(ctx)
		if err == nil {
			if last = l.poolNodeProblem(n); last == "" {
				return n, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("node %s not a Ready pool node after %s: %s", l.host, within, last)
		}
		time.Sleep(delay)
	}
}

// converge checks the outcome every trial must end in: install exits 0, the
// Node is a Ready node of the pool, and one more install changes nothing.
// It returns "" or what went wrong.
func (l *lab) converge(ctx context.Context, bin string) string {
	code, _, r := l.install(ctx, bin, 6*time.Minute)
	if code != 0 {
		return fmt.Sprintf("install exited %d: %s", code, lastLine(r.stderr, r.err))
	}
	return l.settled(ctx, bin)
}

// settled checks, after a successful install, the Ready node and that the
// next install is a no-op.
func (l *lab) settled(ctx context.Context, bin string) string {
	if _, err := l.waitPoolNode(ctx, 3*time.Minute); err != nil {
		return err.Error()
	}
	code, res, r := l.install(ctx, bin, 3*time.Minute)
	switch {
	case code != 0:
		return fmt.Sprintf("the install after convergence exited %d: %s", code, lastLine(r.stderr, r.err))
	case res.Changed:
		var ch []string
		for _, p := range res.Phases {
			if p.Status != "unchanged" {
				ch = append(ch, p.Name+"="+p.Status)
			}
		}
		return "the install after convergence changed " + strings.Join(ch, ",")
	}
	return ""
}

// leftover says what a run should not have left behind.
type leftover int

const (
	afterSuccess      leftover = iota // install completed: no partial download may remain either
	afterEarlyFailure                 // failed before installing anything: nothing installed may be there
	afterFailure                      // failed later: the cache must hold only verified files
)

// leftovers lists what a run left that it should not have: a file in the
// artifact cache that is not what its name (its sha256) says; after a
// completed install, a partial download (*.partial: resumable state while
// install has not completed); after an early failure, installed parts of
// the node (binaries, active units).
func (l *lab) leftovers(ctx context.Context, after leftover) []string {
	partial := ";;"
	if after == afterSuccess {
		partial = `echo "stale-partial $f" ;;`
	}
	script := `
cache=/var/cache/add2tkectl
if [ -d $cache ]; then
  for f in $cache/*; do
    [ -f "$f" ] || continue
    n=${f##*/}
    case $n in
    *.lock) ;;
    *.partial) ` + partial + `
    *) [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$n" ] || echo "unverified $f" ;;
    esac
  done
fi
`
	if k, ok := l.artifactByName("kubelet"); ok {
		script += fmt.Sprintf(`
if [ -e /usr/local/bin/kubelet ] && [ "$(sha256sum </usr/local/bin/kubelet | cut -d' ' -f1)" != %s ]; then
  echo "unverified /usr/local/bin/kubelet"
fi
`, k.SHA256)
	}
	if after == afterEarlyFailure {
		script += `
for b in /usr/local/bin/kubelet /usr/local/bin/containerd; do [ -e $b ] && echo "half-installed $b"; done
for u in kubelet containerd; do systemctl -q is-active $u && echo "half-installed $u active"; done
`
	}
	r := l.exec(ctx, 2*time.Minute, nil, script+"\nexit 0")
	if r.err != nil {
		return []string{"could not look: " + r.err.Error()}
	}
	return strings.Fields(strings.ReplaceAll(r.stdout, " ", "_"))
}

func lastLine(s string, err error) string {
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return "(no output)"
}

// snapshotScript prints what install and uninstall may touch, one fact a
// line: a short form of test/e2e's host snapshot (files with modes and
// hashes, mounts, links, units, iptables rules).
const snapshotScript = `
{
find /etc /usr/local /usr/libexec /opt /var/lib /var/cache /var/log /run /srv /root \
  \( -path /var/log/journal -o -path /run/systemd -o -path /run/user -o -path /run/log \
     -o -path /run/credentials -o -path /var/lib/systemd -o -path /run/udev -o -path /run/dbus \
     -o -path /var/lib/dbus -o -path /run/utmp -o -path /var/log/wtmp -o -path /var/log/btmp \
     -o -path /var/log/lastlog -o -path /root/.bash_history -o -path /var/cache/ldconfig \
     -o -path '/root/add2tkectl-*' -o -path '/root/faults-*' -o -path /run/mount \) -prune \
  -o -printf 'fs %p %y %m %u:%g %l\n'
find /etc /usr/local /usr/libexec /opt /var/lib /srv /var/lib/containerd -xdev -type f \
  -not -path '/var/lib/systemd/*' -not -path '/var/lib/dbus/*' -print0 2>/dev/null | xargs -0 -r sha256sum | sed 's/^/sum /'
} | sort -u
awk '$5 !~ /^\/run\/credentials/ && $5 !~ /^\/run\/user/ {for (i=7; $i != "-"; i++); print "mount", $5, $(i+1), $(i+2)}' /proc/self/mountinfo | sort
ip -o link | awk -F': ' '{print "link", $2}' | sed 's/@.*//' | sort
systemctl list-units --all --no-legend --plain | awk '{print "unit", $1, $2}' | grep -v -e ' session-' -e 'user@' -e 'user-runtime-dir@' | sort
systemctl list-unit-files --no-legend | awk '{print "unitfile", $1, $2}' | sort
for t in filter nat mangle raw; do iptables -t $t -S 2>/dev/null | sed "s/^/ipt $t /"; done
exit 0
`

// allowedDiff are the differences uninstall leaves on purpose, as
// test/e2e/uninstall_test.go has them: its logs, the run lock, a reached
// distribution target, systemd's own credential mounts.
func allowedDiff(line string) bool {
	for _, p := range []string{"fs /var/log/add2tkectl ", "fs /var/log/add2tkectl/", "fs /run/add2tkectl.lock ",
		"unit network-online.target ", "unit run-credentials-"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

func (l *lab) snapshot(ctx context.Context) (map[string]bool, error) {
	r := l.exec(ctx, 2*time.Minute, nil, snapshotScript)
	if r.err != nil || r.code != 0 {
		return nil, fmt.Errorf("snapshot: exit %d %v: %s", r.code, r.err, lastLine(r.stderr, nil))
	}
	set := map[string]bool{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			set[line] = true
		}
	}
	return set, nil
}

// diff returns the lines only in a (-) or only in b (+), allowed ones aside.
func diff(a, b map[string]bool) []string {
	var out []string
	for line := range a {
		if !b[line] && !allowedDiff(line) {
			out = append(out, "- "+line)
		}
	}
	for line := range b {
		if !a[line] && !allowedDiff(line) {
			out = append(out, "+ "+line)
		}
	}
	sort.Strings(out)
	return out
}
