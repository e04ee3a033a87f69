package debug

import (
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

const (
	testToken  = "abcdef.0123456789abcdef"
	testSecret = "0123456789abcdef"
	keyBody    = "MIIEowIBAAKCAQEAtestkeybodyline"
)

func TestRedactMasksEachKindOfSecret(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		gone     []string
		kept     []string
	}{
		{"bootstrap token", "join with " + testToken + " now", []string{testSecret}, []string{"abcdef.REDACTED"}},
		{"presigned link", "GET https://b.cos.ap-guangzhou.myqcloud.com/m.json?q-sign-algorithm=sha1&q-ak=AKIDxx&q-signature=feedface done",
			[]string{"q-signature", "feedface", "AKIDxx"}, []string{"https://b.cos.ap-guangzhou.myqcloud.com/m.json?REDACTED done"}},
		{"signature outside a link", `url=b.cos/m.json%3Fq-sign-algorithm%3Dsha1%26q-signature%3Dfeedface X-Amz-Signature=beef`,
			[]string{"q-signature", "feedface", "beef"}, []string{"url=b.cos/m.json"}},
		{"PEM private key", "a\n-----BEGIN RSA PRIVATE KEY-----\n" + keyBody + "\n-----END RSA PRIVATE KEY-----\nb\n",
			[]string{keyBody}, []string{"a\n-----BEGIN RSA PRIVATE KEY-----\nREDACTED\n-----END RSA PRIVATE KEY-----\nb\n"}},
		{"PEM key cut at its end", "a\n-----BEGIN PRIVATE KEY-----\n" + keyBody + "\n", []string{keyBody}, []string{"a\n-----BEGIN PRIVATE KEY-----"}},
		{"PEM key cut at its start", keyBody + "\n-----END EC PRIVATE KEY-----\nafter\n", []string{keyBody}, []string{"after"}},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----\n", nil, []string{"MIIcert"}},
		{"kubeconfig", "users:\n- name: u\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZREFUQQ==\n    token: sometokenvalue\n",
			[]string{"S0VZREFUQQ==", "sometokenvalue"}, []string{"client-certificate-data: Q0VSVA==", "client-key-data: REDACTED"}},
		{"flow kubeconfig", "users: [{name: u, user: {token: sometokenvalue, client-key-data: S0VZREFUQQ==}}]",
			[]string{"S0VZREFUQQ==", "sometokenvalue"}, []string{"{name: u, user: {token: REDACTED"}},
		{"JSON", `{"bootstrapToken":"sometokenvalue","token": "other\"value","name":"n"}`,
			[]string{"sometokenvalue", "other"}, []string{`{"bootstrapToken":"REDACTED","token": "REDACTED","name":"n"}`}},
		{"proxy password", "Environment=HTTPS_PROXY=http://ops:hunter2pass@proxy.idc:3128\nproxy:\n  http: http://ops:hunter2pass@proxy.idc:3128\n",
			[]string{"hunter2pass"}, []string{"http://ops:***@proxy.idc:3128"}},
		{"password line", "password = hunter2pass\n", []string{"hunter2pass"}, []string{"password = REDACTED"}},
		{"bearer", "Authorization: Bearer eyJhbGciOi.x.y\n", []string{"eyJhbGciOi"}, []string{"Authorization: Bearer REDACTED"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(NewRedactor(nil).Redact([]byte(tc.in)))
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q survives:\n%s", g, got)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(got, k) {
					t.Errorf("want %q in:\n%s", k, got)
				}
			}
		})
	}
}

// The configuration's secrets are masked as literals, and a token's
// secret seen anywhere is masked everywhere, even alone.
func TestRedactMasksLiteralAndLearntSecrets(t *testing.T) {
	c := &config.NodePoolJoin{}
	c.Cluster.BootstrapToken = "zyxwvu.zyxwvutsrqponmlk"
	c.Artifacts.ManifestURL = "https://b.cos/m.json?sig=AAAABBBBCCCCDDDDEEEE"
	r := NewRedactor(c)
	r.Learn([]byte("kubeconfig token " + testToken))
	got := string(r.Redact([]byte("secret zyxwvutsrqponmlk and AAAABBBBCCCCDDDDEEEE; alone " + testSecret + "\n")))
	for _, g := range []string{"zyxwvutsrqponmlk", "AAAABBBBCCCCDDDDEEEE", testSecret} {
		if strings.Contains(got, g) {
			t.Errorf("%q survives: %s", g, got)
		}
	}
}
