package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPresignedURLs: URLs signed by the official SDK are accepted; expired,
// tampered and wrong-key ones get COS's 403 XML answers.
func TestPresignedURLs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "obj"), []byte("0123456789"), 0o644)
	s := newServer(dir, "AKID", "SK")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ConnContext: connContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	sign := func(key string, from time.Time, exp time.Duration) string {
		u, err := presignURL(base, "AKID", key, http.MethodGet, "/obj", from, exp)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	get := func(u string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := sign("SK", time.Now(), time.Hour)
	if code, body := get(good); code != 200 || body != "0123456789" {
		t.Errorf("valid URL: %d %q", code, body)
	}
	if code, body := get(good, "Range", "bytes=4-"); code != 206 || body != "456789" {
		t.Errorf("range: %d %q", code, body)
	}
	if code, body := get(good, "Range", "bytes=4-", "If-Range", `"other"`); code != 200 || body != "0123456789" {
		t.Errorf("If-Range mismatch must send the whole object: %d %q", code, body)
	}
	for name, tc := range map[string]struct{ url, code, msg string }{
		"expired":   {sign("SK", time.Now().Add(-2*time.Hour), time.Hour), "AccessDenied", "Request has expired"},
		"wrong key": {sign("other", time.Now(), time.Hour), "SignatureDoesNotMatch", "does not match"},
		"tampered":  {strings.Replace(good, "/obj?", "/obj2?", 1), "SignatureDoesNotMatch", "does not match"},
		"unsigned":  {base + "/obj", "AccessDenied", "Access Denied"},
	} {
		code, body := get(tc.url)
		if code != 403 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
}
