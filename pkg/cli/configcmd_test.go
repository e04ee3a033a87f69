package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

const (
	configTestdata = "../../testdata/config"
	goodConfig     = configTestdata + "/good/containerd.yaml"
	// Secret halves of the sample's token and presigned manifest URL.
	tokenSecret   = "0123456789abcdef"
	presignSecret = "q-signature"
)

// runConfigCLI runs the command tree in-process as Main does, with exe as
// the running executable, and returns stdout, stderr and the exit code.
func runConfigCLI(t *testing.T, exe string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &Globals{Executable: exe, Stdout: &stdout, Stderr: &stderr}
	root := NewRootCommand(g)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		stderr.WriteString("error: " + err.Error() + "\n")
	}
	return stdout.String(), stderr.String(), ExitCode(err)
}

func TestConfigViewRedactsSecrets(t *testing.T) {
	for _, format := range []string{"text", "yaml", "json"} {
		out, errOut, code := runConfigCLI(t, "", "config", "view", "--config", goodConfig, "-o", format)
		if code != ExitOK {
			t.Fatalf("-o %s: exit %d: %s", format, code, errOut)
		}
		if strings.Contains(out, tokenSecret) || strings.Contains(out, presignSecret) {
			t.Errorf("-o %s leaks a secret:\n%s", format, out)
		}
		if !strings.Contains(out, "abcdef.REDACTED") || !strings.Contains(out, "manifest.json?REDACTED") {
			t.Errorf("-o %s: token id or manifest path missing after redaction:\n%s", format, out)
		}
		if format == "json" {
			var c config.NodePoolJoin
			if err := json.Unmarshal([]byte(out), &c); err != nil || c.Cluster.ID != "cls-m57oxxxp" || c.NodePool.ID != "np-3kd9a1bc" {
				t.Errorf("-o json is not the configuration: %v %+v", err, c)
			}
		} else if !strings.HasPrefix(out, "apiVersion: add2tke.tke.cloud.tencent.com/v1alpha1\n") {
			t.Errorf("-o %s is not YAML:\n%s", format, out)
		}
	}
}

func TestConfigValidateExitCodes(t *testing.T) {
	out, errOut, code := runConfigCLI(t, "", "config", "validate", "--config", goodConfig, "--set", "nodePool.cordon=true")
	if code != ExitOK || !strings.Contains(out, "configuration is valid") || !strings.Contains(out, "--set nodePool.cordon") || !strings.Contains(out, "file "+goodConfig) {
		t.Errorf("valid: exit %d\n%s%s", code, out, errOut)
	}

	bad := filepath.Join(configTestdata, "bad", "every-error-at-once.yaml")
	out, errOut, code = runConfigCLI(t, "", "config", "validate", "--config", bad)
	if code != ExitUsage || !strings.Contains(errOut, "(7 errors)") || !strings.Contains(errOut, "nodePool.taints[0].effect") {
		t.Errorf("invalid: exit %d, want 2 with every error\n%s%s", code, out, errOut)
	}

	out, _, code = runConfigCLI(t, "", "config", "validate", "--config", bad, "-o", "json")
	var res ConfigValidation
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Valid || len(res.Errors) != 7 || code != ExitUsage {
		t.Errorf("-o json: exit %d, %v %+v", code, err, res)
	}

	// Load errors (unknown field) exit 2 as well.
	_, errOut, code = runConfigCLI(t, "", "config", "validate", "--config", filepath.Join(configTestdata, "bad", "unknown-field.yaml"))
	if code != ExitUsage || !strings.Contains(errOut, `unknown field "lables"`) {
		t.Errorf("unknown field: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runConfigCLI(t, "", "config", "view", "--config", filepath.Join(t.TempDir(), "none.yaml"))
	if code != ExitUsage || !strings.Contains(errOut, "none.yaml") {
		t.Errorf("missing file: exit %d\n%s", code, errOut)
	}
}

func TestConfigValidateSaysWhenCRIDockerdJoins(t *testing.T) {
	out, errOut, code := runConfigCLI(t, "", "config", "validate", "--config", filepath.Join(configTestdata, "good", "docker-1.35-cri-dockerd.yaml"))
	if code != ExitOK || !strings.Contains(out, "cri-dockerd joins the install plan") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = runConfigCLI(t, "", "config", "validate", "--config", filepath.Join(configTestdata, "good", "docker-1.23.yaml"))
	if strings.Contains(out, "cri-dockerd") {
		t.Errorf("1.23 with docker mentions cri-dockerd:\n%s", out)
	}
}

func TestConfigEnvironmentOverridesFile(t *testing.T) {
	t.Setenv("ADD2TKE_NODEPOOL_CORDON", "true")
	t.Setenv("ADD2TKE_CLUSTER_REGION", "ap-beijing")
	out, errOut, code := runConfigCLI(t, "", "config", "view", "--config", goodConfig, "-o", "json", "--set", "cluster.region=ap-shanghai")
	var c config.NodePoolJoin
	if code != ExitOK || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !c.NodePool.Cordon || c.Cluster.Region != "ap-shanghai" {
		t.Errorf("cordon %v (env), region %q (flag over env)", c.NodePool.Cordon, c.Cluster.Region)
	}
}

func TestBundleNeedsConfigAndOut(t *testing.T) {
	for _, args := range [][]string{
		{"bundle", "--out", t.TempDir()},
		{"bundle", "--config", goodConfig},
		{"bundle", "--config", filepath.Join(configTestdata, "bad", "taint-effect.yaml"), "--out", t.TempDir()},
	} {
		_, errOut, code := runConfigCLI(t, os.Args[0], args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errOut)
		}
	}
	notELF := filepath.Join(t.TempDir(), "add2tkectl")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runConfigCLI(t, "", "bundle", "--config", goodConfig, "--out", t.TempDir(), "--binary", notELF)
	if code != ExitUsage || !strings.Contains(errOut, "not an executable") {
		t.Errorf("non-ELF binary: exit %d\n%s", code, errOut)
	}
}

func TestConfigViewPrintsAnInvalidConfigurationAndExits2(t *testing.T) {
	out, errOut, code := runConfigCLI(t, "", "config", "view", "--config", filepath.Join(configTestdata, "bad", "taint-effect.yaml"))
	if code != ExitUsage || !strings.Contains(out, "effect: NoScheduled") || !strings.Contains(errOut, "nodePool.taints[1].effect") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
