package install

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

func TestPhasesAreTheDesignedOrder(t *testing.T) {
	var names []string
	for _, p := range Phases(Deps{}) {
		names = append(names, p.Name)
		if p.Description == "" || p.Run == nil {
			t.Errorf("phase %q lacks a description or a Run", p.Name)
		}
	}
	want := []string{"preflight", "download", "host", "runtime", "images", "kubelet", "join", "userscript"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("install phases (-want +got):\n%s", diff)
	}
}

func TestUnwiredPhasesFailRatherThanPretend(t *testing.T) {
	for _, p := range Phases(Deps{}) {
		if p.Satisfied != nil {
			continue // wired: its own tests cover it
		}
		if err := p.Run(context.Background(), nil); err == nil {
			t.Errorf("phase %s succeeds without doing anything", p.Name)
		}
	}
}

func TestRuntimePhaseNamesTheRuntime(t *testing.T) {
	c := &config.NodePoolJoin{}
	c.NodePool.Runtime.Kind = config.RuntimeDocker
	if got := Phases(Deps{Config: c})[3].Description; got != "install the container runtime (docker)" {
		t.Errorf("runtime description %q", got)
	}
}
