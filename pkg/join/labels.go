package join

import (
	"encoding/json"
	"sort"
)

// LabelPlan is what reconciling the pool's labels on a Node changes.
type LabelPlan struct {
	// Set are labels to add or correct, key -> configured value.
	Set map[string]string
	// Remove are labels the pool applied earlier and no longer configures.
	Remove []string
}

// Empty reports whether the Node already carries the pool's labels.
func (p LabelPlan) Empty() bool { return len(p.Set) == 0 && len(p.Remove) == 0 }

// PlanLabels compares the Node's labels with the configured ones. owned is
// the set of keys the pool applied before (from the journal); a key that is
// neither configured nor owned is never touched, so labels set by others
// (the kubelet, an administrator, the user script) survive.
func PlanLabels(current, desired map[string]string, owned []string) LabelPlan {
	p := LabelPlan{Set: map[string]string{}}
	for k, v := range desired {
		if cur, ok := current[k]; !ok || cur != v {
			p.Set[k] = v
		}
	}
	for _, k := range owned {
		if _, still := desired[k]; still {
			continue
		}
		if _, present := current[k]; present {
			p.Remove = append(p.Remove, k)
		}
	}
	sort.Strings(p.Remove)
	return p
}

// MergePatch is the JSON merge patch that applies the plan: null deletes.
func (p LabelPlan) MergePatch() ([]byte, error) {
	labels := map[string]any{}
	for k, v := range p.Set {
		labels[k] = v
	}
	for _, k := range p.Remove {
		labels[k] = nil
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
}

// sortedKeys returns the keys of m in order, for the journal and output.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unionKeys returns the sorted union of a and the keys of m.
func unionKeys(a []string, m map[string]string) []string {
	set := map[string]bool{}
	for _, k := range a {
		set[k] = true
	}
	for k := range m {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
