package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

func sampleConfig(t *testing.T) *config.NodePoolJoin {
	t.Helper()
	l, err := config.Load(config.Options{File: filepath.Join("..", "..", "testdata", "config", "good", "containerd.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	return l.Config
}

func phaseNames(t *testing.T, c *config.NodePoolJoin) ([]string, []string) {
	t.Helper()
	ps, err := Phases(Deps{Config: c, Root: host.Root{Dir: t.TempDir()}, Log: logrus.New()})
	if err != nil {
		t.Fatal(err)
	}
	var names, descs []string
	for _, p := range ps {
		names = append(names, p.Name)
		descs = append(descs, p.Description)
		if p.Description == "" || p.Run == nil || p.Satisfied == nil {
			t.Errorf("phase %q lacks a description, a Run or a Satisfied", p.Name)
		}
	}
	return names, descs
}

func TestPhasesAreTheDesignedOrder(t *testing.T) {
	names, _ := phaseNames(t, sampleConfig(t))
	if diff := cmp.Diff(Workflow.Names(), names); diff != "" {
		t.Errorf("install phases (-want +got):\n%s", diff)
	}
}

func TestRuntimePhaseNamesTheRuntime(t *testing.T) {
	c := sampleConfig(t)
	c.NodePool.Runtime.Kind = config.RuntimeDocker
	if _, descs := phaseNames(t, c); descs[3] != "install the container runtime (docker)" {
		t.Errorf("runtime description %q", descs[3])
	}
}

func TestNodeNameIsTheLowerCasedHostName(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	if err := os.MkdirAll(root.Path("/proc/sys/kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/proc/sys/kernel/hostname"), []byte("IDC-Host-07\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := NodeName(root)
	if err != nil || got != "idc-host-07" {
		t.Fatalf("NodeName = %q, %v", got, err)
	}
}
