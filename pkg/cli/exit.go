package cli

import (
	"errors"
	"fmt"
)

// Exit codes, a contract with scripts and Ansible (DESIGN section 2).
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitUsage     = 2
	ExitPreflight = 3
	ExitArtifact  = 4
	ExitExpired   = 5
	ExitJoin      = 6
)

// usageError is bad command-line input.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// ExitCode maps an error from any package to the exit code it stands for.
func ExitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	}
	for _, m := range exitMappers {
		if code, ok := m(err); ok {
			return code
		}
	}
	if isCobraUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// exitMappers recognise typed errors of the capability packages; each
// capability registers its mapper in the file that wires its command.
var exitMappers []func(error) (int, bool)
