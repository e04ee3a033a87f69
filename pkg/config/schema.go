package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The schema is derived from the NodePoolJoin type's json tags, so that every
// source (file, payload, environment, --set) is checked against the same
// field names and typed the same way before the layers are merged.

type kind int

const (
	kindString kind = iota
	kindBool
	kindStruct
	kindStringMap // map[string]string: labels, extraArgs; keys may contain dots
	kindAnyMap    // map[string]any: kubelet extraConfig
	kindList
	kindAny // a free-form value inside extraConfig
)

type schema struct {
	kind   kind
	fields map[string]*schema // kindStruct, by json name
	elem   *schema            // kindList, kindStringMap, kindAnyMap
}

var docSchema = schemaOf(reflect.TypeOf(NodePoolJoin{}))

func schemaOf(t reflect.Type) *schema {
	switch t.Kind() {
	case reflect.String:
		return &schema{kind: kindString}
	case reflect.Bool:
		return &schema{kind: kindBool}
	case reflect.Slice:
		return &schema{kind: kindList, elem: schemaOf(t.Elem())}
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return &schema{kind: kindStringMap, elem: &schema{kind: kindString}}
		}
		return &schema{kind: kindAnyMap, elem: &schema{kind: kindAny}}
	case reflect.Struct:
		s := &schema{kind: kindStruct, fields: map[string]*schema{}}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			s.fields[name] = schemaOf(f.Type)
		}
		return s
	}
	panic(fmt.Sprintf("config schema: unsupported field type %s", t))
}

func (s *schema) fieldNames() string {
	names := make([]string, 0, len(s.fields))
	for n := range s.fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// fold finds a field whose name differs only in case, for a suggestion.
func (s *schema) fold(name string) (string, *schema) {
	for n, f := range s.fields {
		if strings.EqualFold(n, name) {
			return n, f
		}
	}
	return "", nil
}

func (k kind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindBool:
		return "true or false"
	case kindStruct:
		return "a mapping of fields"
	case kindStringMap:
		return "a mapping of strings"
	case kindAnyMap:
		return "a mapping"
	case kindList:
		return "a list"
	case kindAny:
		return "any value"
	}
	return "?"
}

// problem is one thing wrong with a source, located as precisely as we can.
type problem struct {
	line int
	path string
	msg  string
}

func (p problem) String() string {
	var b strings.Builder
	if p.line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.line)
	}
	if p.path != "" {
		b.WriteString(p.path + ": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

// decoder turns a YAML node tree into JSON-compatible values typed by the
// schema, collecting every problem rather than stopping at the first.
type decoder struct {
	problems []problem
	// nodes counts nodes visited: aliases can make a small document expand
	// exponentially ("billion laughs").
	nodes int
}

const maxNodes = 100000

func (d *decoder) fail(n *yaml.Node, path, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, problem{line: line, path: path, msg: fmt.Sprintf(format, a...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// decode returns the value of n, or ok=false when n is null (not set) or wrong.
func (d *decoder) decode(n *yaml.Node, s *schema, path string) (v any, ok bool) {
	if d.nodes++; d.nodes == maxNodes {
		d.fail(n, path, "the document is too large once its aliases are expanded")
	}
	if d.nodes >= maxNodes {
		return nil, false
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, false
		}
		return d.decode(n.Content[0], s, path)
	}
	if isNull(n) {
		return nil, false
	}
	switch s.kind {
	case kindString:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be %s", s.kind)
			return nil, false
		}
		// The text as written: kubernetesVersion: 1.30 stays "1.30".
		return n.Value, true
	case kindBool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "must be true or false")
			return nil, false
		}
		return b, true
	case kindAny:
		var v any
		if err := n.Decode(&v); err != nil {
			d.fail(n, path, "%v", err)
			return nil, false
		}
		jv, err := jsonValue(v)
		if err != nil {
			d.fail(n, path, "%v", err)
			return nil, false
		}
		return jv, true
	case kindList:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list, e.g. [a, b]")
			return nil, false
		}
		out := []any{}
		for i, e := range n.Content {
			if v, ok := d.decode(e, s.elem, fmt.Sprintf("%s[%d]", path, i)); ok {
				out = append(out, v)
			} else if isNull(e) {
				d.fail(e, fmt.Sprintf("%s[%d]", path, i), "must not be empty")
			}
		}
		return out, true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be %s", s.kind)
		return nil, false
	}
	out := map[string]any{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be strings")
			continue
		}
		name := k.Value
		if seen[name] {
			d.fail(k, path, "key %q appears twice", name)
			continue
		}
		seen[name] = true
		if s.kind != kindStruct {
			// Label keys contain dots and slashes: a key is one key, never a path.
			if v, ok := d.decode(val, s.elem, fmt.Sprintf("%s[%q]", path, name)); ok {
				out[name] = v
			}
			continue
		}
		fs, known := s.fields[name]
		if !known {
			msg := fmt.Sprintf("unknown field %q", name)
			if right, _ := s.fold(name); right != "" {
				msg += fmt.Sprintf(" (did you mean %q? field names are case-sensitive)", right)
			} else {
				msg += fmt.Sprintf(" (known fields here: %s)", s.fieldNames())
			}
			d.fail(k, path, "%s", msg)
			continue
		}
		if v, ok := d.decode(val, fs, join(path, name)); ok {
			out[name] = v
		}
	}
	return out, true
}

// jsonValue makes a free-form YAML value (kubelet extraConfig) encodable as
// JSON: string keys only, finite numbers only.
func jsonValue(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			j, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			x[k] = j
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v: keys must be strings", k)
			}
			j, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			m[ks] = j
		}
		return m, nil
	case []any:
		for i, e := range x {
			j, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			x[i] = j
		}
		return x, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v is not a number JSON can carry", x)
		}
		return x, nil
	case nil, string, bool, int, int64, uint64:
		return x, nil
	}
	if _, err := json.Marshal(v); err != nil {
		return nil, err
	}
	return v, nil
}
