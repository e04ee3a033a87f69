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
