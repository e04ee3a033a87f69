package userscript

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// LogTailBytes bound what of an attempt's output reaches add2tkectl's own
// log: its end, where a failing script says why. The whole output is in
// LogPath.
const LogTailBytes = 64 << 10

// MaxLogBytes is the size over which LogPath is moved to OldLogPath when a
// run starts, so that a script rerun on every install (or a chatty one)
// cannot fill the disk over time; the last run's output is always whole.
const MaxLogBytes = 8 << 20

// rotateLog moves a log over MaxLogBytes to OldLogPath (replacing it).
func rotateLog(root host.Root) error {
	st, err := os.Stat(root.Path(LogPath))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() <= MaxLogBytes) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Rename(root.Path(LogPath), root.Path(OldLogPath)); err != nil {
		return fmt.Errorf("rotate the user script's log: %w", err)
	}
	return nil
}

func fileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// logTail logs the end of what an attempt wrote to the log file at path
// from offset from on: at most LogTailBytes, redacted.
func logTail(log logrus.FieldLogger, path string, from int64) {
	tail, omitted, err := readTail(path, from, LogTailBytes)
	if err != nil {
		log.WithError(err).Warn("could not read the user script's output back from its log")
		return
	}
	out := redact.String(tail)
	if omitted > 0 {
		out = fmt.Sprintf("[%d bytes before this; the whole output is in %s]\n%s", omitted, LogPath, out)
	}
	log.WithField("output", out).Info("the user script's output")
}

// readTail returns the last max bytes of the file at path after offset
// from (starting at a line when it can), and how many bytes before them it
// left out.
func readTail(path string, from, max int64) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	end := fileSize(f)
	if end <= from {
		return "", 0, nil
	}
	start := from
	if end-start > max {
		start = end - max
	}
	b := make([]byte, end-start)
	n, err := f.ReadAt(b, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", 0, err
	}
	b = b[:n]
	if start > from {
		if i := strings.IndexByte(string(b), '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(b), end - from - int64(len(b)), nil
}
