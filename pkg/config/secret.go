package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// The command line is visible to every user of the host (ps,
// /proc/PID/cmdline), so --set refuses a value that holds a secret, at
// whatever depth: the field itself, a mapping assigned above it
// (--set 'cluster={bootstrapToken: ...}'), a key, a list item, or a
// presigned link inside any text.

// secretFields hold a secret whatever their value looks like.
var secretFields = map[string]string{
	"cluster.bootstrapToken": "the bootstrap token",
}

var (
	// presignedRE is a query parameter that signs a link or carries a
	// credential: COS q-signature, S3 X-Amz-Signature and
	// X-Amz-Credential/X-Amz-Security-Token, Signature, sig, token,
	// access_token...
	presignedRE = regexp.MustCompile(`(?i)[?&]([a-z0-9_.-]*(signature|token|credential)|sig|q-ak)=`)
)

// secretHit is where a secret was found, and what it is.
type secretHit struct {
	path []string // the field or key that holds it
	what string
}

// secretInSet looks for a secret in the value of one --set (its path was
// checked as text already): in v, the value it decoded to for the field at
// path of schema s (nil if it did not decode), and in text as given.
func secretInSet(path []string, s *schema, text string, v any) *secretHit {
	if v != nil {
		if h := secretInValue(path, s, v); h != nil {
			return h
		}
	}
	if what := secretInText(text); what != "" {
		return &secretHit{path: path, what: what}
	}
	return nil
}

// secretInValue walks a decoded value, with its schema (nil below a
// free-form value), and returns the first secret it holds.
func secretInValue(path []string, s *schema, v any) *secretHit {
	at := strings.Join(path, ".")
	if what, ok := secretFields[at]; ok && v != nil && v != "" {
		return &secretHit{path: path, what: what}
	}
	switch x := v.(type) {
	case string:
		if at == "artifacts.manifestURL" && strings.Contains(x, "?") {
			return &secretHit{path: path, what: "a presigned URL (its query string signs it)"}
		}
		if what := secretInText(x); what != "" {
			return &secretHit{path: path, what: what}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if what := secretInText(k); what != "" {
				return &secretHit{path: path, what: what + " as a key"}
			}
			if h := secretInValue(append(path[:len(path):len(path)], k), child(s, k), x[k]); h != nil {
				return h
			}
		}
	case []any:
		for i, e := range x {
			var elem *schema
			if s != nil {
				elem = s.elem
			}
			if h := secretInValue(append(path[:len(path):len(path)], fmt.Sprintf("[%d]", i)), elem, e); h != nil {
				return h
			}
		}
	}
	return nil
}

func child(s *schema, key string) *schema {
	switch {
	case s == nil:
		return nil
	case s.kind == kindStruct:
		return s.fields[key]
	default:
		return s.elem
	}
}

// secretInText says what secret a piece of free text holds, or "".
func secretInText(text string) string {
	switch {
	case redact.TokenRE.MatchString(text):
		return "a bootstrap token"
	case presignedRE.MatchString(text):
		return "a presigned URL (a signature or token in its query string)"
	}
	return ""
}

// refusal is the error for a secret found in the --set of path: where it
// is, why not there, and the two places it may go instead. It never shows
// the value, nor a path that spells a secret.
func (h *secretHit) refusal(path []string) *LoadError {
	where := ""
	if len(h.path) != len(path) {
		where = " (at " + formatPath(h.path) + ")"
	}
	source := "--set"
	if n := min(len(path), len(h.path)); n > 0 {
		source += " " + formatPath(h.path[:n])
	}
	return &LoadError{
		Source: source,
		Err: fmt.Errorf("holds %s%s; that is a secret and the command line is visible to every user of the host (ps, /proc/PID/cmdline): put it in the --config file or in the environment variable %s",
			h.what, where, envVarOf(h.path)),
	}
}

// fieldPrefix is the leading field names of a dotted --set path.
func fieldPrefix(p string) []string {
	s := docSchema
	var path []string
	for _, w := range strings.Split(p, ".") {
		if s.kind != kindStruct || s.fields[w] == nil {
			break
		}
		path, s = append(path, w), s.fields[w]
	}
	return path
}

func formatPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// envVarOf names the ADD2TKE_ variable that can carry the field at path:
// the field itself, or the nearest mapping or list that holds it (a
// variable name cannot spell keys or indexes).
func envVarOf(path []string) string {
	s := docSchema
	var words []string
	for _, p := range path {
		if s == nil || s.kind != kindStruct || s.fields[p] == nil {
			break
		}
		words, s = append(words, strings.ToUpper(p)), s.fields[p]
	}
	if len(words) == 0 {
		return EnvPrefix + "<FIELD PATH> (e.g. " + EnvPrefix + "CLUSTER_BOOTSTRAPTOKEN)"
	}
	return EnvPrefix + strings.Join(words, "_")
}
