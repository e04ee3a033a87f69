package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every configuration variable: ADD2TKE_ followed by the
// field path, upper-cased, one underscore between fields, e.g.
// ADD2TKE_NODEPOOL_CORDON=true for nodePool.cordon.
const EnvPrefix = "ADD2TKE_"

// MaxDocument bounds a configuration file or payload; a user script of a few
// hundred kilobytes fits many times over.
const MaxDocument = 4 << 20

// Options are the sources of a configuration, other than the defaults.
type Options struct {
	// Sets are --set path=value overrides, later ones winning.
	Sets []string
	// Environ is the process environment (os.Environ()); only ADD2TKE_
	// variables that name a field are read.
	Environ []string
	// File is --config, YAML or JSON.
	File string
	// Executable is read for a bundled payload, and its name
	// (add2tkectl-<cls>-<np>) is checked against the payload's IDs.
	Executable string
}

// Loaded is the effective configuration and where it came from.
type Loaded struct {
	// Config is the merged configuration with defaults applied. It has not
	// been validated: call Config.Validate.
	Config *NodePoolJoin
	// Document is the merged document as the sources wrote it, before
	// defaults: what bundle stores as payload.
	Document map[string]any
	// Sources name the sources that contributed, highest precedence first.
	Sources []string
}

// Load reads and merges every source in Options over the defaults. Maps
// (labels, kubelet extraArgs/extraConfig) merge key by key; lists and
// scalars of a higher source replace those of a lower one; null means unset.
// Every error is a *LoadError.
func Load(o Options) (*Loaded, error) {
	type layer struct {
		name string
		doc  map[string]any
	}
	var layers []layer // lowest first

	if o.Executable != "" {
		doc, found, err := loadPayload(o.Executable, o.File != "")
		if err != nil {
			return nil, err
		}
		if found {
			layers = append(layers, layer{"payload bundled into " + o.Executable, doc})
		}
	}
	if o.File != "" {
		data, err := readFile(o.File)
		if err != nil {
			return nil, &LoadError{Source: o.File, Err: err}
		}
		doc, err := ParseDocument(data, o.File)
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer{"file " + o.File, doc})
	}
	env, names, err := envDocument(o.Environ)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		layers = append(layers, layer{"environment " + strings.Join(names, ", "), env})
	}
	if len(o.Sets) > 0 {
		doc, err := setDocument(o.Sets)
		if err != nil {
			return nil, err
		}
		paths := make([]string, len(o.Sets))
		for i, s := range o.Sets {
			paths[i], _, _ = strings.Cut(s, "=")
		}
		layers = append(layers, layer{"--set " + strings.Join(paths, ", "), doc})
	}

	merged := map[string]any{}
	sources := []string{"defaults"}
	for _, l := range layers {
		merge(merged, l.doc)
		sources = append([]string{l.name}, sources...)
	}
	c, err := decodeDocument(merged)
	if err != nil {
		return nil, &LoadError{Source: "the merged configuration", Err: err}
	}
	c.Default()
	return &Loaded{Config: c, Document: merged, Sources: sources}, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration file: %w", err)
	}
	if len(data) > MaxDocument {
		return nil, fmt.Errorf("larger than %d bytes: is this really a NodePoolJoin configuration?", MaxDocument)
	}
	return data, nil
}

// ParseDocument checks one YAML or JSON document against the configuration's
// fields and returns it as JSON-compatible values. Every problem (unknown
// field, wrong type, duplicate key) is reported, each with its line.
func ParseDocument(data []byte, source string) (map[string]any, error) {
	root, err := parseNode(data)
	if err != nil {
		return nil, &LoadError{Source: source, Err: err}
	}
	if root == nil {
		return map[string]any{}, nil // empty: sets nothing
	}
	d := &decoder{}
	v, _ := d.decode(root, docSchema, "")
	if len(d.problems) > 0 {
		return nil, problemsError(source, d.problems)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return map[string]any{}, nil // a null document
	}
	return doc, nil
}

func parseNode(data []byte) (*yaml.Node, error) {
	if isJSON(data) {
		n, err := jsonNode(data)
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		return n, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("holds more than one YAML document; put one NodePoolJoin in the file")
	}
	return &root, nil
}

func problemsError(source string, ps []problem) *LoadError {
	e := &LoadError{Source: source}
	for _, p := range ps {
		e.Problems = append(e.Problems, p.String())
	}
	return e
}

// decodeDocument turns a merged document into the typed configuration. The
// document has been checked field by field already; strictness here guards
// against a schema that drifted from the type.
func decodeDocument(doc map[string]any) (*NodePoolJoin, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	c := &NodePoolJoin{}
	if err := dec.Decode(c); err != nil {
		return nil, err
	}
	return c, nil
}

// merge lays src over dst: mappings merge key by key, anything else replaces.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
			dm := map[string]any{}
			merge(dm, sm)
			dst[k] = dm
			continue
		}
		dst[k] = v
	}
}

// put stores v at path in doc, creating the mappings on the way.
func put(doc map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := doc[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[p] = next
		}
		doc = next
	}
	doc[path[len(path)-1]] = v
}

// value parses the text of one --set or variable for a field of schema s:
// a string field takes the text as it is; anything else is read as YAML.
func value(text string, s *schema, path string) (any, bool, []problem) {
	if s.kind == kindString {
		return text, true, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		return nil, false, []problem{{path: path, msg: fmt.Sprintf("must be %s written in YAML: %v", s.kind, err)}}
	}
	d := &decoder{}
	v, ok := d.decode(&n, s, path)
	if len(d.problems) > 0 {
		// Lines of a one-line value say nothing.
		for i := range d.problems {
			d.problems[i].line = 0
		}
		return nil, false, d.problems
	}
	return v, ok, nil
}

// envDocument reads the ADD2TKE_ variables that name a field. A variable
// whose first word is a top-level field (ADD2TKE_CLUSTER_..., ADD2TKE_NODEPOOL_...,
// ADD2TKE_ARTIFACTS_..., ADD2TKE_APIVERSION, ADD2TKE_KIND) must name a field
// exactly; other ADD2TKE_ variables are not configuration and are ignored.
func envDocument(environ []string) (map[string]any, []string, error) {
	doc := map[string]any{}
	var names []string
	for _, kv := range environ {
		name, text, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		words := strings.Split(name[len(EnvPrefix):], "_")
		if top, _ := docSchema.fold(words[0]); top == "" {
			continue
		}
		path, s, err := envPath(words)
		if err != nil {
			return nil, nil, &LoadError{Source: "environment variable " + name, Err: err}
		}
		if text == "" {
			continue // an empty variable is an unset one
		}
		v, ok, ps := value(text, s, strings.Join(path, "."))
		if len(ps) > 0 {
			return nil, nil, problemsError("environment variable "+name, ps)
		}
		if ok {
			put(doc, path, v)
			names = append(names, name)
		}
	}
	return doc, names, nil
}

func envPath(words []string) ([]string, *schema, error) {
	s := docSchema
	var path []string
	for _, w := range words {
		if s.kind != kindStruct {
			return nil, nil, fmt.Errorf("%s is %s and a variable name cannot spell its keys (they hold dots and slashes): set %s%s to the whole value in YAML, e.g. '{key: value}'",
				strings.Join(path, "."), s.kind, EnvPrefix, strings.ToUpper(strings.Join(path, "_")))
		}
		name, f := s.fold(w)
		if f == nil {
			where := strings.Join(path, ".")
			if where == "" {
				where = "the top level"
			}
			return nil, nil, fmt.Errorf("no field %q under %s (fields there: %s)", strings.ToLower(w), where, s.fieldNames())
		}
		path, s = append(path, name), f
	}
	return path, s, nil
}

// setDocument reads --set path=value flags. The path follows field names
// exactly; once it reaches a mapping (labels, kubelet extraArgs/extraConfig)
// the rest of the path is one key, dots and slashes included:
// --set nodePool.labels.tke.cloud.tencent.com/location=idc-sh-01.
func setDocument(sets []string) (map[string]any, error) {
	doc := map[string]any{}
	for _, kv := range sets {
		p, text, ok := strings.Cut(kv, "=")
		source := "--set " + p
		if !ok || p == "" {
			return nil, &LoadError{Source: source, Err: errors.New("write --set path=value, e.g. --set nodePool.cordon=true")}
		}
		// Before the path is parsed: its errors quote it.
		if what := secretInText(p); what != "" {
			at := fieldPrefix(p)
			return nil, (&secretHit{path: at, what: what + " in its path"}).refusal(at)
		}
		path, s, err := setPath(p)
		if err != nil {
			return nil, &LoadError{Source: source, Err: err}
		}
		v, ok, ps := value(text, s, p)
		var decoded any
		if ok && len(ps) == 0 {
			decoded = v
		}
		// Before any problem is reported: a problem may quote the value.
		if h := secretInSet(path, s, text, decoded); h != nil {
			return nil, h.refusal(path)
		}
		if len(ps) > 0 {
			return nil, problemsError(source, ps)
		}
		if ok {
			put(doc, path, v)
		}
	}
	return doc, nil
}

func setPath(p string) ([]string, *schema, error) {
	s := docSchema
	var path []string
	rest := p
	for {
		switch s.kind {
		case kindStringMap, kindAnyMap:
			if rest == "" {
				return path, s, nil // the whole mapping, as YAML
			}
			return append(path, rest), s.elem, nil
		case kindStruct:
		default:
			return nil, nil, fmt.Errorf("%s is %s: set it whole, e.g. --set '%s=[...]'", strings.Join(path, "."), s.kind, strings.Join(path, "."))
		}
		word, after, more := strings.Cut(rest, ".")
		f := s.fields[word]
		if f == nil {
			msg := fmt.Sprintf("no field %q", word)
			if len(path) > 0 {
				msg += " under " + strings.Join(path, ".")
			}
			if right, _ := s.fold(word); right != "" {
				msg += fmt.Sprintf(" (did you mean %q? field names are case-sensitive)", right)
			} else {
				msg += fmt.Sprintf(" (fields there: %s)", s.fieldNames())
			}
			return nil, nil, errors.New(msg)
		}
		path, s, rest = append(path, word), f, after
		if !more {
			return path, s, nil
		}
	}
}

// loadPayload reads the configuration bundled into exe, if any, and checks
// that a name of the form add2tkectl-<cls>-<np> agrees with it.
func loadPayload(exe string, haveFile bool) (map[string]any, bool, error) {
	source := "the executable " + exe
	data, found, err := ReadPayload(exe)
	if err != nil {
		return nil, false, &LoadError{Source: source, Err: err}
	}
	cls, np, named := IDsFromName(exe)
	if !found {
		if named && !haveFile {
			return nil, false, &LoadError{Source: source, Err: fmt.Errorf("%w: its name says %s/%s but it carries no configuration; download it again from the console, or pass --config FILE",
				ErrCorruptPayload, cls, np)}
		}
		return nil, false, nil
	}
	doc, err := ParseDocument(data, "the configuration bundled into "+exe)
	if err != nil {
		return nil, false, err
	}
	if named {
		pc, pn := docID(doc, "cluster"), docID(doc, "nodePool")
		if pc != cls || pn != np {
			return nil, false, &LoadError{Source: source, Err: fmt.Errorf("%w: the name says %s/%s, the configuration is for %s/%s; use the file the console gave for this node pool, named %s",
				ErrNameMismatch, cls, np, pc, pn, BundleName(pc, pn))}
		}
	}
	return doc, true, nil
}

func docID(doc map[string]any, section string) string {
	m, _ := doc[section].(map[string]any)
	id, _ := m["id"].(string)
	return id
}

var nameRE = regexp.MustCompile(`^add2tkectl-(cls-[a-z0-9]+)-(np-[a-z0-9]+)(?:[^a-z0-9]|$)`)

// BundleName is the file name the console gives a bundled executable.
func BundleName(clusterID, nodePoolID string) string {
	return "add2tkectl-" + clusterID + "-" + nodePoolID
}

// IDsFromName reads cluster and node pool IDs from a file name of the form
// add2tkectl-<cls>-<np>, tolerating a suffix such as "-amd64" or " (1)".
func IDsFromName(path string) (clusterID, nodePoolID string, ok bool) {
	m := nameRE.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
