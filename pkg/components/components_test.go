package components

import (
	"context"
	"errors"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

// A runtime whose socket is not there is down, not a failure to report:
// uninstall then leaves its containers to go with their cgroups.
func TestRemoverOfAStoppedRuntimeSaysSo(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	for _, r := range Default().Runtimes {
		if _, err := r.Containers(root).RemoveAll(context.Background()); !errors.Is(err, component.ErrRuntimeDown) {
			t.Errorf("%s with no socket: %v, want ErrRuntimeDown", r.Name(), err)
		}
	}
}

// Every unit is declared by one component only, with one place in the stop
// order: uninstall's order and its products come from these declarations.
func TestEveryUnitHasOneComponent(t *testing.T) {
	seen := map[string]string{}
	for _, c := range Default().All() {
		for _, u := range c.Footprint().Units {
			if other, ok := seen[u.Name]; ok {
				t.Errorf("unit %s is declared by %s and %s", u.Name, other, c.Name())
			}
			seen[u.Name] = c.Name()
		}
	}
	if len(seen) < 5 {
		t.Errorf("only %d units declared: %v", len(seen), seen)
	}
}
