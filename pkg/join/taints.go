package join

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// TaintDrift is how the Node's taints differ from the pool's. The node
// cannot fix it: NodeRestriction lets a kubelet set taints only when it
// creates its Node object (E2E-FACTS.md), so drift is reported, not patched.
type TaintDrift struct {
	// Missing are configured taints the Node does not carry.
	Missing []config.Taint `json:"missing,omitempty"`
	// Unexpected are taints on the Node under a key the pool owns (configured
	// now or registered at first join) that the configuration does not ask for.
	Unexpected []config.Taint `json:"unexpected,omitempty"`
}

// Empty reports whether the Node's taints are as configured.
func (d TaintDrift) Empty() bool { return len(d.Missing) == 0 && len(d.Unexpected) == 0 }

// DiffTaints computes the drift between the Node's taints and the configured
// ones. Only taints whose key is configured or in registeredKeys count as the
// pool's; the rest (node.kubernetes.io/*, an administrator's) are ignored.
func DiffTaints(node []corev1.Taint, desired []config.Taint, registeredKeys []string) TaintDrift {
	type id struct{ key, effect string }
	want := map[id]config.Taint{}
	owned := map[string]bool{}
	for _, t := range desired {
		want[id{t.Key, t.Effect}] = t
		owned[t.Key] = true
	}
	for _, k := range registeredKeys {
		owned[k] = true
	}
	var d TaintDrift
	have := map[id]bool{}
	for _, t := range node {
		if !owned[t.Key] {
			continue
		}
		i := id{t.Key, string(t.Effect)}
		if w, ok := want[i]; ok && w.Value == t.Value {
			have[i] = true
			continue
		}
		d.Unexpected = append(d.Unexpected, config.Taint{Key: t.Key, Value: t.Value, Effect: string(t.Effect)})
	}
	for i, t := range want {
		if !have[i] {
			d.Missing = append(d.Missing, t)
		}
	}
	sortTaints(d.Missing)
	sortTaints(d.Unexpected)
	return d
}

func sortTaints(ts []config.Taint) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Key != ts[j].Key {
			return ts[i].Key < ts[j].Key
		}
		if ts[i].Effect != ts[j].Effect {
			return ts[i].Effect < ts[j].Effect
		}
		return ts[i].Value < ts[j].Value
	})
}

// taintString formats a taint as the configuration and kubectl write it.
func taintString(t config.Taint) string {
	if t.Value == "" {
		return t.Key + ":" + t.Effect
	}
	return t.Key + "=" + t.Value + ":" + t.Effect
}

func taintStrings(ts []config.Taint) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = taintString(t)
	}
	return out
}
