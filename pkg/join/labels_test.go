package join

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPlanLabels(t *testing.T) {
	tests := []struct {
		name             string
		current, desired map[string]string
		owned            []string
		want             LabelPlan
	}{
		{
			name:    "already as configured",
			current: map[string]string{"a": "1", "kubernetes.io/hostname": "n1"},
			desired: map[string]string{"a": "1"},
			owned:   []string{"a"},
			want:    LabelPlan{Set: map[string]string{}},
		},
		{
			name:    "missing and changed values are set",
			current: map[string]string{"a": "old"},
			desired: map[string]string{"a": "new", "b": "2"},
			want:    LabelPlan{Set: map[string]string{"a": "new", "b": "2"}},
		},
		{
			name:    "an owned label dropped from the config is removed",
			current: map[string]string{"a": "1", "gone": "x"},
			desired: map[string]string{"a": "1"},
			owned:   []string{"a", "gone"},
			want:    LabelPlan{Set: map[string]string{}, Remove: []string{"gone"}},
		},
		{
			name:    "labels the pool never owned are left alone",
			current: map[string]string{"admin.example.com/team": "x", "kubernetes.io/os": "linux"},
			desired: map[string]string{},
			owned:   []string{"a"},
			want:    LabelPlan{Set: map[string]string{}},
		},
		{
			name:    "an owned label already absent needs no removal",
			current: map[string]string{},
			desired: nil,
			owned:   []string{"gone"},
			want:    LabelPlan{Set: map[string]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanLabels(tt.current, tt.desired, tt.owned)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("PlanLabels (-want +got):\n%s", diff)
			}
			if got.Empty() != (len(tt.want.Set) == 0 && len(tt.want.Remove) == 0) {
				t.Errorf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

func TestLabelMergePatchDeletesWithNull(t *testing.T) {
	p := LabelPlan{Set: map[string]string{"a": "1"}, Remove: []string{"gone"}}
	b, err := p.MergePatch()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]map[string]*string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	labels := got["metadata"]["labels"]
	if v := labels["a"]; v == nil || *v != "1" {
		t.Errorf("patch %s does not set a=1", b)
	}
	if v, ok := labels["gone"]; !ok || v != nil {
		t.Errorf("patch %s does not delete gone with null", b)
	}
}
