package site

import (
	"fmt"
	"strings"
)

// LoadError is a source of site settings that cannot be read or does not
// fit: a missing --site file, malformed YAML, an unknown key, a value of
// the wrong type, an ADD2TKE_SITE_ variable that names no setting. The CLI
// exits 2.
type LoadError struct {
	// Source names where the problem is: "site file PATH", a variable, a flag.
	Source string
	Err    error
}

func (e *LoadError) Error() string { return "site settings: " + e.Source + ": " + e.Err.Error() }

func (e *LoadError) Unwrap() error { return e.Err }

// Problem is one rule a setting breaks.
type Problem struct {
	// Key is the setting, e.g. registries[1].mirrors[0].endpoint.
	Key string `json:"key"`
	// Source is where its value came from: the site file, a variable, a flag.
	Source string `json:"source"`
	// Message says what is wrong and what to do.
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Key + " (" + p.Source + "): " + p.Message }

// ValidationError lists every rule the site settings break. The CLI exits 2.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "the site settings are invalid (%d %s):", n, noun)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}
