// Command benchrun runs one command for scripts/bench.sh and writes what it
// cost as one JSON line to -out: the wall time from start to exit, the
// command's own peak resident set (VmHWM, read from /proc every 5 ms while
// it runs; the high-water mark only grows, so the last read before exit is
// its peak within 5 ms of its end), the peak of it and the children it
// reaped (wait4's ru_maxrss) and its exit code. The command's stdin,
// stdout and stderr are benchrun's.
//
//	benchrun -out FILE -- CMD [ARG...]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type result struct {
	WallSeconds  float64 `json:"wallSeconds"`
	HWMKiB       int64   `json:"hwmKiB"`
	MaxRSSKiB    int64   `json:"maxRSSKiB"` // with reaped children
	ExitCode     int     `json:"exitCode"`
	HWMSamples   int     `json:"hwmSamples"`
	CommandError string  `json:"commandError,omitempty"`
}

func main() {
	out := flag.String("out", "", "file the JSON line goes to")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchrun -out FILE -- CMD [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	var r result
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(2)
	}
	done := make(chan struct{})
	hwm := make(chan [2]int64)
	go func() {
		var peak, n int64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v, ok := vmHWM(cmd.Process.Pid); ok {
				peak, n = max(peak, v), n+1
			}
			select {
			case <-done:
				hwm <- [2]int64{peak, n}
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	r.WallSeconds = time.Since(start).Seconds()
	close(done)
	h := <-hwm
	r.HWMKiB, r.HWMSamples = h[0], int(h[1])
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSKiB = ru.Maxrss
	}
	r.ExitCode = cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		r.CommandError = err.Error()
	}
	b, _ := json.Marshal(r)
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(2)
	}
	os.Exit(r.ExitCode)
}

// vmHWM reads the VmHWM line of /proc/PID/status, in KiB.
func vmHWM(pid int) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}
