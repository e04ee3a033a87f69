package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The query parameters of a COS presigned URL (XML API, "q-" signature v5).
const (
	qAlgorithm = "q-sign-algorithm"
	qAK        = "q-ak"
	qSignTime  = "q-sign-time"
	qKeyTime   = "q-key-time"
	qHeaders   = "q-header-list"
	qParams    = "q-url-param-list"
	qSignature = "q-signature"
)

// cosError is one of the errors COS answers with: the HTTP status, the
// <Code> and the <Message> of its XML body.
type cosError struct {
	Status  int
	Code    string
	Message string
}

var (
	errExpired = &cosError{http.StatusForbidden, "AccessDenied", "Request has expired"}
	errBadSig  = &cosError{http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	errNoAuth = &cosError{http.StatusForbidden, "AccessDenied", "Access Denied."}
	errBadAK  = &cosError{http.StatusForbidden, "InvalidAccessKeyId", "The access key Id format you provided is invalid, please check."}
	errNoKey  = &cosError{http.StatusNotFound, "NoSuchKey", "The specified key does not exist."}
)

// authParams returns the signature parameters of a request, from its query
// string (presigned URL) or its Authorization header, or nil.
func authParams(r *http.Request) url.Values {
	q := r.URL.Query()
	if q.Get(qSignature) != "" {
		return q
	}
	if a := r.Header.Get("Authorization"); strings.Contains(a, qSignature+"=") {
		v := url.Values{}
		for _, kv := range strings.Split(a, "&") {
			k, val, _ := strings.Cut(kv, "=")
			v.Set(k, val)
		}
		return v
	}
	return nil
}

// verify checks a request's COS signature the way COS does: access key,
// validity window, then the HMAC-SHA1 over the request's method, path, the
// listed parameters and the listed headers.
func verify(r *http.Request, secretID, secretKey string, now time.Time) *cosError {
	p := authParams(r)
	if p == nil {
		return errNoAuth
	}
	if p.Get(qAlgorithm) != "sha1" {
		return errBadSig
	}
	if p.Get(qAK) != secretID {
		return errBadAK
	}
	signTime := p.Get(qSignTime)
	start, end, ok := parseWindow(signTime)
	if !ok {
		return errBadSig
	}
	if now.Unix() > end {
		return errExpired
	}
	if now.Unix() < start {
		return &cosError{http.StatusForbidden, "AccessDenied", "Request has not started"}
	}
	keyTime := p.Get(qKeyTime)
	if _, _, ok := parseWindow(keyTime); !ok {
		return errBadSig
	}

	query := r.URL.Query()
	var params []string
	for _, k := range splitList(p.Get(qParams)) {
		for _, v := range lookupFold(query, k) {
			params = append(params, k+"="+safeURLEncode(v))
		}
	}
	sort.Strings(params)
	headers := r.Header.Clone()
	headers.Set("Host", r.Host)
	var hdrs []string
	for _, k := range splitList(p.Get(qHeaders)) {
		for _, v := range lookupFold(headers, k) {
			hdrs = append(hdrs, k+"="+safeURLEncode(v))
		}
	}
	sort.Strings(hdrs)

	httpString := fmt.Sprintf("%s\n%s\n%s\n%s\n", strings.ToLower(r.Method), r.URL.Path,
		strings.Join(params, "&"), strings.Join(hdrs, "&"))
	sum := sha1.Sum([]byte(httpString))
	stringToSign := fmt.Sprintf("sha1\n%s\n%s\n", signTime, hex.EncodeToString(sum[:]))
	signKey := hex.EncodeToString(hmacSHA1([]byte(secretKey), keyTime))
	want := hex.EncodeToString(hmacSHA1([]byte(signKey), stringToSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(p.Get(qSignature))) != 1 {
		return errBadSig
	}
	return nil
}

func hmacSHA1(key []byte, msg string) []byte {
	h := hmac.New(sha1.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func parseWindow(s string) (start, end int64, ok bool) {
	a, b, found := strings.Cut(s, ";")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	return start, end, err1 == nil && err2 == nil && start <= end
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

// lookupFold returns the values of key k, compared the way COS lists them
// (lower case, URL-encoded).
func lookupFold(m map[string][]string, k string) []string {
	var out []string
	for key, vs := range m {
		if strings.ToLower(safeURLEncode(key)) == k {
			out = append(out, vs...)
		}
	}
	return out
}

// safeURLEncode is COS's encoding of keys and values in the string to sign:
// JavaScript's encodeURIComponent plus !'()*.
func safeURLEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
