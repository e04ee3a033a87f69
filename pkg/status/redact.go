package status

import (
	"net/url"
	"reflect"
	"sort"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// minSecretLen keeps short query values ("host", "sha1") from being masked
// in unrelated text: the secrets worth masking (token secret, signature,
// access key id) are all longer.
const minSecretLen = 16

// secretsOf returns the literal secrets of the configuration: the bootstrap
// token and its secret half, the manifest URL's query string and its long
// values.
func secretsOf(c *config.NodePoolJoin) []string {
	if c == nil {
		return nil
	}
	var out []string
	if t := c.Cluster.BootstrapToken; t != "" {
		out = append(out, t)
		if _, secret, ok := strings.Cut(t, "."); ok && secret != "" {
			out = append(out, secret)
		}
	}
	if u, err := url.Parse(c.Artifacts.ManifestURL); err == nil && u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= minSecretLen {
					out = append(out, v, url.QueryEscape(v))
				}
			}
		}
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(out, func(a, b int) bool { return len(out[a]) > len(out[b]) })
	return out
}

// redactReport masks secrets in every string of the report: the literal
// secrets of the configuration, and any token or URL query string an error
// message from a library may carry. It walks the report by reflection, so
// a field added later is masked too.
func redactReport(r *Report, secrets []string) {
	mask := func(s string) string {
		for _, sec := range secrets {
			s = strings.ReplaceAll(s, sec, redact.Mask)
		}
		return redact.String(s)
	}
	redactValue(reflect.ValueOf(r).Elem(), mask)
}

func redactValue(v reflect.Value, mask func(string) string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(mask(v.String()))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			redactValue(v.Elem(), mask)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				redactValue(v.Field(i), mask)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			redactValue(v.Index(i), mask)
		}
	case reflect.Map:
		if v.IsNil() || v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(reflect.ValueOf(mask(iter.Key().String())).Convert(v.Type().Key()),
				reflect.ValueOf(mask(iter.Value().String())).Convert(v.Type().Elem()))
		}
		v.Set(out)
	}
}
