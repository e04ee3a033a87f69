package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// Secrets as they come: the configuration's bootstrap token and presigned
// manifest URL (testdata/config/good/containerd.yaml).
const (
	logTestToken       = "abcdef.0123456789abcdef"
	logTestTokenSecret = "0123456789abcdef"
	logTestURL         = "https://tke-idc-1250000000.cos-internal.ap-guangzhou.tencentcos.cn/np-3kd9a1bc/manifest.json?q-sign-algorithm=sha1&q-ak=AKIDEXAMPLE&q-sign-time=1764201600%3B1764205200&q-signature=0123456789abcdef0123456789abcdef01234567"
)

var logTestSecrets = []string{logTestTokenSecret, "q-signature", "AKIDEXAMPLE", "q-sign-time"}

type downloadAttempt struct {
	URL     string `json:"url"`
	Attempt int    `json:"attempt"`
}

func TestLoggingNeverWritesSecrets(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, closeLog, err := setupLogging(&Globals{Root: dir, LogLevel: "debug", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	// Every way a secret could slip into a log call.
	log.Infof("joining with token %s", logTestToken)
	log.WithField("url", logTestURL).Info("downloading the manifest")
	log.WithField("token", logTestToken).WithField("bytes", 1024).Debug("bootstrap kubeconfig rendered")
	log.WithError(errors.New("GET " + logTestURL + ": 403 Request has expired")).Warn("download failed")
	log.WithField("attempt", downloadAttempt{URL: logTestURL, Attempt: 2}).Info("retrying")
	log.WithField(logTestURL, "key").Info("a secret in a field name")
	log.Error("kubeadm-style join: --token " + logTestToken + " " + logTestURL)
	closeLog()

	file, err := os.ReadFile(filepath.Join(dir, paths.LogPath))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"stderr": stderr.String(), "log file": string(file)} {
		for _, s := range logTestSecrets {
			if strings.Contains(out, s) {
				t.Errorf("%s contains the secret %q:\n%s", name, s, out)
			}
		}
		// What is not secret stays, or the log would be useless.
		for _, keep := range []string{"abcdef.REDACTED", "np-3kd9a1bc/manifest.json?REDACTED", "403 Request has expired"} {
			if !strings.Contains(out, keep) {
				t.Errorf("%s lost %q:\n%s", name, keep, out)
			}
		}
	}
	lines := strings.Split(strings.TrimSpace(string(file)), "\n")
	if len(lines) != 7 {
		t.Errorf("log file has %d lines, want one per entry (7):\n%s", len(lines), file)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %v: %s", err, l)
		}
	}
	// Structured fields stay structured in the JSON file.
	if !strings.Contains(string(file), `"attempt":{"url":"https://`) {
		t.Errorf("the struct field is not kept as JSON:\n%s", file)
	}
}

func TestLoggingLevelsAndFileMode(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, closeLog, err := setupLogging(&Globals{Root: dir, LogLevel: "warn", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("debug detail")
	log.Info("info line")
	log.Warn("warn line")
	closeLog()
	if strings.Contains(stderr.String(), "info line") || !strings.Contains(stderr.String(), "warn line") {
		t.Errorf("stderr at --log-level warn:\n%s", stderr.String())
	}
	path := filepath.Join(dir, paths.LogPath)
	file, _ := os.ReadFile(path)
	for _, want := range []string{"debug detail", "info line", "warn line"} {
		if !strings.Contains(string(file), want) {
			t.Errorf("the log file (debug level) lacks %q:\n%s", want, file)
		}
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}

	// A second run appends, and makes a loosened file private again.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	log, closeLog, err = setupLogging(&Globals{Root: dir, LogLevel: "info", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("second run")
	closeLog()
	file, _ = os.ReadFile(path)
	if !strings.Contains(string(file), "warn line") || !strings.Contains(string(file), "second run") {
		t.Errorf("the log file was not appended to:\n%s", file)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v after the second run, want 0600", info.Mode().Perm())
	}
}

func TestLoggingRefusesAnUnknownLevel(t *testing.T) {
	_, _, err := setupLogging(&Globals{Root: t.TempDir(), LogLevel: "verbose"})
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "debug, info, warn or error") {
		t.Errorf("error %v (exit %d), want a usage error listing the levels", err, ExitCode(err))
	}
}

func TestLoggingWithoutAWritableLogFileGoesOnOnStderr(t *testing.T) {
	dir := t.TempDir()
	// A file where the log directory should be: the log cannot be opened.
	if err := os.MkdirAll(filepath.Join(dir, "var/log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "var/log/add2tkectl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	log, closeLog, err := setupLogging(&Globals{Root: dir, LogLevel: "info", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("still logging")
	closeLog()
	if !strings.Contains(stderr.String(), "logging to stderr only") || !strings.Contains(stderr.String(), "still logging") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

func TestHumanLinesArePlainUnderSystemd(t *testing.T) {
	entry := &logrus.Entry{Logger: logrus.New(), Level: logrus.InfoLevel, Message: "kubelet is up", Data: logrus.Fields{"phase": "kubelet"}}
	terminal, err := humanFormatter(true, false).Format(entry)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(terminal, []byte("\x1b[")) {
		t.Errorf("on a terminal, want colour: %q", terminal)
	}
	journal, err := humanFormatter(true, true).Format(entry)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(journal, []byte("\x1b[")) || bytes.Contains(journal, []byte("time=")) {
		t.Errorf("under systemd (JOURNAL_STREAM), want a plain line without time: %q", journal)
	}
	if !bytes.Contains(journal, []byte("kubelet is up")) || !bytes.Contains(journal, []byte("phase=kubelet")) {
		t.Errorf("the plain line lost the message or fields: %q", journal)
	}
}

// While a progress report is on stderr the log's stderr lines go through
// its writer (above the bars), and straight to stderr again once it is done.
func TestLogLinesGoThroughTheProgressReport(t *testing.T) {
	var stderr bytes.Buffer
	g := &Globals{LogLevel: "info", Root: t.TempDir(), Stderr: &stderr}
	log, closeLog, err := newLogger(g, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	p, done := newProgress(g)
	if g.stderrLog.w != p.Writer() {
		t.Errorf("during the report the log writes to %T, want the report's writer", g.stderrLog.w)
	}
	log.Warn("retrying after a dropped connection")
	done()
	if g.stderrLog.w != io.Writer(&stderr) {
		t.Errorf("after the report the log writes to %T, want stderr", g.stderrLog.w)
	}
	log.Warn("after the report")
	if s := stderr.String(); !strings.Contains(s, "retrying after a dropped connection") || !strings.Contains(s, "after the report") {
		t.Errorf("stderr: %q", s)
	}
}
