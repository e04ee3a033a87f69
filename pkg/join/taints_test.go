package join

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

func TestDiffTaints(t *testing.T) {
	k1 := config.Taint{Key: "key1", Value: "value1", Effect: "PreferNoSchedule"}
	nodeK1 := corev1.Taint{Key: "key1", Value: "value1", Effect: corev1.TaintEffectPreferNoSchedule}
	unsched := corev1.Taint{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name       string
		node       []corev1.Taint
		desired    []config.Taint
		registered []string
		want       TaintDrift
	}{
		{name: "as configured", node: []corev1.Taint{nodeK1}, desired: []config.Taint{k1}},
		{name: "system and foreign taints are not drift",
			node:    []corev1.Taint{nodeK1, unsched, {Key: "admin.example.com/x", Effect: corev1.TaintEffectNoExecute}},
			desired: []config.Taint{k1}},
		{name: "configured taint missing", desired: []config.Taint{k1},
			want: TaintDrift{Missing: []config.Taint{k1}}},
		{name: "changed value is missing plus unexpected",
			node:    []corev1.Taint{{Key: "key1", Value: "old", Effect: corev1.TaintEffectPreferNoSchedule}},
			desired: []config.Taint{k1},
			want: TaintDrift{Missing: []config.Taint{k1},
				Unexpected: []config.Taint{{Key: "key1", Value: "old", Effect: "PreferNoSchedule"}}}},
		{name: "changed effect",
			node:    []corev1.Taint{{Key: "key1", Value: "value1", Effect: corev1.TaintEffectNoSchedule}},
			desired: []config.Taint{k1},
			want: TaintDrift{Missing: []config.Taint{k1},
				Unexpected: []config.Taint{{Key: "key1", Value: "value1", Effect: "NoSchedule"}}}},
		{name: "taint registered at first join and dropped from the config",
			node: []corev1.Taint{nodeK1}, registered: []string{"key1"},
			want: TaintDrift{Unexpected: []config.Taint{k1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DiffTaints(tt.node, tt.desired, tt.registered)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("DiffTaints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaintString(t *testing.T) {
	for in, want := range map[config.Taint]string{
		{Key: "k", Value: "v", Effect: "NoSchedule"}: "k=v:NoSchedule",
		{Key: "k", Effect: "NoExecute"}:              "k:NoExecute",
	} {
		if got := taintString(in); got != want {
			t.Errorf("taintString(%+v) = %q, want %q", in, got, want)
		}
	}
}
