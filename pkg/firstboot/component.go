package firstboot

import (
	"context"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Launcher is the first-boot unit as a component: cloud-init's user-data
// puts it on the host, not install, so uninstall removes it by its own
// paths (Files), first.
var Launcher component.Launcher = launcher{}

type launcher struct{}

func (launcher) Name() string { return "firstboot" }

func (launcher) Footprint() component.Footprint { return component.Footprint{} }

func (launcher) RemovalPlan(root host.Root) []string { return Plan(root.Dir) }

func (launcher) Remove(ctx context.Context, root host.Root, connect func(context.Context) (systemd.Manager, error)) error {
	return Remove(ctx, root.Dir, connect)
}
