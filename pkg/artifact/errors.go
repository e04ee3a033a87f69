package artifact

import (
	"errors"
	"fmt"
)

// Error is an artifact failure: a manifest that is unsigned, tampered or
// invalid, a checksum mismatch, a download that failed on every URL, or an
// archive that may not be extracted. The CLI maps it to exit code 4.
type Error struct {
	// Artifact names the artifact, empty for the manifest itself.
	Artifact string
	// Op is what failed: "manifest", "download", "checksum", "extract".
	Op  string
	Err error
}

func (e *Error) Error() string {
	if e.Artifact == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Artifact, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ExpiredMessage is what an operator is told when a presigned link expired.
const ExpiredMessage = "the download link has expired; regenerate the script in the console"

// ExpiredError says COS refused a presigned URL because its validity ended.
// It is never retried; the CLI maps it to exit code 5.
type ExpiredError struct {
	// URL is the refused URL, redacted.
	URL string
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s (%s)", ExpiredMessage, e.URL)
}

// IsExpired reports whether err is or wraps an ExpiredError.
func IsExpired(err error) bool {
	var ee *ExpiredError
	return errors.As(err, &ee)
}

func manifestErr(format string, a ...any) error {
	return &Error{Op: "manifest", Err: fmt.Errorf(format, a...)}
}
