package debug

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// minSecretLen keeps short query values ("sha1", a host) from being masked
// in unrelated text: the literal secrets worth masking (a token's secret, a
// signature, an access key id) are all longer.
const minSecretLen = 16

// patterns are compiled when first used: a debug archive needs them, and
// every other command would pay their compilation at start-up.
var patterns = sync.OnceValue(func() *secretPatterns {
	return &secretPatterns{
		// tokenRE is a bootstrap token, <id>.<secret> (redact.TokenRE with the
		// secret as a group): the secrets found are masked in every entry.
		tokenRE: regexp.MustCompile(`\b([a-z0-9]{6})\.([a-z0-9]{16})\b`),
		// pemKeyRE is a PEM private key block; one cut short by truncation
		// runs to the end of the text.
		pemKeyRE: regexp.MustCompile(`(?s)-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`),
		// pemKeyEndRE is the end of a private key whose start truncation cut.
		pemKeyEndRE: regexp.MustCompile(`-----END ([A-Z0-9 ]*)PRIVATE KEY-----`),
		// keyLineRE is `key: value` or `key=value` at the start of a line.
		keyLineRE: regexp.MustCompile(`(?im)^(\s*(?:-\s*)?(?:export\s+)?["']?(?:` + secretKeys + `)["']?\s*[:=][ \t]*)([^\s].*)$`),
		// keyJSONRE is `"key": "value"` anywhere (a JSON log line, state).
		keyJSONRE: regexp.MustCompile(`(?i)("(?:` + secretKeys + `)"\s*:\s*)"(?:[^"\\]|\\.)*"`),
		// keyFlowRE is `key: value` in a YAML flow mapping ({token: ..., ...}).
		keyFlowRE: regexp.MustCompile(`(?i)([{,]\s*["']?(?:` + secretKeys + `)["']?\s*:\s*)[^,}\s"][^,}\s]*`),
		// signedParamRE is a query parameter that signs a link or carries a
		// credential, wherever it is (an escaped URL, a URL without scheme):
		// COS q-* (q-sign-algorithm, q-ak, q-signature...), S3 X-Amz-*,
		// Signature, sig, token, access_token. The name goes too, so that a
		// scan for "q-signature" finds nothing.
		signedParamRE: regexp.MustCompile(`(?i)\b(?:q-[a-z-]+|x-amz-[a-z-]+|signature|sig|token|access_token|security-token)(?:=|%3D)[^&\s"'<>]*`),
		// userinfoRE is the password of a URL (a proxy's http://user:pass@host).
		userinfoRE: regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@"'<>]*):[^@\s/"'<>]*@`),
		// bearerRE is an Authorization header's credential.
		bearerRE: regexp.MustCompile(`(?i)(authorization:?\s*"?\s*(?:bearer|basic)\s+)[^\s"']+`),
	}
})

type secretPatterns struct {
	tokenRE, pemKeyRE, pemKeyEndRE, keyLineRE, keyJSONRE, keyFlowRE, signedParamRE, userinfoRE, bearerRE *regexp.Regexp
}

const (
	pemKeyBegin = "PRIVATE KEY-----"
	// secretKeys are the keys whose values are secrets in YAML, INI,
	// environment files and JSON: the kubeconfigs' client-key-data and
	// token, passwords, the bootstrap token.
	secretKeys = `client-key-data|client-key|token|password|passwd|secret|bootstrapToken|bootstrap-token|access[_-]?token|secret[_-]?key|private[_-]?key|api[_-]?key`
)

// Redactor masks every secret of a debug archive's entries: the literal
// secrets it was given (the configuration's token and presigned link, the
// token secrets found in any entry) and every pattern of a secret.
type Redactor struct {
	literals []string
}

// NewRedactor returns a Redactor of the configuration's literal secrets
// (c may be nil) and those given.
func NewRedactor(c *config.NodePoolJoin, more ...string) *Redactor {
	r := &Redactor{}
	r.Add(secretsOf(c)...)
	r.Add(more...)
	return r
}

// Add adds literal secrets; short ones are ignored (they would mask
// unrelated text).
func (r *Redactor) Add(secrets ...string) {
	for _, s := range secrets {
		if len(s) >= minSecretLen || (len(s) >= 6 && patterns().tokenRE.MatchString(s)) {
			r.literals = append(r.literals, s)
		}
	}
	// Longest first, so that a secret containing another is masked whole.
	sort.Slice(r.literals, func(a, b int) bool { return len(r.literals[a]) > len(r.literals[b]) })
}

// Learn adds the secret half of every bootstrap token in text, so that the
// secret alone is masked in every entry too.
func (r *Redactor) Learn(text []byte) {
	var found []string
	for _, m := range patterns().tokenRE.FindAllSubmatch(text, -1) {
		found = append(found, string(m[2]))
	}
	if len(found) > 0 {
		r.Add(found...)
	}
}

// Redact returns b with every secret masked.
func (r *Redactor) Redact(b []byte) []byte {
	s := string(b)
	for _, lit := range r.literals {
		s = strings.ReplaceAll(s, lit, redact.Mask)
	}
	s = redactPEMKeys(s)
	s = patterns().keyLineRE.ReplaceAllString(s, "${1}"+redact.Mask)
	s = patterns().keyJSONRE.ReplaceAllString(s, `${1}"`+redact.Mask+`"`)
	s = patterns().keyFlowRE.ReplaceAllString(s, "${1}"+redact.Mask)
	s = patterns().userinfoRE.ReplaceAllString(s, "${1}:"+redact.Mask+"@")
	s = patterns().bearerRE.ReplaceAllString(s, "${1}"+redact.Mask)
	// Whole query strings of http(s) links, then signing parameters
	// anywhere else, then tokens.
	s = redact.String(s)
	s = patterns().signedParamRE.ReplaceAllString(s, redact.Mask)
	s = patterns().tokenRE.ReplaceAllString(s, "$1."+redact.Mask)
	return []byte(s)
}

// redactPEMKeys replaces the body of every PEM private key, including one
// whose start or end truncation cut off.
func redactPEMKeys(s string) string {
	if !strings.Contains(s, pemKeyBegin) {
		return s
	}
	// An END before any BEGIN: the key's start was cut; mask up to it.
	if end := patterns().pemKeyEndRE.FindStringIndex(s); end != nil {
		if begin := strings.Index(s, "-----BEGIN "); begin < 0 || begin > end[0] || !strings.Contains(s[begin:end[0]], pemKeyBegin) {
			s = redact.Mask + "\n" + s[end[0]:]
		}
	}
	return patterns().pemKeyRE.ReplaceAllString(s, "-----BEGIN ${1}PRIVATE KEY-----\n"+redact.Mask+"\n-----END ${1}PRIVATE KEY-----")
}

// secretsOf returns the literal secrets of the configuration: the bootstrap
// token's secret half, the manifest URL's query string and its long
// values.
func secretsOf(c *config.NodePoolJoin) []string {
	if c == nil {
		return nil
	}
	var out []string
	// The token's id is no secret and tells support which token it was:
	// its secret half alone goes (a token of another form goes whole).
	if t := c.Cluster.BootstrapToken; t != "" {
		if _, secret, ok := strings.Cut(t, "."); ok && secret != "" {
			out = append(out, secret)
		} else {
			out = append(out, t)
		}
	}
	if u, err := url.Parse(c.Artifacts.ManifestURL); err == nil && u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	return out
}
