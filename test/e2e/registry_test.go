//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The mirror the registry tests run: Debian's docker-registry (the CNCF
// distribution) in the driver netns, over TLS with a CA made for the test.
const (
	mirrorAddr  = "10.77.0.1:5000"
	mirrorURL   = "https://" + mirrorAddr
	mirrorCAOn  = "/etc/add2tkectl/mirror-ca.pem" // where the host gets the CA
	mirrorImage = "library/mirror-probe:1"        // a name nothing else serves
)

// mirror is a running docker-registry and where its log goes.
type mirror struct {
	dir string // CA, serving cert, config, storage, log
	ca  []byte
}

// inDriver runs a command in the driver netns and fails the test unless it
// exits 0.
func inDriver(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", driverNetns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %q: %v\n%s", driverNetns, args, err, out)
	}
	return string(out)
}

// startMirror makes a CA and a serving certificate for 10.77.0.1 with
// openssl, starts docker-registry on mirrorAddr with them, waits for its
// /v2/ to answer, and pushes the artifact set's pause image into it as
// mirrorImage with skopeo. t.Cleanup stops it.
func startMirror(t *testing.T) *mirror {
	t.Helper()
	m := &mirror{dir: t.TempDir()}
	p := func(name string) string { return filepath.Join(m.dir, name) }
	if err := os.WriteFile(p("ext.cnf"), []byte("subjectAltName=IP:10.77.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "1", "-subj", "/CN=add2tkectl e2e mirror CA"},
		{"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("tls.key"), "-out", p("tls.csr"), "-subj", "/CN=10.77.0.1"},
		{"x509", "-req", "-in", p("tls.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("tls.crt"), "-days", "1", "-extfile", p("ext.cnf")},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", args[0], err, out)
		}
	}
	var err error
	if m.ca, err = os.ReadFile(p("ca.crt")); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
`, p("data"), mirrorAddr, p("tls.crt"), p("tls.key"))
	if err := os.WriteFile(p("config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(p("registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", driverNetns, "docker-registry", "serve", p("config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry (scripts/e2e/deps.sh installs it): %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// Its own process group, by the pid this test started.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(p("registry.log"))
			t.Logf("registry log:\n%s", tail(string(b), 60))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last string
	if err := poll(ctx, func(ctx context.Context) (bool, error) {
		select {
		case <-done:
			return false, fmt.Errorf("docker-registry exited")
		default:
		}
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", driverNetns, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
			"--cacert", p("ca.crt"), mirrorURL+"/v2/").CombinedOutput()
		last = string(out)
		return err == nil && last == "200", nil
	}); err != nil {
		b, _ := os.ReadFile(p("registry.log"))
		t.Fatalf("docker-registry does not answer on %s/v2/ (last: %s): %v\n%s", mirrorURL, last, err, tail(string(b), 30))
	}

	// skopeo trusts the CA the way dockerd does: a directory of *.crt.
	certs := p("skopeo-certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), m.ca, 0o644); err != nil {
		t.Fatal(err)
	}
	pause := filepath.Join(env.Var(t, "ARTIFACTS_DIR"), "pause-3.10.oci.tar")
	start := time.Now()
	inDriver(t, 2*time.Minute, "skopeo", "copy", "--quiet", "--format", "v2s2", "--dest-cert-dir", certs,
		"oci-archive:"+pause, "docker://"+mirrorAddr+"/"+mirrorImage)
	t.Logf("mirror up with %s in %s", mirrorImage, time.Since(start).Round(time.Millisecond))
	return m
}

// manifestGets counts the registry's access-log lines of a manifest GET of
// mirrorImage (by tag or digest).
func (m *mirror) manifestGets(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"GET /v2/library/mirror-probe/manifests/[^ "]+ HTTP`)
	return len(re.FindAll(b, -1))
}

// withMirrorSite gives the host the mirror's CA and a site file whose
// docker.io is mirrored by it.
func withMirrorSite(t *testing.T, h *Host, m *mirror) {
	t.Helper()
	h.WriteFile(t, mirrorCAOn, m.ca, 0o644)
	h.WriteFile(t, "/etc/add2tkectl/site.yaml", []byte(`registries:
- upstream: docker.io
  mirrors:
  - endpoint: `+mirrorURL+`
    caFile: `+mirrorCAOn+`
`), 0o644)
}

// mirrorPod is a hostNetwork static pod whose image only the mirror has.
func mirrorPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
spec:
  hostNetwork: true
  containers:
  - name: probe
    image: docker.io/%s
    imagePullPolicy: IfNotPresent
`, name, mirrorImage)
}

// runMirrorPod installs, waits for the Node, then runs mirrorPod and checks
// that its image came through the mirror.
func runMirrorPod(t *testing.T, h *Host, bin string, m *mirror) {
	t.Helper()
	start := time.Now()
	mustInstall(t, h, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	if n := m.manifestGets(t); n != 0 {
		t.Fatalf("the mirror served %d manifests of %s before any pod asked", n, mirrorImage)
	}
	pod := "mirror-probe"
	h.WriteFile(t, "/etc/kubernetes/manifests/"+pod+".yaml", []byte(mirrorPod(pod)), 0o644)
	waitPodRunning(t, "default", pod+"-"+h.Name, 2*time.Minute)
	t.Logf("install start to a pod running on an image of the mirror: %s", time.Since(start).Round(time.Millisecond))
	if n := m.manifestGets(t); n == 0 {
		t.Errorf("the pod runs, but the mirror's log shows no manifest GET of %s", mirrorImage)
	}
}

// TestContainerdPullsThroughTheSiteMirror: a site file mirrors docker.io
// at a registry with a private CA; install renders config_path and
// certs.d/docker.io/hosts.toml, and a pod whose image exists only on the
// mirror runs, its manifest fetched from the mirror over TLS checked
// against the site's CA.
func TestContainerdPullsThroughTheSiteMirror(t *testing.T) {
	m := startMirror(t)
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	withMirrorSite(t, h, m)
	runMirrorPod(t, h, bin, m)
	hosts := h.Run(t, 30*time.Second, "cat", "/etc/containerd/certs.d/docker.io/hosts.toml")
	for _, want := range []string{`server = "https://registry-1.docker.io"`, `[host."` + mirrorURL + `"]`, `ca = "` + mirrorCAOn + `"`} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts.toml lacks %s:\n%s", want, hosts)
		}
	}
	if cfg := h.Run(t, 30*time.Second, "cat", "/etc/containerd/config.toml"); !strings.Contains(cfg, `config_path = "/etc/containerd/certs.d"`) {
		t.Errorf("config.toml has no config_path:\n%s", cfg)
	}
	if imgs := h.Run(t, 30*time.Second, "ctr", "-n", "k8s.io", "images", "ls", "-q"); !strings.Contains(imgs, "docker.io/library/mirror-probe:1") {
		t.Errorf("ctr images lacks the mirror's image:\n%s", imgs)
	}
}

// TestDockerPullsThroughTheSiteMirror: the same on a docker pool: daemon.json
// lists the mirror in registry-mirrors, its CA is copied to
// /etc/docker/certs.d/10.77.0.1:5000/ca.crt, and dockerd pulls the pod's
// image from it.
func TestDockerPullsThroughTheSiteMirror(t *testing.T) {
	m := startMirror(t)
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t, "E2E_POOL_RUNTIME=docker"))
	withMirrorSite(t, h, m)
	runMirrorPod(t, h, bin, m)
	if dj := h.Run(t, 30*time.Second, "cat", "/etc/docker/daemon.json"); !strings.Contains(dj, `"registry-mirrors": [`+"\n    \""+mirrorURL+`"`) {
		t.Errorf("daemon.json does not list the mirror:\n%s", dj)
	}
	ca := h.Run(t, 30*time.Second, "cat", "/etc/docker/certs.d/"+mirrorAddr+"/ca.crt")
	if !bytes.HasSuffix([]byte(ca), m.ca) {
		t.Errorf("the mirror's ca.crt is not the site's CA:\n%s", ca)
	}
	if imgs := h.Run(t, 30*time.Second, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(imgs, "mirror-probe:1") {
		t.Errorf("docker images lacks the mirror's image:\n%s", imgs)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
