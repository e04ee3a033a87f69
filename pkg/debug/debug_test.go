package debug

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

const (
	presigned   = "https://b.cos.ap-guangzhou.myqcloud.com/pool/manifest.json?q-sign-algorithm=sha1&q-ak=AKIDqwertyuiopasdfghj&q-sign-time=1;2&q-signature=0f0e0d0c0b0a09080706050403020100aabbccdd"
	clientKey   = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcGFydA=="
	clientCert  = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUNjZXJ0"
	proxyPass   = "pr0xyPassw0rd"
	bearerValue = "eyJhbGciOiJSUzI1NiJ9.payload.sig"
)

// plant writes files under dir, making parents.
func plant(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// installedRoot is a temp root of a half-joined node with a secret of
// every kind planted: in the journal, install's log, the kubeconfigs, the
// user script's log, the site file and cloud-init's output.
func installedRoot(t *testing.T) string {
	dir := t.TempDir()
	j := phase.Journal{SchemaVersion: 1, Phases: []*phase.PhaseRecord{
		{Name: "runtime", Status: phase.StatusDone, Units: []string{"containerd.service"}, Files: []phase.FileRecord{
			{Path: "/etc/containerd/config.toml", SHA256: "aa"},
			{Path: "/usr/local/bin/containerd", SHA256: "bb"},
		}},
		{Name: "kubelet", Status: phase.StatusFailed, Error: "TLS bootstrap with token " + testToken + " refused",
			Units: []string{"kubelet.service"}, Files: []phase.FileRecord{
				{Path: "/etc/kubernetes/bootstrap-kubelet.conf", SHA256: "cc"},
				{Path: "/etc/systemd/system/kubelet.service", SHA256: "dd"},
				{Path: "/usr/local/bin/kubelet", SHA256: "ee"},
			}},
		{Name: "userscript", Status: phase.StatusDone, Files: []phase.FileRecord{{Path: "/usr/local/qcloud/tke/userscript/userscript.sh", SHA256: "ff"}}},
	}}
	jb, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	plant(t, dir, map[string]string{
		"/var/lib/add2tkectl/state.json":                      string(jb),
		"/var/lib/add2tkectl/stamps/kubelet":                  `{"version":"v1.35.4"}`,
		"/var/log/add2tkectl/add2tkectl.log":                  `{"level":"debug","msg":"GET ` + presigned + `"}` + "\n" + `{"msg":"escaped","url":"b.cos/m.json%3Fq-sign-algorithm%3Dsha1%26q-signature%3Dabcdef0123"}` + "\n",
		"/etc/containerd/config.toml":                         "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"mirror.idc\".auth]\n  password = \"regPassw0rd\"\n",
		"/usr/local/bin/containerd":                           "\x7fELF\x00\x00binary",
		"/usr/local/bin/kubelet":                              "\x7fELF\x00\x00binary",
		"/etc/kubernetes/bootstrap-kubelet.conf":              "apiVersion: v1\nusers:\n- name: tls-bootstrap-token-user\n  user:\n    token: " + testToken + "\n",
		"/etc/kubernetes/kubelet.conf":                        "apiVersion: v1\nusers:\n- name: default-auth\n  user:\n    client-certificate-data: " + clientCert + "\n    client-key-data: " + clientKey + "\n",
		"/etc/systemd/system/kubelet.service":                 "[Service]\nExecStart=/usr/local/bin/kubelet\n",
		"/etc/systemd/system/kubelet.service.d/10-proxy.conf": "[Service]\nEnvironment=HTTPS_PROXY=http://ops:" + proxyPass + "@proxy.idc:3128\n",
		"/usr/local/qcloud/tke/userscript/userscript.sh":      "#!/bin/bash\nexport MY_API_KEY=users-own-secret-value\n",
		"/usr/local/qcloud/tke/userscript/userscript.log":     "fetching key\n-----BEGIN RSA PRIVATE KEY-----\n" + keyBody + "\n-----END RSA PRIVATE KEY-----\ndone\n",
		"/usr/local/qcloud/tke/userscript/last-run.json":      `{"exitCode":0}`,
		"/etc/add2tkectl/site.yaml":                           "proxy:\n  http: http://ops:" + proxyPass + "@proxy.idc:3128\n",
		"/var/log/cloud-init-output.log":                      "the secret alone: " + testSecret + "\n",
		"/etc/os-release":                                     "ID=debian\n",
		"/etc/hostname":                                       "node-a\n",
		"/proc/self/mountinfo":                                "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n",
	})
	return dir
}

func testConfig() *config.NodePoolJoin {
	c := &config.NodePoolJoin{}
	c.Cluster.BootstrapToken = testToken
	c.Artifacts.ManifestURL = presigned
	return c
}

// fakeRunner answers the commands debug runs as a node would, with
// secrets in the kubelet's journal; a command named in fail exits 3.
func fakeRunner(fail ...string) Runner {
	return func(ctx context.Context, out *CappedBuffer, name string, args ...string) error {
		line := filepath.Base(name) + " " + strings.Join(args, " ")
		for _, f := range fail {
			if strings.HasPrefix(line, f) {
				fmt.Fprintf(out, "%s: failed on purpose\n", f)
				return exec.Command("sh", "-c", "exit 3").Run()
			}
		}
		switch {
		case name == "systemctl":
			fmt.Fprintf(out, "Id=%s\nActiveState=active\n", args[1])
		case name == "journalctl" && args[1] == "kubelet.service":
			fmt.Fprintf(out, "kubelet: using bootstrap token %s\nkubelet: Authorization: Bearer %s\n", testToken, bearerValue)
		case strings.HasSuffix(name, "/kubelet"):
			out.Write([]byte("Kubernetes v1.35.4\n"))
		default:
			fmt.Fprintf(out, "output of %s\n", line)
		}
		return nil
	}
}

func collectTest(t *testing.T, d Deps) *Result {
	t.Helper()
	if d.Status == nil {
		d.Status = func(context.Context) ([]byte, error) {
			return []byte(`{"healthy":false,"problems":["install failed in phase kubelet"]}`), nil
		}
	}
	return Collect(context.Background(), d)
}

// readArchive writes res and reads the archive back: entry name (without
// the top directory) → content; it checks each entry's mode.
func readArchive(t *testing.T, res *Result) map[string][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := res.Write(&buf); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		top, name, ok := strings.Cut(h.Name, "/")
		if !ok || top != res.Prefix() {
			t.Errorf("entry %s is not under %s/", h.Name, res.Prefix())
		}
		if h.Mode != 0o600 {
			t.Errorf("entry %s has mode %o, want 600", h.Name, h.Mode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
}

func TestNoPlantedSecretSurvivesInAnyEntry(t *testing.T) {
	dir := installedRoot(t)
	res := collectTest(t, Deps{Root: host.Root{Dir: dir}, Live: true, Config: testConfig(), Run: fakeRunner("iptables-save"), Version: "add2tkectl test"})
	entries := readArchive(t, res)
	secrets := map[string]string{
		"the token's secret":       testSecret,
		"a presigned signature":    "q-signature",
		"the presigned access key": "AKIDqwertyuiopasdfghj",
		"a private key's body":     keyBody,
		"the client key":           clientKey,
		"the proxy password":       proxyPass,
		"the registry password":    "regPassw0rd",
		"a bearer token":           bearerValue,
		"the user script's secret": "users-own-secret-value",
	}
	for name, b := range entries {
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %s:\n%s", name, what, b)
			}
		}
	}
	// What is not secret stays, so the archive still tells something.
	for name, want := range map[string]string{
		"files/etc/kubernetes/kubelet.conf":                        "client-certificate-data: " + clientCert,
		"files/etc/kubernetes/bootstrap-kubelet.conf":              "token: REDACTED",
		"files/var/lib/add2tkectl/state.json":                      "abcdef.REDACTED",
		"files/usr/local/qcloud/tke/userscript/userscript.log":     "-----BEGIN RSA PRIVATE KEY-----\nREDACTED\n",
		"files/etc/systemd/system/kubelet.service.d/10-proxy.conf": "http://ops:***@proxy.idc:3128",
		"commands/journalctl-kubelet.service.txt":                  "Bearer REDACTED",
		"files/var/log/add2tkectl/add2tkectl.log":                  "https://b.cos.ap-guangzhou.myqcloud.com/pool/manifest.json?REDACTED",
	} {
		if !strings.Contains(string(entries[name]), want) {
			t.Errorf("%s lacks %q:\n%s", name, want, entries[name])
		}
	}
}

func TestIndexListsEverySourceWithItsOutcome(t *testing.T) {
	dir := installedRoot(t)
	res := collectTest(t, Deps{Root: host.Root{Dir: dir}, Live: true, Config: testConfig(), Run: fakeRunner("iptables-save"), Version: "add2tkectl test"})
	entries := readArchive(t, res)
	var idx Index
	if err := json.Unmarshal(entries[IndexName], &idx); err != nil {
		t.Fatalf("index.json: %v\n%s", err, entries[IndexName])
	}
	if idx.Host != "node-a" || idx.TimedOut {
		t.Errorf("index host %q, timed out %v; want node-a, false", idx.Host, idx.TimedOut)
	}
	bySource := map[string]Entry{}
	for _, e := range idx.Entries {
		bySource[e.Source] = e
		if e.Name != "" {
			b, ok := entries[e.Name]
			if !ok {
				t.Errorf("index lists %s, not in the archive", e.Name)
			} else if int64(len(b)) != e.Size {
				t.Errorf("index says %s has %d bytes, the archive %d", e.Name, e.Size, len(b))
			}
		}
	}
	zero := 0
	three := 3
	for src, want := range map[string]struct {
		status string
		name   string
		exit   *int
	}{
		"add2tkectl status -o json":                            {StatusOK, StatusName, nil},
		"/var/lib/add2tkectl/state.json":                       {StatusOK, "files/var/lib/add2tkectl/state.json", nil},
		"/var/lib/add2tkectl/stamps/kubelet":                   {StatusOK, "files/var/lib/add2tkectl/stamps/kubelet", nil},
		"/etc/containerd/config.toml":                          {StatusOK, "files/etc/containerd/config.toml", nil},
		"/usr/local/bin/kubelet":                               {StatusOmitted, "", nil},
		"/usr/local/qcloud/tke/userscript/userscript.sh":       {StatusOmitted, "", nil},
		"/etc/add2tkectl/site.yaml":                            {StatusOK, "files/etc/add2tkectl/site.yaml", nil},
		"/var/log/cloud-init-output.log":                       {StatusOK, "files/var/log/cloud-init-output.log", nil},
		"systemctl show kubelet.service --no-pager":            {StatusOK, "commands/systemctl-show-kubelet.service.txt", &zero},
		"systemctl show add2tkectl-install.service --no-pager": {StatusOK, "commands/systemctl-show-add2tkectl-install.service.txt", &zero},
		"systemctl show cri-docker.service --no-pager":         {StatusOK, "commands/systemctl-show-cri-docker.service.txt", &zero},
		"iptables-save":                                        {StatusFailed, "commands/iptables-save.txt", &three},
		dir + "/usr/local/bin/kubelet --version":               {StatusOK, "commands/kubelet-version.txt", &zero},
	} {
		e, ok := bySource[src]
		switch {
		case !ok:
			t.Errorf("index lacks %s", src)
		case e.Status != want.status || e.Name != want.name:
			t.Errorf("index of %s: status %q name %q, want %q %q (%s)", src, e.Status, e.Name, want.status, want.name, e.Error)
		case want.exit != nil && (e.ExitCode == nil || *e.ExitCode != *want.exit):
			t.Errorf("index of %s: exit %v, want %d", src, e.ExitCode, *want.exit)
		}
	}
	// An optional file that is not there (cloud-init's main log) is no
	// finding; a missing one that matters is listed as absent.
	if _, ok := bySource["/var/log/cloud-init.log"]; ok {
		t.Error("index lists the absent optional /var/log/cloud-init.log")
	}
	if e := bySource["/var/log/add2tkectl/add2tkectl.log"]; e.Status != StatusOK {
		t.Errorf("install's log: %+v", e)
	}
	if !strings.Contains(string(entries[ManifestName]), "failed  ") || !strings.Contains(string(entries[ManifestName]), "iptables-save") {
		t.Errorf("MANIFEST.txt does not show the failed command:\n%s", entries[ManifestName])
	}
	if _, ok := entries["commands/dockerd-version.txt"]; ok {
		t.Error("a dockerd version where no dockerd is installed")
	}
}

func TestOversizedEntriesAreTruncatedWithAMarkerAndTheTotalIsCapped(t *testing.T) {
	dir := installedRoot(t)
	var log strings.Builder
	last := ""
	for i := 0; log.Len() < 20<<10; i++ {
		fmt.Fprintf(&log, "line %05d token %s\n", i, testToken)
		last = fmt.Sprintf("line %05d token abcdef.REDACTED\n", i)
	}
	plant(t, dir, map[string]string{"/var/log/add2tkectl/add2tkectl.log": log.String()})
	res := collectTest(t, Deps{Root: host.Root{Dir: dir}, Live: true, Run: fakeRunner(), FileCap: 1 << 10, TotalCap: 2 << 10})
	entries := res.Entries()
	got := string(entries["files/var/log/add2tkectl/add2tkectl.log"])
	if len(got) > 1<<10+200 {
		t.Errorf("the log is %d bytes in the archive, over its 1 KiB cap", len(got))
	}
	if !strings.HasPrefix(got, "[add2tkectl debug: truncated, the last ") || !strings.Contains(got, fmt.Sprintf("of %d bytes follow]", log.Len())) {
		t.Errorf("the log has no truncation marker:\n%s", got)
	}
	if !strings.HasSuffix(got, last) {
		t.Errorf("the truncated log does not end with the log's last line:\n%s", got)
	}
	if strings.Contains(got, testSecret) {
		t.Error("a truncated entry holds the token's secret")
	}
	var skipped int
	var total int64
	for _, e := range res.Index.Entries {
		total += e.Size
		if e.Name == "files/var/log/add2tkectl/add2tkectl.log" && (!e.Truncated || e.OriginalSize != int64(log.Len())) {
			t.Errorf("index of the log: %+v, want truncated from %d", e, log.Len())
		}
		if e.Status == StatusSkipped && strings.Contains(e.Error, "total cap") {
			skipped++
		}
	}
	if skipped == 0 {
		t.Error("no entry skipped for the total cap")
	}
	if total > 2<<10+Parallel*(1<<10+200) {
		t.Errorf("entries total %d bytes, over the 2 KiB cap and what the sources in flight add", total)
	}
}

// Every command that hangs is cut at its timeout, the status (which heeds
// no context here) at its own, and the whole run at the run's; what the
// run did not reach is listed as skipped.
func TestHangingCommandsAndStatusAreBoundedInTime(t *testing.T) {
	dir := installedRoot(t)
	hang := func(ctx context.Context, out *CappedBuffer, name string, args ...string) error {
		out.Write([]byte("partial\n"))
		<-ctx.Done()
		return ctx.Err()
	}
	block := make(chan struct{})
	defer close(block)
	start := time.Now()
	res := Collect(context.Background(), Deps{
		Root: host.Root{Dir: dir}, Live: true, Run: hang,
		Status:         func(context.Context) ([]byte, error) { <-block; return nil, nil },
		StatusTimeout:  100 * time.Millisecond,
		CommandTimeout: 50 * time.Millisecond,
		Timeout:        150 * time.Millisecond,
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the collection took %s with a 150ms timeout", took)
	}
	if !res.Index.TimedOut {
		t.Error("the index does not say the run timed out")
	}
	var timedOut, skipped int
	for _, e := range res.Index.Entries {
		switch {
		case e.Source == "add2tkectl status -o json" && e.Status != StatusTimedOut:
			t.Errorf("status: %+v, want timed-out", e)
		case e.Status == StatusTimedOut && e.Source != "add2tkectl status -o json":
			timedOut++
			if e.ExitCode == nil || e.Name == "" || string(res.Entries()[e.Name]) != "partial\n" {
				t.Errorf("timed-out command %s: %+v, want its exit status and partial output", e.Source, e)
			}
		case e.Status == StatusSkipped:
			skipped++
		}
	}
	if timedOut == 0 || skipped == 0 {
		t.Errorf("%d commands timed out, %d skipped; want some of each", timedOut, skipped)
	}
	// Files come before the commands: the journal is in however the run ends.
	if _, ok := res.Entries()["files/var/lib/add2tkectl/state.json"]; !ok {
		t.Error("the journal is not in an archive cut by the timeout")
	}
}

// A host where nothing is installed (no journal, no components) and
// another root: debug still writes an archive that says so.
func TestNothingInstalledOnAnotherRootIsFine(t *testing.T) {
	dir := t.TempDir()
	ran := 0
	res := Collect(context.Background(), Deps{
		Root: host.Root{Dir: dir}, ConfigError: errors.New("no configuration: bundled payload missing"),
		Run: func(ctx context.Context, out *CappedBuffer, name string, args ...string) error { ran++; return nil },
	})
	entries := readArchive(t, res)
	if ran != 0 {
		t.Errorf("%d commands ran on a root that is not the running host", ran)
	}
	if !strings.Contains(string(entries[ConfigName]), "bundled payload missing") {
		t.Errorf("config-error.txt: %q", entries[ConfigName])
	}
	by := map[string]Entry{}
	for _, e := range res.Index.Entries {
		by[e.Source] = e
	}
	if e := by["/var/lib/add2tkectl/state.json"]; e.Status != StatusAbsent {
		t.Errorf("journal: %+v, want absent", e)
	}
	if e := by["systemctl show kubelet.service --no-pager"]; e.Status != StatusSkipped {
		t.Errorf("systemctl show on another root: %+v, want skipped", e)
	}
	if e := by["add2tkectl status -o json"]; e.Status != StatusOmitted {
		t.Errorf("status without a status function: %+v, want omitted", e)
	}
}

func TestWriteFileIsAtomicAndPrivate(t *testing.T) {
	dir := installedRoot(t)
	res := collectTest(t, Deps{Root: host.Root{Dir: dir}, Live: true, Run: fakeRunner()})
	outDir := t.TempDir()
	out := filepath.Join(outDir, DefaultName(res.Index.Host, res.Index.StartedAt))
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %o, want 600", st.Mode().Perm())
	}
	left, _ := os.ReadDir(outDir)
	if len(left) != 1 {
		t.Errorf("%d files in the output directory, want the archive alone", len(left))
	}
	if !strings.HasPrefix(filepath.Base(out), "add2tkectl-debug-node-a-") || !strings.HasSuffix(out, "Z.tar.gz") {
		t.Errorf("default name %s", filepath.Base(out))
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := gzip.NewReader(f); err != nil {
		t.Errorf("the archive is no gzip: %v", err)
	}
}
