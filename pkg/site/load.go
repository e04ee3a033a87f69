package site

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/add2tkectl/add2tkectl/pkg/host"
)

// EnvPrefix starts every site variable: ADD2TKE_SITE_ and the key's path
// upper-cased with _ between its parts, e.g. ADD2TKE_SITE_PROXY_NOPROXY.
const EnvPrefix = "ADD2TKE_SITE_"

// The CLI's built-in defaults, below the site file.
const (
	DefaultLogLevel = "info"
	DefaultTimeout  = 10 * time.Minute
)

// EnvKeys are the settings the environment can give; registries come only
// from the site file (a list of mirrors does not fit a variable).
var EnvKeys = []string{
	"proxy.http", "proxy.https", "proxy.noProxy",
	"metrics.textfileDir",
	"cli.logLevel", "cli.noProgress", "cli.timeout", "cli.artifactsDir",
}

// EnvName is the variable that carries key: ADD2TKE_SITE_PROXY_HTTP for proxy.http.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Flag is a flag given on the command line that sets a key, e.g.
// {Key: "proxy.http", Name: "--proxy-http", Value: "http://proxy:3128"}.
// Value is the flag's parsed value: string, bool, []string or time.Duration.
type Flag struct {
	Key   string
	Name  string
	Value any
}

// Options say where the site settings come from.
type Options struct {
	// Root is the host's root: the site file is Path under it.
	Root host.Root
	// File is --site: read this file instead, which must then exist.
	File string
	// Environ is the process environment (os.Environ()); only ADD2TKE_SITE_
	// variables are read.
	Environ []string
	// Flags are the flags given on the command line; flags not given must
	// not be here, or their defaults would win over the site file.
	Flags []Flag
}

// Load returns the effective, validated site settings: flags over
// ADD2TKE_SITE_ variables over the site file over the defaults. A missing
// site file is a site with none, unless --site named it. Its errors
// (*LoadError, *ValidationError) exit 2.
func Load(o Options) (*Settings, error) {
	path, explicit := o.File, o.File != ""
	if !explicit {
		path = o.Root.Path(Path)
	}
	fileSource := "site file " + path
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && explicit:
		return nil, &LoadError{Source: "--site " + path, Err: fmt.Errorf("no such file: give the path of an existing site file, or leave --site out to read %s under --root", Path)}
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return nil, &LoadError{Source: fileSource, Err: err}
	}

	v := viper.New()
	v.SetDefault("cli.logLevel", DefaultLogLevel)
	v.SetDefault("cli.timeout", DefaultTimeout)
	if len(data) > 0 {
		problems, err := checkKeys(data)
		if err != nil {
			return nil, &LoadError{Source: fileSource, Err: err}
		}
		if len(problems) > 0 {
			return nil, &LoadError{Source: fileSource, Err: errors.New(strings.Join(problems, "\n  "))}
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, &LoadError{Source: fileSource, Err: err}
		}
	}

	origin := map[string]string{}
	env, err := envSettings(o.Environ, origin)
	if err != nil {
		return nil, err
	}
	// The environment is merged over the file's values: viper's own
	// AutomaticEnv reads os.Getenv, and Options.Environ keeps Load a
	// function of its inputs.
	if err := v.MergeConfigMap(env); err != nil {
		return nil, &LoadError{Source: "environment", Err: err}
	}
	for _, f := range o.Flags {
		if !knownKey(f.Key) {
			return nil, &LoadError{Source: f.Name, Err: fmt.Errorf("sets %q, which is no site setting", f.Key)}
		}
		v.Set(f.Key, f.Value)
		origin[strings.ToLower(f.Key)] = f.Name
	}

	var s Settings
	if err := v.UnmarshalExact(&s, viper.DecodeHook(decodeHook)); err != nil {
		return nil, &LoadError{Source: describeSources(fileSource, data != nil, origin), Err: decodeError(err)}
	}
	s.normalize()
	from := func(key string) string {
		if src, ok := origin[strings.ToLower(key)]; ok {
			return src
		}
		return fileSource
	}
	if ps := s.validate(from); len(ps) > 0 {
		return nil, &ValidationError{Problems: ps}
	}
	return &s, nil
}

// envSettings reads the ADD2TKE_SITE_ variables into a nested map of the
// keys they set; an empty variable is an unset one, and one that names no
// setting is an error, so that a misspelt variable is not silently lost.
func envSettings(environ []string, origin map[string]string) (map[string]any, error) {
	byName := map[string]string{}
	for _, k := range EnvKeys {
		byName[EnvName(k)] = k
	}
	doc := map[string]any{}
	for _, kv := range environ {
		name, text, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key, ok := byName[name]
		if !ok {
			if strings.HasPrefix(name, EnvPrefix+"REGISTRIES") {
				return nil, &LoadError{Source: "environment variable " + name, Err: fmt.Errorf("registries come only from the site file %s", Path)}
			}
			return nil, &LoadError{Source: "environment variable " + name, Err: fmt.Errorf("no such site setting; the site variables are %s", envNames())}
		}
		if text == "" {
			continue
		}
		section, leaf, _ := strings.Cut(key, ".")
		m, _ := doc[section].(map[string]any)
		if m == nil {
			m = map[string]any{}
			doc[section] = m
		}
		m[leaf] = text
		origin[strings.ToLower(key)] = name
	}
	return doc, nil
}

func envNames() string {
	n := make([]string, len(EnvKeys))
	for i, k := range EnvKeys {
		n[i] = EnvName(k)
	}
	return strings.Join(n, ", ")
}

func knownKey(key string) bool {
	for _, k := range EnvKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func describeSources(fileSource string, haveFile bool, origin map[string]string) string {
	var srcs []string
	for _, s := range origin {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	if haveFile {
		srcs = append([]string{fileSource}, srcs...)
	}
	if len(srcs) == 0 {
		return "defaults"
	}
	return strings.Join(srcs, ", ")
}

var durationType = reflect.TypeFor[time.Duration]()

// decodeHook is viper's (durations and comma lists from strings) with a
// duration that must be written with its unit: timeout: 10 would be ten
// nanoseconds.
var decodeHook = mapstructure.ComposeDecodeHookFunc(
	func(f, t reflect.Type, data any) (any, error) {
		if t != durationType || f == durationType {
			return data, nil
		}
		switch f.Kind() {
		case reflect.String:
			d, err := time.ParseDuration(data.(string))
			if err != nil {
				return nil, fmt.Errorf("%q is no duration: write a number with its unit, e.g. 10m or 90s", data)
			}
			return d, nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			return nil, fmt.Errorf("%v has no unit: write a duration such as 10m or 90s", data)
		}
		return data, nil
	},
	func(f, t reflect.Type, data any) (any, error) {
		if f.Kind() != reflect.String || t.Kind() != reflect.Slice {
			return data, nil
		}
		if data.(string) == "" {
			return []string{}, nil
		}
		return strings.Split(data.(string), ","), nil
	},
)

// normalize trims the spaces around comma-list entries (NO_PROXY="a, b").
func (s *Settings) normalize() {
	for i, e := range s.Proxy.NoProxy {
		s.Proxy.NoProxy[i] = strings.TrimSpace(e)
	}
}

// decodeError drops mapstructure's preamble, keeping the lines that name
// each key and what is wrong with its value.
func decodeError(err error) error {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "error(s):"); ok {
		msg = strings.TrimSpace(rest)
	}
	return errors.New(strings.ReplaceAll(msg, "\n\n", "\n  "))
}
