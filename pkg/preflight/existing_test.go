package preflight

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// A journal as pkg/phase writes it: phases with files and units.
const journalJSON = `{
  "schemaVersion": 1,
  "phases": [
    {"name": "kubelet", "status": "done",
     "files": [{"path": "/usr/local/bin/kubelet", "sha256": "ab"},
               {"path": "/etc/systemd/system/kubelet.service", "sha256": "cd"}],
     "units": ["kubelet.service"],
     "values": {"path": "/not/a/file/record"}}
  ]
}`

func TestJournalOwnership(t *testing.T) {
	root := t.TempDir()
	ours, err := JournalOwnership(host.Root{Dir: root})
	if err != nil || ours("/usr/local/bin/kubelet") {
		t.Fatalf("without a journal: %v, owns kubelet: %v", err, ours("/usr/local/bin/kubelet"))
	}
	write(t, root, paths.JournalPath, journalJSON)
	ours, err = JournalOwnership(host.Root{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{
		"/usr/local/bin/kubelet":              true,
		"/etc/systemd/system/kubelet.service": true,
		"kubelet.service":                     true,
		"/usr/bin/containerd":                 false,
		"containerd.service":                  false,
	} {
		if ours(s) != want {
			t.Errorf("ours(%s) = %v, want %v", s, !want, want)
		}
	}
	write(t, root, paths.JournalPath, "{not json")
	if _, err := JournalOwnership(host.Root{Dir: root}); err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("corrupt journal: %v", err)
	}
}

// A distribution's containerd (binary and unit) is refused; the kubelet
// install put there (in the journal) is not.
func TestExistingRuntimeFromFiles(t *testing.T) {
	in := healthyHost(t)
	root := in.Root.Dir
	if r := runCheck(t, checkExistingRuntime, in); r.Verdict != OK {
		t.Fatalf("clean host: %s %q", r.Verdict, r.Message)
	}
	write(t, root, "/usr/local/bin/kubelet", "ELF")
	write(t, root, "/etc/systemd/system/kubelet.service", "[Unit]")
	write(t, root, paths.JournalPath, journalJSON)
	ours, err := JournalOwnership(in.Root)
	if err != nil {
		t.Fatal(err)
	}
	in.Ours = ours
	if r := runCheck(t, checkExistingRuntime, in); r.Verdict != OK {
		t.Fatalf("only our kubelet: %s %q", r.Verdict, r.Message)
	}

	write(t, root, "/usr/bin/containerd", "ELF")
	write(t, root, "/usr/lib/systemd/system/containerd.service", "[Unit]")
	// usrmerge: /lib is a link to /usr/lib; the unit is one file, reported once.
	if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	r := runCheck(t, checkExistingRuntime, in)
	want := "found software add2tkectl did not install: binary /usr/bin/containerd; unit /usr/lib/systemd/system/containerd.service"
	if r.Verdict != Error || r.Message != want {
		t.Errorf("got %s %q\nwant error %q", r.Verdict, r.Message, want)
	}
	if !strings.Contains(r.Remediation, "add2tkectl uninstall") {
		t.Errorf("remediation %q does not mention uninstall", r.Remediation)
	}
}

// A real running process named containerd, from a binary not in the
// journal, is refused; the same process is fine once the journal lists it.
func TestExistingRuntimeFindsARunningProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/comm"); err != nil {
		t.Skip("no /proc on this machine")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary to disguise as containerd")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "containerd")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fake, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	in := &Inputs{Root: host.Root{Dir: "/"}}
	in = in.withDefaults()
	found := strings.Join(foreignTraces(in, "containerd", "containerd.service"), "; ")
	wantProc := fmt.Sprintf("running %s (pid %d)", fake, cmd.Process.Pid)
	if !strings.Contains(found, wantProc) {
		t.Errorf("foreign traces %q lack %q", found, wantProc)
	}
	in.Ours = func(p string) bool { return p == fake }
	if found := foreignTraces(in, "containerd", "containerd.service"); strings.Contains(strings.Join(found, ";"), wantProc) {
		t.Errorf("our own containerd reported: %q", found)
	}
}

// The port check reads the kernel's real socket table and names the
// process holding the port.
func TestPortHeldByARealListener(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp on this machine")
	}
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	in := (&Inputs{Root: host.Root{Dir: "/"}}).withDefaults()

	r := portFree(in, port)
	self, _ := os.Executable()
	if r.Verdict != Error || !strings.Contains(r.Message, fmt.Sprintf("%s (pid %d)", self, os.Getpid())) {
		t.Errorf("held by this test: %s %q; want an error naming pid %d", r.Verdict, r.Message, os.Getpid())
	}
	in.Ours = func(p string) bool { return p == self }
	if r := portFree(in, port); r.Verdict != OK {
		t.Errorf("held by our own program: %s %q", r.Verdict, r.Message)
	}
	l.Close()
	if r := portFree(in, port); r.Verdict != OK {
		t.Errorf("after close: %s %q", r.Verdict, r.Message)
	}
}

func TestRunOnTheRealHostGivesEveryResult(t *testing.T) {
	cfg := testConfig()
	cfg.Cluster.APIServer.CAData = b64(newCA(t, "ca").pem)
	in, err := DefaultInputs(host.Root{Dir: "/"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	in.Offline = true
	// Unreachable API server on a port nobody serves: fails fast, once.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	in.Dialer = &redirectDialer{from: "10.0.0.5:443", to: addr}
	rep, err := Run(context.Background(), in, nil)
	if len(rep.Results) != len(Checks()) {
		t.Fatalf("%d results for %d checks", len(rep.Results), len(Checks()))
	}
	for _, r := range rep.Results {
		t.Logf("%-28s %-7s %s", r.Name, r.Verdict, r.Message)
	}
	if err == nil {
		t.Error("Run passed with an unreachable API server")
	}
	if r := rep.Results[15]; r.Name != "api-server-reachable" || r.Verdict != Error || !strings.Contains(r.Message, "cannot connect") {
		t.Errorf("api-server-reachable: %+v", r)
	}
}
