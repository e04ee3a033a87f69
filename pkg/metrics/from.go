package metrics

import (
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// Phases are the durations of the phases a runner's result reached.
func Phases(res *phase.Result) []Phase {
	if res == nil {
		return nil
	}
	out := make([]Phase, 0, len(res.Phases))
	for _, p := range res.Phases {
		out = append(out, Phase{Name: p.Name, Seconds: p.DurationSeconds})
	}
	return out
}

// FromStatus is status's verdict per part of the node: install (every
// phase done), units (all active), runtime and kubelet (answering), node
// (Ready in the API), userscript (succeeded, or none configured).
func FromStatus(rep *status.Report) *Health {
	unitsOK := len(rep.Units) > 0
	for _, u := range rep.Units {
		unitsOK = unitsOK && u.Active && u.Error == ""
	}
	return &Health{
		Healthy: rep.Healthy,
		Components: []Component{
			{Name: "install", Healthy: rep.Install.State == status.InstallComplete},
			{Name: "units", Healthy: unitsOK},
			{Name: "runtime", Healthy: rep.Runtime.Healthy},
			{Name: "kubelet", Healthy: rep.Kubelet.Healthy},
			{Name: "node", Healthy: rep.Node.Ready},
			{Name: "userscript", Healthy: !rep.UserScript.Configured || rep.UserScript.Succeeded},
		},
		Drift: !rep.Drift.Empty(),
	}
}
