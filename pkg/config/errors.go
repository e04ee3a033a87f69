package config

import (
	"errors"
	"fmt"
	"strings"
)

// LoadError is a source that could not be read or does not fit the
// document: an unreadable or malformed file, an unknown field, a bad
// --set or ADD2TKE_* value, a damaged bundled payload. The CLI exits 2.
type LoadError struct {
	// Source names where the problem is: a file, "--set ...", a variable.
	Source string
	// Problems are every problem found in that source, or Err alone.
	Problems []string
	Err      error
}

func (e *LoadError) Error() string {
	if e.Err != nil {
		return e.Source + ": " + e.Err.Error()
	}
	if len(e.Problems) == 1 {
		return e.Source + ": " + e.Problems[0]
	}
	return e.Source + ":\n  " + strings.Join(e.Problems, "\n  ")
}

func (e *LoadError) Unwrap() error { return e.Err }

// Errors of the bundled payload; both arrive wrapped in a *LoadError.
var (
	// ErrCorruptPayload: the trailer is there but its length or checksum is wrong.
	ErrCorruptPayload = errors.New("the configuration bundled into this executable is damaged")
	// ErrNameMismatch: add2tkectl-<cls>-<np> disagrees with the payload's IDs.
	ErrNameMismatch = errors.New("the executable's name does not match the configuration bundled into it")
)

// FieldError is one rule a field breaks.
type FieldError struct {
	// Path is the field, e.g. nodePool.taints[1].effect.
	Path string `json:"path"`
	// Message says what is wrong and what is allowed. It never carries a secret.
	Message string `json:"message"`
}

func (e FieldError) String() string { return e.Path + ": " + e.Message }

// ValidationError lists every rule the configuration breaks. The CLI exits 2.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the configuration is invalid (%d %s):", len(e.Errors), plural(len(e.Errors), "error", "errors"))
	for _, f := range e.Errors {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
