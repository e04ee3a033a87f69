// Package redact removes secrets (bootstrap tokens, presigned query strings)
// from text before it reaches a log, an error or an output.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret.
const Mask = "REDACTED"

var (
	// TokenRE matches a bootstrap token, <id>.<secret>; the id alone is
	// not secret.
	TokenRE = regexp.MustCompile(`\b([a-z0-9]{6})\.[a-z0-9]{16}\b`)
	// The query string of any http(s) URL in free text.
	urlQueryRE = regexp.MustCompile(`(https?://[^\s?"'<>]+)\?[^\s"'<>]*`)
)

// String redacts every token and URL query string found in s.
func String(s string) string {
	s = urlQueryRE.ReplaceAllString(s, "$1?"+Mask)
	return TokenRE.ReplaceAllString(s, "$1."+Mask)
}

// URL returns u without the values of its query string, which carry
// presigned credentials.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return String(raw)
	}
	u.RawQuery = Mask
	return strings.Replace(u.String(), "?"+url.QueryEscape(Mask), "?"+Mask, 1)
}

// Token hides the secret half of a bootstrap token.
func Token(t string) string {
	if id, _, ok := strings.Cut(t, "."); ok {
		return id + "." + Mask
	}
	if t == "" {
		return ""
	}
	return Mask
}
