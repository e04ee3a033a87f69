package cli

import "strings"

// isCobraUsageError recognises cobra's complaints about commands and
// arguments, which it returns as plain errors (flag errors are wrapped as
// usage errors by the root's FlagErrorFunc).
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "invalid argument", "required flag(s)"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
