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

// PasswordMask replaces the password of a URL's user info
// (http://user:***@proxy:3128), so the user name still shows whose it is.
const PasswordMask = "***"

var (
	// TokenRE matches a bootstrap token, <id>.<secret>; the id alone is
	// not secret.
	TokenRE = regexp.MustCompile(`\b([a-z0-9]{6})\.[a-z0-9]{16}\b`)
	// The query string of any http(s) URL in free text.
	urlQueryRE = regexp.MustCompile(`(https?://[^\s?"'<>]+)\?[^\s"'<>]*`)
	// The password of a URL's user info in free text: scheme://user:PASSWORD@.
	userinfoRE = regexp.MustCompile(`(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"'<>]*):[^@/\s"'<>]+@`)
)

// String redacts every token and URL query string found in s.
func String(s string) string {
	s = urlQueryRE.ReplaceAllString(s, "$1?"+Mask)
	s = userinfoRE.ReplaceAllString(s, "$1:"+PasswordMask+"@")
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

// Userinfo returns the URL raw with the password of its user info masked
// (http://user:***@proxy:3128); a URL without one is returned as it is.
func Userinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return userinfoRE.ReplaceAllString(raw, "$1:"+PasswordMask+"@")
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	u.User = url.User(u.User.Username())
	s := u.String()
	// url.User leaves "scheme://user@"; put the mask where the password was.
	return strings.Replace(s, "://"+u.User.String()+"@", "://"+u.User.String()+":"+PasswordMask+"@", 1)
}
