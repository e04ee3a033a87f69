package systemd

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// Unit is a unit file as data: sections in order, each with its directives
// in order. Rendering it is pure, so units are tested against golden files.
type Unit struct {
	// Comment lines go on top, each prefixed with "# ".
	Comment  []string
	Sections []Section
}

// Section is one [Name] block of a unit file.
type Section struct {
	Name       string
	Directives []Directive
}

// Directive is one Key=Value line. A key may repeat (ExecStartPre, and the
// empty ExecStart= that resets a list in a drop-in).
type Directive struct{ Key, Value string }

// D is a short constructor for a Directive.
func D(key, value string) Directive { return Directive{Key: key, Value: value} }

// Render returns the unit file's bytes. It refuses a value with a newline,
// which would inject a directive.
func (u Unit) Render() ([]byte, error) {
	var b bytes.Buffer
	for _, c := range u.Comment {
		b.WriteString(strings.TrimRight("# "+c, " ") + "\n")
	}
	for i, s := range u.Sections {
		if i > 0 || len(u.Comment) > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, d := range s.Directives {
			if strings.ContainsAny(d.Key+d.Value, "\n\r") || d.Key == "" || strings.ContainsAny(d.Key, "= ") {
				return nil, fmt.Errorf("unit directive %q=%q in [%s]: keys must be plain words and values one line", d.Key, d.Value, s.Name)
			}
			fmt.Fprintf(&b, "%s=%s\n", d.Key, d.Value)
		}
	}
	return b.Bytes(), nil
}

// UnitPath is where a unit file named name is installed.
func UnitPath(name string) string { return path.Join(UnitDir, name) }

// DropInPath is where drop-in file for unit is installed.
func DropInPath(unit, file string) string { return path.Join(UnitDir, unit+".d", file) }

// EnvironmentFileLine renders one KEY="value" line for an EnvironmentFile=.
// Values are double-quoted with backslash escapes for \ and ", which is what
// systemd unquotes; a newline is refused.
func EnvironmentFileLine(key, value string) (string, error) {
	if strings.ContainsAny(value, "\n\r") {
		return "", fmt.Errorf("environment value for %s has a newline", key)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return fmt.Sprintf("%s=\"%s\"\n", key, r.Replace(value)), nil
}

// Environment is one Environment="KEY=value" directive. The assignment is
// double-quoted with backslash escapes for \ and " and % doubled, which is
// what systemd unquotes and un-specifies, so a value with spaces, quotes or
// a percent-encoded password arrives as given; a newline or a key that is
// no variable name is refused.
func Environment(key, value string) (Directive, error) {
	if key == "" || strings.ContainsAny(key, "= \t\"'\\%") {
		return Directive{}, fmt.Errorf("environment variable name %q: want a plain name", key)
	}
	if strings.ContainsAny(value, "\n\r") {
		return Directive{}, fmt.Errorf("environment value for %s has a newline", key)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`)
	return D("Environment", `"`+key+"="+r.Replace(value)+`"`), nil
}
