package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// TestStallHoldsTheBodyThenSendsTheRest: a stall fault sends StallAfter
// bytes at once, holds the rest for Stall, then sends it intact; a stall
// that is not a duration is refused.
func TestStallHoldsTheBodyThenSendsTheRest(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 256<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(dir, "obj"), data, 0o644)
	s := newServer(dir, "", "")
	s.admin = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ConnContext: connContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	post := func(body string) int {
		resp, err := http.Post(base+"/_faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"stall":"ten seconds"}`); code != http.StatusBadRequest {
		t.Errorf("a stall that is no duration: %d, want 400", code)
	}
	if code := post(`{"path":"/obj","stallAfter":1000,"stall":"400ms","times":1}`); code != http.StatusNoContent {
		t.Fatalf("post fault: %d", code)
	}
	start := time.Now()
	resp, err := http.Get(base + "/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("the bytes before the stall took %s", d)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("the body came in %s, before the stall of 400ms ended", d)
	}
	if got := append(head, rest...); string(got) != string(data) {
		t.Errorf("body after the stall: %d bytes, differs from the object", len(got))
	}
	// times:1 is used up: the next response does not stall.
	start = time.Now()
	resp2, err := http.Get(base + "/obj")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp2.Body)
	resp2.Body.Close()
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("second response took %s: the stall applied twice", d)
	}
}

func TestFaultForEndsInTime(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "obj"), []byte("object"), 0o644)
	s := newServer(dir, "", "")
	s.admin = true
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	do := func(method, path, body string) int {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec.Code
	}
	if code := do(http.MethodPost, "/_faults", `{"status":503,"for":"half a minute"}`); code != http.StatusBadRequest {
		t.Errorf("a for that is no duration: %d, want 400", code)
	}
	if code := do(http.MethodPost, "/_faults", `{"path":"/obj","status":503,"for":"30s"}`); code != http.StatusNoContent {
		t.Fatalf("post fault: %d", code)
	}
	for _, step := range []struct {
		after time.Duration
		want  int
	}{{0, 503}, {29 * time.Second, 503}, {30 * time.Second, 200}, {31 * time.Second, 200}} {
		now = time.Unix(1000, 0).Add(step.after)
		if code := do(http.MethodGet, "/obj", ""); code != step.want {
			t.Errorf("GET %s after the fault was set: %d, want %d", step.after, code, step.want)
		}
	}
}
