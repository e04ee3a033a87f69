package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// setupLogging returns the logger a command uses: human lines on stderr at
// --log-level and JSON lines at debug level appended to paths.LogPath under
// --root. Every entry (message, fields, errors) is redacted on its way to
// either. A log file that cannot be opened (a read-only root, a user other
// than root) is reported on stderr and logging goes on without it. close
// flushes and closes the file.
func setupLogging(g *Globals) (logrus.FieldLogger, func(), error) {
	return newLogger(g, true)
}

// newLogger is setupLogging; toFile false keeps it off the disk (dry runs).
func newLogger(g *Globals, toFile bool) (*logrus.Logger, func(), error) {
	level, err := parseLevel(g.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	stderr := g.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	l := logrus.New()
	// The hooks do all the writing, each with its level and format; the
	// logger's own output would bypass redaction.
	l.SetOutput(io.Discard)
	l.SetFormatter(discardFormatter{})
	l.SetLevel(level)
	g.stderrLog = &writerHook{
		w:      stderr,
		f:      humanFormatter(isTerminal(stderr), os.Getenv("JOURNAL_STREAM") != ""),
		levels: levelsUpTo(level),
	}
	l.AddHook(g.stderrLog)
	closeFn := func() {}
	if !toFile {
		return l, closeFn, nil
	}
	path := filepath.Join(g.Root, paths.LogPath)
	f, err := openLogFile(path)
	if err != nil {
		l.WithError(err).Warn("logging to stderr only")
		return l, closeFn, nil
	}
	l.SetLevel(logrus.DebugLevel)
	l.AddHook(&writerHook{
		w:      f,
		f:      &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano},
		levels: levelsUpTo(logrus.DebugLevel),
		raw:    true,
	})
	return l, func() { _ = f.Close() }, nil
}

func parseLevel(s string) (logrus.Level, error) {
	switch s {
	case "debug":
		return logrus.DebugLevel, nil
	case "", "info":
		return logrus.InfoLevel, nil
	case "warn", "warning":
		return logrus.WarnLevel, nil
	case "error":
		return logrus.ErrorLevel, nil
	}
	return 0, usageErrorf("--log-level %q: use debug, info, warn or error", s)
}

func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the log directory %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the log file %s: %w", path, err)
	}
	// A file created by something else keeps its mode; ours is 0600.
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot make the log file %s private (0600): %w", path, err)
	}
	return f, nil
}

// humanFormatter gives plain lines under systemd (journald adds time and
// colour is noise there) and coloured ones on a terminal.
func humanFormatter(terminal, journal bool) logrus.Formatter {
	colour := terminal && !journal
	return &logrus.TextFormatter{
		ForceColors:      colour,
		DisableColors:    !colour,
		DisableTimestamp: journal,
		FullTimestamp:    true,
		TimestampFormat:  "15:04:05",
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func levelsUpTo(max logrus.Level) []logrus.Level {
	var out []logrus.Level
	for _, l := range logrus.AllLevels {
		if l <= max {
			out = append(out, l)
		}
	}
	return out
}

// writerHook formats redacted entries onto one writer.
type writerHook struct {
	mu     sync.Mutex
	w      io.Writer
	f      logrus.Formatter
	levels []logrus.Level
	// raw keeps structured field values as JSON (for the JSON file).
	raw bool
}

func (h *writerHook) Levels() []logrus.Level { return h.levels }

// redirect sends the hook's lines to w until restore is called (to a
// progress report's writer while its bars are on screen).
func (h *writerHook) redirect(w io.Writer) (restore func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.w
	h.w = w
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.w = old
	}
}

func (h *writerHook) Fire(e *logrus.Entry) error {
	b, err := h.f.Format(redactEntry(e, h.raw))
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = h.w.Write(b)
	return err
}

// redactEntry copies e with secrets removed from its message, field names
// and field values; the original entry is left alone for other hooks.
func redactEntry(e *logrus.Entry, raw bool) *logrus.Entry {
	out := &logrus.Entry{
		Logger:  e.Logger,
		Time:    e.Time,
		Level:   e.Level,
		Caller:  e.Caller,
		Context: e.Context,
		Message: redact.String(e.Message),
		Data:    make(logrus.Fields, len(e.Data)),
	}
	for k, v := range e.Data {
		out.Data[redact.String(k)] = redactValue(v, raw)
	}
	return out
}

func redactValue(v any, raw bool) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return redact.String(x)
	case error:
		return redact.String(x.Error())
	case time.Time:
		return x
	case fmt.Stringer:
		return redact.String(x.String())
	case []byte:
		return redact.String(string(x))
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return v
	}
	// Anything structured: its JSON text, redacted.
	b, err := json.Marshal(v)
	if err != nil {
		return redact.String(fmt.Sprintf("%+v", v))
	}
	s := redact.String(string(b))
	if raw && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

// discardFormatter spares the logger formatting entries nobody reads.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// newProgress is the artifact report of a command on g.Stderr: bars on a
// terminal (unless --no-progress), plain lines otherwise. Until done is
// called the command's log lines on stderr go through the report, so they
// print above the bars instead of through them.
func newProgress(g *Globals) (p artifact.Progress, done func()) {
	p = artifact.NewProgress(g.Stderr, !g.NoProgress && isTerminal(g.Stderr))
	if g.stderrLog == nil {
		return p, func() {}
	}
	return p, g.stderrLog.redirect(p.Writer())
}
