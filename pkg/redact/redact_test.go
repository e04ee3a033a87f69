package redact

import (
	"strings"
	"testing"
)

func TestStringRemovesTokensAndPresignedQueries(t *testing.T) {
	in := `join with abcdef.0123456789abcdef from https://b.cos-internal.ap-guangzhou.myqcloud.com/kubelet?q-sign-algorithm=sha1&q-ak=AKID&q-signature=deadbeef failed`
	out := String(in)
	for _, secret := range []string{"0123456789abcdef", "q-signature", "deadbeef", "AKID"} {
		if strings.Contains(out, secret) {
			t.Errorf("String left %q in %q", secret, out)
		}
	}
	if !strings.Contains(out, "abcdef."+Mask) || !strings.Contains(out, "myqcloud.com/kubelet?"+Mask) {
		t.Errorf("String lost the non-secret parts: %q", out)
	}
}

func TestURL(t *testing.T) {
	got := URL("https://h/a/b.json?q-ak=x&q-signature=y")
	if got != "https://h/a/b.json?"+Mask {
		t.Errorf("URL = %q", got)
	}
	if got := URL("https://h/a"); got != "https://h/a" {
		t.Errorf("URL without query = %q", got)
	}
}

func TestToken(t *testing.T) {
	if got := Token("abcdef.0123456789abcdef"); got != "abcdef."+Mask {
		t.Errorf("Token = %q", got)
	}
}

func TestUserinfoMasksAProxyPassword(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:s3cret@proxy.idc:3128":     "http://user:***@proxy.idc:3128",
		"https://u%40corp:p%2Fw@proxy.idc/":     "https://u%40corp:***@proxy.idc/",
		"http://user@proxy.idc:3128":            "http://user@proxy.idc:3128",
		"http://proxy.idc:3128":                 "http://proxy.idc:3128",
		"http://user:s3cret@proxy idc:3128/%zz": "http://user:***@proxy idc:3128/%zz",
		"":                                      "",
	} {
		if got := Userinfo(in); got != want {
			t.Errorf("Userinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStringMasksURLPasswords(t *testing.T) {
	in := `proxyconnect tcp: dial "http://ops:hunter2@10.0.0.9:3128": refused; see https://docs.example/a@b`
	got := String(in)
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "http://ops:***@10.0.0.9:3128") {
		t.Errorf("String(%q) = %q", in, got)
	}
	if !strings.Contains(got, "https://docs.example/a@b") {
		t.Errorf("String changed a URL without a password: %q", got)
	}
}
