package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// siteRoot returns a --root whose site file holds content.
func siteRoot(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, site.Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSiteFileWithUnknownKeyFailsEveryHostCommandWithExit2(t *testing.T) {
	root := siteRoot(t, "proxy:\n  http: http://proxy.idc:3128\n  noProxi: [.idc]\n")
	for _, args := range [][]string{
		{"install", "--dry-run"},
		{"uninstall", "--dry-run"},
		{"status"},
		{"preflight"},
		{"render"},
		{"config", "view"},
		{"config", "validate"},
	} {
		args = append(args, "--root", root, "--config", goodConfig)
		out, errOut, code := runConfigCLI(t, "", args...)
		if code != ExitUsage || !strings.Contains(errOut, `unknown key "proxy.noProxi"`) || !strings.Contains(errOut, filepath.Join(root, site.Path)) {
			t.Errorf("%v: exit %d, want 2 naming the key and the file\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	// version and completion never read it.
	for _, args := range [][]string{{"version"}, {"completion", "bash"}} {
		args = append(args, "--root", root)
		if _, errOut, code := runConfigCLI(t, "", args...); code != ExitOK {
			t.Errorf("%v: exit %d with a broken site file: %s", args, code, errOut)
		}
	}
}

func TestSiteFlagOfAMissingFileExits2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "site.yaml")
	_, errOut, code := runConfigCLI(t, "", "config", "view", "--config", goodConfig, "--root", t.TempDir(), "--site", missing)
	if code != ExitUsage || !strings.Contains(errOut, "--site "+missing+": no such file") {
		t.Errorf("exit %d, want 2: %s", code, errOut)
	}
}

func TestConfigViewShowsTheSiteRedacted(t *testing.T) {
	root := siteRoot(t, `
proxy:
  http: http://ops:hunter2@proxy.idc:3128
  noProxy: [.idc.example]
registries:
  - upstream: docker.io
    mirrors: [{endpoint: "https://mirror.idc:5000", caFile: /etc/pki/idc.pem}]
cli:
  timeout: 30m
`)
	out, errOut, code := runConfigCLI(t, "", "config", "view", "--config", goodConfig, "--root", root, "--proxy-https", "http://u:pw2@proxy2.idc:3129")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"\nsite:\n", "http: http://ops:***@proxy.idc:3128", "https: http://u:***@proxy2.idc:3129",
		"upstream: docker.io", "endpoint: https://mirror.idc:5000", "timeout: 30m0s", "logLevel: info",
		"abcdef.REDACTED", // the pool's part is still there, redacted
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "pw2") || strings.Contains(out, tokenSecret) {
		t.Errorf("config view leaks a secret:\n%s", out)
	}
	// The pool's document comes first and as before: site is the last key.
	if !strings.HasPrefix(out, "apiVersion: ") || strings.Index(out, "\nsite:\n") < strings.Index(out, "\nnodePool:\n") {
		t.Errorf("the pool's part moved:\n%s", out)
	}

	out, errOut, code = runConfigCLI(t, "", "config", "view", "-o", "json", "--config", goodConfig, "--root", root)
	if code != ExitOK {
		t.Fatalf("-o json: exit %d: %s", code, errOut)
	}
	var v struct {
		Cluster struct{ ID string }
		Site    site.Settings
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if v.Cluster.ID != "cls-m57oxxxp" || v.Site.Proxy.HTTP != "http://ops:***@proxy.idc:3128" || v.Site.CLI.Timeout.String() != "30m0s" || len(v.Site.Registries) != 1 {
		t.Errorf("-o json: %+v", v)
	}
}

func TestSiteLogLevelIsUsedUnlessTheFlagIsGiven(t *testing.T) {
	root := siteRoot(t, "cli:\n  logLevel: debug\n  noProgress: true\n")
	run := func(env map[string]string, args ...string) *Globals {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		var stdout, stderr strings.Builder
		g := &Globals{Stdout: &stdout, Stderr: &stderr}
		cmd := NewRootCommand(g)
		cmd.SetArgs(append([]string{"config", "view", "--config", goodConfig, "--root", root}, args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		return g
	}
	if g := run(nil); g.LogLevel != "debug" || !g.NoProgress {
		t.Errorf("site file: log level %q, no-progress %v; want debug, true", g.LogLevel, g.NoProgress)
	}
	if g := run(nil, "--log-level", "error"); g.LogLevel != "error" || g.Site.CLI.LogLevel != "error" {
		t.Errorf("--log-level error: %q (site %q)", g.LogLevel, g.Site.CLI.LogLevel)
	}
	if g := run(nil, "--log-level", "warning"); g.Site.CLI.LogLevel != "warn" {
		t.Errorf("--log-level warning: site %q, want warn", g.Site.CLI.LogLevel)
	}
	if g := run(map[string]string{"ADD2TKE_SITE_CLI_LOGLEVEL": "warn"}); g.LogLevel != "warn" {
		t.Errorf("ADD2TKE_SITE_CLI_LOGLEVEL=warn over the file: %q", g.LogLevel)
	}
}

func TestSiteGivesInstallItsTimeoutAndArtifactsDir(t *testing.T) {
	root := siteRoot(t, "cli:\n  timeout: 45m\n  artifactsDir: /mnt/offline\n")
	for _, tc := range []struct {
		args              []string
		timeout, artifact string
	}{
		{nil, "45m0s", "/mnt/offline"},
		{[]string{"--timeout", "2m", "--artifacts-dir", "/srv/a"}, "2m0s", "/srv/a"},
	} {
		g := &Globals{}
		cmd := NewRootCommand(g)
		install, rest, err := cmd.Find([]string{"install"})
		if err != nil || len(rest) != 0 {
			t.Fatal(err, rest)
		}
		if err := install.ParseFlags(append([]string{"--root", root}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		if err := loadSite(install, g); err != nil {
			t.Fatal(err)
		}
		if got := install.Flags().Lookup("timeout").Value.String(); got != tc.timeout {
			t.Errorf("%v: --timeout %s, want %s", tc.args, got, tc.timeout)
		}
		if got := install.Flags().Lookup("artifacts-dir").Value.String(); got != tc.artifact {
			t.Errorf("%v: --artifacts-dir %s, want %s", tc.args, got, tc.artifact)
		}
	}
	// render's --artifacts-dir is its own: the site does not set it.
	g := &Globals{}
	render, _, _ := NewRootCommand(g).Find([]string{"render"})
	if err := render.ParseFlags([]string{"--root", root}); err != nil {
		t.Fatal(err)
	}
	if err := loadSite(render, g); err != nil {
		t.Fatal(err)
	}
	if got := render.Flags().Lookup("artifacts-dir").Value.String(); got != "" {
		t.Errorf("render --artifacts-dir %q, want none", got)
	}
}
