//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// httpProxy is a tinyproxy in the driver netns at 10.77.0.1:port, with an
// access log of every request.
type httpProxy struct {
	Port int
	log  string
	out  string // tinyproxy's own output
}

// URL is the proxy as the site file names it.
func (p *httpProxy) URL() string { return fmt.Sprintf("http://10.77.0.1:%d", p.Port) }

// Requests are the request lines the proxy logged ("GET http://... HTTP/1.1",
// "CONNECT host:port HTTP/1.1").
func (p *httpProxy) Requests(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// tinyproxy: `CONNECT   Dec 02 17:20:01.123 [42]: Request (file descriptor 5): GET http://... HTTP/1.1`
		if _, req, ok := strings.Cut(sc.Text(), "Request (file descriptor "); ok {
			if _, line, ok := strings.Cut(req, "): "); ok {
				// The presigned links' queries carry signatures: not in the test's log.
				if head, rest, ok := strings.Cut(line, "?"); ok {
					_, proto, _ := strings.Cut(rest, " ")
					line = head + "?REDACTED " + proto
				}
				out = append(out, line)
			}
		}
	}
	return out
}

// startProxy runs tinyproxy (scripts/e2e/deps.sh installs it) in the
// driver netns on port, allowing the hosts' network, and stops it when the
// test ends.
func startProxy(t *testing.T, port int) *httpProxy {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		t.Fatalf("tinyproxy not found: run scripts/e2e/deps.sh (Debian package tinyproxy)")
	}
	// tinyproxy drops root for nobody, which must reach and write its log:
	// not under t.TempDir, whose parent only root may enter.
	dir, err := os.MkdirTemp("", "a2t-e2e-proxy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &httpProxy{Port: port, log: filepath.Join(dir, "access.log"), out: filepath.Join(dir, "tinyproxy.out")}
	conf := fmt.Sprintf(`User nobody
Group nogroup
Listen 10.77.0.1
Port %d
Timeout 60
LogFile "%s"
LogLevel Info
MaxClients 50
Allow 10.77.0.0/24
DisableViaHeader Yes
`, port, p.log)
	confPath := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.log, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.log, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", driverNetns, bin, "-d", "-c", confPath)
	out, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tinyproxy: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		out.Close()
	})
	// Listening: its port answers from the driver netns.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = poll(ctx, func(ctx context.Context) (bool, error) {
		c := exec.CommandContext(ctx, "ip", "netns", "exec", driverNetns, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/10.77.0.1/%d", port))
		return c.Run() == nil, nil
	})
	if err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("tinyproxy on port %d does not listen: %v\n%s", port, err, b)
	}
	return p
}

// blockArtifactServer rejects the host's own connections to the artifact
// server (10.77.0.1:8080) in the driver netns: only the proxy, whose
// connections come from 10.77.0.1, reaches it. The rule goes when the test
// ends.
func blockArtifactServer(t *testing.T, h *Host) {
	t.Helper()
	rejectFromHost(t, h, 8080)
}

// freePort is a TCP port nothing listens on at 10.77.0.1 in the driver
// netns: the test's own, unlike a fixed one another run may hold.
func freePort(t *testing.T, not ...int) int {
	t.Helper()
	for port := 3128; port < 3228; port++ {
		taken := false
		for _, n := range not {
			taken = taken || n == port
		}
		if taken {
			continue
		}
		c := exec.Command("ip", "netns", "exec", driverNetns, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/10.77.0.1/%d", port))
		if c.Run() != nil {
			return port
		}
	}
	t.Fatal("no free port for the proxy in 3128..3227")
	return 0
}

func writeSiteProxy(t *testing.T, h *Host, p *httpProxy) {
	t.Helper()
	h.WriteFile(t, "/etc/add2tkectl/site.yaml", []byte(fmt.Sprintf("proxy:\n  http: %s\n  https: %s\n", p.URL(), p.URL())), 0o644)
}

// TestInstallThroughTheSiteProxy: the host reaches the artifact server only
// through the site's HTTP proxy (a tinyproxy in the driver netns; the
// host's direct route to it rejected). install succeeds, the proxy's log
// shows the manifest and artifact GETs, the kubelet reaches the API server
// directly (no CONNECT to it, the Node is Ready), containerd and the
// kubelet have their own proxy drop-in with the API server and the node IP
// in NO_PROXY, and systemd's global environment has no proxy. A changed
// proxy port restarts the units whose drop-in changed, a third run
// restarts nothing, and uninstall leaves no drop-in.
func TestInstallThroughTheSiteProxy(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	p1 := startProxy(t, freePort(t))
	p2 := startProxy(t, freePort(t, p1.Port))
	blockArtifactServer(t, h)
	if res, _ := h.Exec(context.Background(), nil, "curl", "-sS", "--max-time", "5", "-o", "/dev/null", "http://10.77.0.1:8080/"); res.ExitCode == 0 {
		t.Fatal("the host still reaches the artifact server directly")
	}
	writeSiteProxy(t, h, p1)

	start := time.Now()
	mustInstall(t, h, bin)
	t.Logf("install through the proxy took %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}

	reqs := p1.Requests(t)
	gets := 0
	for _, r := range reqs {
		t.Logf("proxy %d: %s", p1.Port, r)
		if strings.HasPrefix(r, "GET http://10.77.0.1:8080/") {
			gets++
		}
		if strings.HasPrefix(r, "CONNECT") && strings.Contains(r, ":6443") {
			t.Errorf("the API server was reached through the proxy: %s", r)
		}
	}
	// The manifest, then kubelet, containerd, runc, CNI plugins, pause.
	if gets < 5 {
		log, _ := os.ReadFile(p1.log)
		out, _ := os.ReadFile(p1.out)
		t.Errorf("the proxy saw %d artifact GETs, want the manifest's and each artifact's; its log:\n%s\nits output:\n%s", gets, log, out)
	}

	apiHost := "10.77.0.1"
	for _, unit := range []string{"containerd.service", "kubelet.service"} {
		drop := "/etc/systemd/system/" + unit + ".d/add2tkectl-proxy.conf"
		b := h.Run(t, 30*time.Second, "cat", drop)
		noProxy := ""
		for _, line := range strings.Split(b, "\n") {
			if v, ok := strings.CutPrefix(line, `Environment="NO_PROXY=`); ok {
				noProxy = strings.TrimSuffix(v, `"`)
			}
		}
		entries := map[string]bool{}
		for _, e := range strings.Split(noProxy, ",") {
			entries[e] = true
		}
		if !entries[apiHost] || !entries[h.IP] {
			t.Errorf("%s: NO_PROXY %q lacks the API server %s or the node IP %s", drop, noProxy, apiHost, h.IP)
		}
		// systemd parsed it: the service's environment carries the proxy.
		if envs := h.Run(t, 30*time.Second, "systemctl", "show", unit, "-p", "Environment"); !strings.Contains(envs, "HTTPS_PROXY="+p1.URL()) || !strings.Contains(envs, "no_proxy=") {
			t.Errorf("%s: systemd's Environment lacks the proxy: %s", unit, envs)
		}
	}
	if out := h.Run(t, 30*time.Second, "systemctl", "show-environment"); strings.Contains(strings.ToLower(out), "proxy") {
		t.Errorf("systemd's global environment has a proxy variable:\n%s", out)
	}

	// Another proxy port: the drop-ins change, their units restart; preflight
	// asks the artifact server through the new proxy.
	before := map[string]string{}
	for _, u := range []string{"containerd", "kubelet"} {
		before[u] = unitStamp(t, h, u)
	}
	writeSiteProxy(t, h, p2)
	r := mustInstall(t, h, bin)
	t.Logf("re-run with proxy port %d: changed=%v phases %+v", p2.Port, r.Changed, r.Phases)
	for _, u := range []string{"containerd", "kubelet"} {
		if after := unitStamp(t, h, u); after == before[u] {
			t.Errorf("%s not restarted after its proxy drop-in changed: %s", u, after)
		}
		drop := "/etc/systemd/system/" + u + ".service.d/add2tkectl-proxy.conf"
		if b := h.Run(t, 30*time.Second, "cat", drop); !strings.Contains(b, "HTTP_PROXY="+p2.URL()) {
			t.Errorf("%s after the change:\n%s", drop, b)
		}
	}
	reached := false
	for _, req := range p2.Requests(t) {
		t.Logf("proxy %d: %s", p2.Port, req)
		reached = reached || strings.Contains(req, "http://10.77.0.1:8080/")
	}
	if !reached {
		t.Errorf("nothing of the re-run went through the new proxy %s", p2.URL())
	}
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}

	// Nothing changed: nothing restarts.
	stamps := unitStamp(t, h, "containerd", "kubelet")
	mustInstall(t, h, bin)
	if after := unitStamp(t, h, "containerd", "kubelet"); after != stamps {
		t.Errorf("a run with the same proxy restarted a service:\nbefore %s\nafter  %s", stamps, after)
	}

	runUninstall(t, h, bin)
	out := h.Sh(t, 30*time.Second, `ls -d /etc/systemd/system/*.d/add2tkectl-proxy.conf 2>/dev/null || true`)
	if strings.TrimSpace(out) != "" {
		t.Errorf("uninstall left proxy drop-ins:\n%s", out)
	}
	if out := h.Run(t, 30*time.Second, "systemctl", "show-environment"); strings.Contains(strings.ToLower(out), "proxy") {
		t.Errorf("after uninstall, systemd's global environment has a proxy variable:\n%s", out)
	}
}
