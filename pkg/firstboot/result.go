package firstboot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
)

// ResultPath is the result file the unit's runs write (mode 0600: an error
// may quote the host's configuration).
const ResultPath = "/var/lib/add2tkectl/firstboot.json"

// States of the first-boot join.
const (
	StateTrying = "trying" // an attempt runs, or the next one is scheduled
	StateJoined = "joined" // the last install succeeded
	StateGaveUp = "gave-up"
)

// Result is the result file and the "firstBoot" field of status -o json.
// Its field names are a contract with monitoring.
type Result struct {
	State string `json:"state"`
	// Attempts counts install runs over every boot; BootAttempts those of
	// the boot BootID, against which MaxAttempts counts.
	Attempts     int    `json:"attempts"`
	BootAttempts int    `json:"bootAttempts"`
	MaxAttempts  int    `json:"maxAttempts"`
	BootID       string `json:"bootID,omitempty"`
	// LastError is the last failed run's error (secrets redacted) and
	// LastExitCode its exit code; both empty once joined.
	LastError    string `json:"lastError,omitempty"`
	LastExitCode int    `json:"lastExitCode,omitempty"`
	// Changed is what the last successful install reported: false on a
	// later boot of a joined host.
	Changed   bool       `json:"changed"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	UpdatedAt time.Time  `json:"updatedAt"`
	JoinedAt  *time.Time `json:"joinedAt,omitempty"`
}

// ReadResult reads the result file under root; (nil, nil) when there is
// none (the host was not joined by first boot, or not yet).
func ReadResult(root string) (*Result, error) {
	b, err := os.ReadFile(filepath.Join(root, ResultPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the first-boot result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("the first-boot result %s is not valid JSON (%v): remove it and restart %s", ResultPath, err, UnitName)
	}
	return &r, nil
}

// WriteResult replaces the result file under root atomically, mode 0600.
func WriteResult(root string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(root, ResultPath)
	if err := atomicfile.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("first-boot result: %w", err)
	}
	if err := atomicfile.Write(p, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("first-boot result: %w", err)
	}
	return nil
}

// Report is the first-boot part of status: nil when the host has no result
// file. A file that does not read is reported as its error, not hidden.
func Report(root string) *Result {
	r, err := ReadResult(root)
	if err != nil {
		return &Result{State: "unknown", LastError: err.Error()}
	}
	return r
}
