package config

import (
	"errors"
	"strings"
	"testing"
)

// secretParts are the parts of the secrets below that must never be echoed.
var secretParts = []string{tokenSecret, "SIGVALUE"}

// TestSetRefusesASecretAtAnyDepth: a secret in --set is refused wherever
// it sits — the field, a mapping or list assigned above it (flow YAML or
// JSON, escapes included), a key, free text such as the user script — and
// the error names where it is and the variable or file to use instead,
// without the value.
func TestSetRefusesASecretAtAnyDepth(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want []string
	}{
		{"cluster.bootstrapToken=abcdef.0123456789abcdef", []string{"--set cluster.bootstrapToken: holds the bootstrap token;", "ADD2TKE_CLUSTER_BOOTSTRAPTOKEN"}},
		{"cluster.bootstrapToken=not-even-a-token", []string{"holds the bootstrap token", "ADD2TKE_CLUSTER_BOOTSTRAPTOKEN"}},
		{"cluster={bootstrapToken: abcdef.0123456789abcdef}", []string{"--set cluster: holds the bootstrap token (at cluster.bootstrapToken)", "ADD2TKE_CLUSTER_BOOTSTRAPTOKEN"}},
		{`cluster={"id": "cls-1", "bootstrapToken": "abcdef\u002e0123456789abcdef"}`, []string{"(at cluster.bootstrapToken)", "ADD2TKE_CLUSTER_BOOTSTRAPTOKEN"}},
		{"cluster={bootstrapToken: xyz}", []string{"(at cluster.bootstrapToken)"}},
		{"cluster={bootstrapToken: abcdef.0123456789abcdef", []string{"--set cluster: holds a bootstrap token;", "ADD2TKE_CLUSTER"}},
		{`artifacts={manifestURL: "https://b.cos.ap-guangzhou.myqcloud.com/m.json?q-sign-algorithm=sha1&q-signature=SIGVALUE"}`, []string{"(at artifacts.manifestURL)", "ADD2TKE_ARTIFACTS_MANIFESTURL"}},
		{`artifacts={"manifestURL": "https://b.s3.amazonaws.com/m.json?X-Amz-Signature=SIGVALUE"}`, []string{"ADD2TKE_ARTIFACTS_MANIFESTURL"}},
		{"artifacts.manifestURL=https://cos/m.json?Signature=SIGVALUE", []string{"--set artifacts.manifestURL: holds a presigned URL", "ADD2TKE_ARTIFACTS_MANIFESTURL"}},
		{"artifacts.manifestURL=https://cos/m.json?expires=1", []string{"holds a presigned URL (its query string signs it)"}},
		{"nodePool.userScript=#!/bin/sh\ncurl -o x 'https://b/x?token=SIGVALUE'\n", []string{"--set nodePool.userScript: holds a presigned URL", "ADD2TKE_NODEPOOL_USERSCRIPT"}},
		{"nodePool.userScript=kubeadm join --token abcdef.0123456789abcdef", []string{"holds a bootstrap token", "ADD2TKE_NODEPOOL_USERSCRIPT"}},
		{"nodePool={userScript: 'curl https://b/x?x-cos-security-token=SIGVALUE'}", []string{"(at nodePool.userScript)", "ADD2TKE_NODEPOOL_USERSCRIPT"}},
		{"nodePool.labels={team: abcdef.0123456789abcdef}", []string{"(at nodePool.labels.team)", "ADD2TKE_NODEPOOL_LABELS"}},
		{"nodePool.labels.abcdef.0123456789abcdef=x", []string{"--set nodePool.labels: holds a bootstrap token in its path", "ADD2TKE_NODEPOOL_LABELS"}},
		{"nodePool.labels={abcdef.0123456789abcdef: x}", []string{"a bootstrap token as a key", "ADD2TKE_NODEPOOL_LABELS"}},
		{"nodePool.taints=[{key: k, value: abcdef.0123456789abcdef, effect: NoSchedule}]", []string{"(at nodePool.taints[0].value)", "ADD2TKE_NODEPOOL_TAINTS"}},
		{`nodePool.kubelet.extraConfig={a: {b: [x, "https://h/p?X-Amz-Credential=SIGVALUE"]}}`, []string{"(at nodePool.kubelet.extraConfig.a.b[1])", "ADD2TKE_NODEPOOL_KUBELET_EXTRACONFIG"}},
		{"nodePool.kubelet.extraArgs.bootstrap-token=abcdef.0123456789abcdef", []string{"ADD2TKE_NODEPOOL_KUBELET_EXTRAARGS"}},
		{"nodePool.cordon=abcdef.0123456789abcdef", []string{"--set nodePool.cordon: holds a bootstrap token"}},
		{"abcdef.0123456789abcdef=x", []string{"--set: holds a bootstrap token in its path", "ADD2TKE_<FIELD PATH> (e.g. ADD2TKE_CLUSTER_BOOTSTRAPTOKEN)"}},
	} {
		_, err := Load(Options{Sets: []string{tc.set}})
		var le *LoadError
		if !errors.As(err, &le) {
			t.Errorf("--set %q: error %v, want a *LoadError (exit 2)", tc.set, err)
			continue
		}
		msg := err.Error()
		for _, w := range append(tc.want, "visible to every user of the host", "put it in the --config file or in the environment variable ADD2TKE_") {
			if !strings.Contains(msg, w) {
				t.Errorf("--set %q:\n  error %q\n  lacks %q", tc.set, msg, w)
			}
		}
		for _, s := range secretParts {
			if strings.Contains(msg, s) {
				t.Errorf("--set %q: the error shows the secret: %s", tc.set, msg)
			}
		}
	}
}

// TestSetAcceptsWhatHoldsNoSecret: the guard leaves ordinary values alone.
func TestSetAcceptsWhatHoldsNoSecret(t *testing.T) {
	for _, set := range []string{
		"cluster.bootstrapToken=", // unset, as an empty variable is
		"artifacts.manifestURL=https://b.cos.ap-guangzhou.myqcloud.com/manifest.json",
		"nodePool.labels.tke.cloud.tencent.com/location=idc-sh-01",
		"cluster={id: cls-m57oxxxp, region: ap-guangzhou}",
		"nodePool.userScript=#!/bin/sh\ncurl -fsS 'https://mirror/x?version=1&arch=amd64' | sh\n",
		"nodePool.kubelet.extraConfig={evictionHard: {memory.available: 100Mi}}",
		"nodePool.taints=[{key: dedicated, value: infra, effect: NoSchedule}]",
	} {
		if _, err := Load(Options{Sets: []string{set}}); err != nil {
			t.Errorf("--set %q: %v", set, err)
		}
	}
}
