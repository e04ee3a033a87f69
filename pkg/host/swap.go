package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Fstab is the file whose swap lines install comments out.
const Fstab = "/etc/fstab"

// fstabMarker prefixes each swap line install disabled, so uninstall can
// restore exactly those lines and no others.
const fstabMarker = "#add2tkectl-swapoff# "

// DisableFstabSwap comments out every active swap line of an fstab. It
// returns the new content and the original lines it disabled.
func DisableFstabSwap(fstab []byte) ([]byte, []string) {
	lines := strings.SplitAfter(string(fstab), "\n")
	var disabled []string
	for i, l := range lines {
		if isSwapLine(l) {
			disabled = append(disabled, strings.TrimRight(l, "\n"))
			lines[i] = fstabMarker + l
		}
	}
	return []byte(strings.Join(lines, "")), disabled
}

// RestoreFstabSwap undoes DisableFstabSwap: the lines it marked come back
// as they were, anything else in the file is left alone.
func RestoreFstabSwap(fstab []byte) ([]byte, int) {
	lines := strings.SplitAfter(string(fstab), "\n")
	n := 0
	for i, l := range lines {
		if orig, ok := strings.CutPrefix(l, fstabMarker); ok {
			lines[i] = orig
			n++
		}
	}
	return []byte(strings.Join(lines, "")), n
}

func isSwapLine(l string) bool {
	f := strings.Fields(l)
	if len(f) < 3 || strings.HasPrefix(f[0], "#") {
		return false
	}
	return f[2] == "swap"
}

// fstabKey names the journal fact that holds one original fstab line; keyed
// by the line's hash so that lines disabled by later runs do not overwrite it.
func fstabKey(line string) string {
	sum := sha256.Sum256([]byte(line))
	return keyFstab + hex.EncodeToString(sum[:8])
}

func (r Root) readFstab() ([]byte, error) {
	b, err := os.ReadFile(r.Path(Fstab))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Fstab, err)
	}
	return b, nil
}

// editRecorder records an edit of a file the host owns (fstab) as a fact
// instead of a file, so that uninstall reverts the edit and never deletes
// the file.
type editRecorder struct{ phase.Recorder }

func (e editRecorder) File(path, sha256 string) error {
	return e.Set(keyEdited+path, sha256)
}

// discardRecorder is for writes that undo a recorded change (uninstall).
type discardRecorder struct{}

func (discardRecorder) File(string, string) error { return nil }
func (discardRecorder) Dir(string) error          { return nil }
func (discardRecorder) Unit(string) error         { return nil }
func (discardRecorder) Set(string, string) error  { return nil }
