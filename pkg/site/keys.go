package site

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// schema is the shape of Settings as its mapstructure tags spell it: the
// keys a mapping may hold, or the element of a list. A nil schema is a
// single value.
type schema struct {
	fields []field
	elem   *schema
}

type field struct {
	name string
	s    *schema
}

var settingsSchema = schemaOf(reflect.TypeFor[Settings]())

func schemaOf(t reflect.Type) *schema {
	switch t.Kind() {
	case reflect.Struct:
		s := &schema{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if name == "" || name == "-" {
				continue
			}
			s.fields = append(s.fields, field{name: name, s: schemaOf(f.Type)})
		}
		return s
	case reflect.Slice:
		if e := schemaOf(t.Elem()); e != nil {
			return &schema{elem: e}
		}
	}
	return nil
}

// fold finds the field named k, ignoring case as viper does.
func (s *schema) fold(k string) (field, bool) {
	for _, f := range s.fields {
		if strings.EqualFold(f.name, k) {
			return f, true
		}
	}
	return field{}, false
}

func (s *schema) names() string {
	n := make([]string, len(s.fields))
	for i, f := range s.fields {
		n[i] = f.name
	}
	return strings.Join(n, ", ")
}

// checkKeys walks the site file's YAML and returns a sentence for every key
// that is no setting, named as the file writes it with its path and line,
// and for every key given twice (viper folds case, so noProxy and noproxy
// are the same key and one would silently win).
func checkKeys(data []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // an empty file: no settings
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the site file is a mapping with the keys %s", top.Line, settingsSchema.names())
	}
	var problems []string
	walkKeys(top, settingsSchema, "", &problems)
	return problems, nil
}

func walkKeys(n *yaml.Node, s *schema, path string, problems *[]string) {
	if s == nil {
		return
	}
	if s.elem != nil {
		if n.Kind != yaml.SequenceNode {
			return // the decoder says it is no list
		}
		for i, c := range n.Content {
			walkKeys(c, s.elem, fmt.Sprintf("%s[%d]", path, i), problems)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return // the decoder says it is no mapping
	}
	seen := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		at := joinKey(path, k.Value)
		f, ok := s.fold(k.Value)
		if !ok {
			where := "the top level"
			if path != "" {
				where = path
			}
			*problems = append(*problems, fmt.Sprintf("line %d: unknown key %q: the keys under %s are %s; fix its spelling or remove it", k.Line, at, where, s.names()))
			continue
		}
		if first, dup := seen[f.name]; dup {
			*problems = append(*problems, fmt.Sprintf("line %d: key %q given twice (as %q before; keys ignore case): keep one", k.Line, at, first))
			continue
		}
		seen[f.name] = k.Value
		walkKeys(v, f.s, at, problems)
	}
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
