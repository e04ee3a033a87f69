package cli

import (
	"strings"
	"testing"
)

// TestSetWithANestedSecretExitsTwoAndSaysWhereToPutIt: the secret guard
// holds through the command line, for every command that loads the
// configuration, and the message names the variable to use instead.
func TestSetWithANestedSecretExitsTwoAndSaysWhereToPutIt(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"cluster={bootstrapToken: abcdef.0123456789abcdef}", "ADD2TKE_CLUSTER_BOOTSTRAPTOKEN"},
		{`artifacts={manifestURL: "https://b.cos.ap-guangzhou.myqcloud.com/m.json?q-sign-algorithm=sha1&q-signature=0123456789abcdef"}`, "ADD2TKE_ARTIFACTS_MANIFESTURL"},
	} {
		for _, cmd := range []string{"view", "validate"} {
			_, stderr, code := runConfigCLI(t, "", "config", cmd, "--config", goodConfig, "--set", tc.set)
			if code != ExitUsage {
				t.Errorf("config %s --set %s: exit %d, want %d", cmd, tc.set, code, ExitUsage)
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "--config file") {
				t.Errorf("config %s --set %s: stderr does not say to use %s or the --config file:\n%s", cmd, tc.set, tc.want, stderr)
			}
			if strings.Contains(stderr, tokenSecret) {
				t.Errorf("config %s: stderr shows the secret:\n%s", cmd, stderr)
			}
		}
	}
}
