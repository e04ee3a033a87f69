// Package components lists the components of a node (pkg/component is
// their contract): status and uninstall iterate over this list and know no
// component by name. A new component is one line here.
package components

import (
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/docker"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// Default is every component add2tkectl installs.
func Default() component.Set {
	return component.Set{
		Runtimes:  []component.Runtime{containerd.Runtime, docker.Runtime},
		Agent:     kubelet.Agent{},
		Launchers: []component.Launcher{firstboot.Launcher},
		Others:    []component.Component{userscript.Component},
	}
}
