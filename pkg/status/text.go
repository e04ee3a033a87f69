package status

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// FormatText renders a report for a terminal: one line per component
// (COMPONENT STATE DETAIL), the drift, and the verdict.
func FormatText(r *Report) []byte {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(component, state, detail string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", component, state, oneLine(detail))
	}
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tDETAIL")
	row("install", r.Install.State, installDetail(r))
	if !r.Installed {
		tw.Flush()
		fmt.Fprintf(&b, "\nnot installed: run install to join this host\n")
		return b.Bytes()
	}
	for _, u := range r.Units {
		state, detail := u.ActiveState, u.SubState
		switch {
		case u.Error != "":
			state, detail = "unknown", u.Error
		case u.LoadState != "loaded":
			state = u.LoadState
		}
		if u.Error == "" {
			if u.Enabled {
				detail += ", enabled"
			} else {
				detail += ", " + orDash(u.UnitFileState)
			}
		}
		row(u.Name, state, detail)
	}
	row("runtime", healthWord(r.Runtime.Healthy), runtimeDetail(r.Runtime))
	row("kubelet", healthWord(r.Kubelet.Healthy), kubeletDetail(r.Kubelet))
	state, detail := nodeRow(r)
	row("node", state, detail)
	row("userscript", r.UserScript.State, scriptDetail(r.UserScript))
	tw.Flush()

	d := r.Drift
	if !d.Empty() || len(d.Unchecked) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DRIFT\tWHAT\tDETAIL")
		for _, v := range d.Versions {
			what := "installed " + v.Installed
			if v.Where != "" {
				what = v.Where + " " + v.Installed
			}
			fmt.Fprintf(tw, "version\t%s\t%s, configured %s\n", v.Component, what, v.Configured)
		}
		for _, l := range d.Labels {
			var detail string
			switch l.Change {
			case ChangeMissing:
				detail = fmt.Sprintf("missing on the node, configured %q", l.Configured)
			case ChangeDifferent:
				detail = fmt.Sprintf("node has %q, configured %q", l.Node, l.Configured)
			default:
				detail = fmt.Sprintf("node still has %q, no longer configured", l.Node)
			}
			fmt.Fprintf(tw, "label\t%s\t%s\n", l.Key, detail)
		}
		for _, t := range d.Taints {
			detail := "configured, missing on the node (taints are set only when the Node is created)"
			if t.Change == ChangeUnexpected {
				detail = "on the node, not configured"
			}
			fmt.Fprintf(tw, "taint\t%s\t%s\n", taintString(t.Taint), detail)
		}
		for _, f := range d.Files {
			detail := "missing since install"
			if f.Change == ChangeModified {
				detail = "modified since install (sha256 " + short(f.Current) + ", install wrote " + short(f.SHA256) + ")"
			}
			fmt.Fprintf(tw, "file\t%s\t%s\n", f.Path, detail)
		}
		if len(d.Unchecked) > 0 {
			fmt.Fprintf(tw, "unchecked\t%s\t%s\n", strings.Join(d.Unchecked, ", "), "could not be compared (see above)")
		}
		tw.Flush()
	}
	b.WriteString("\n")
	if r.Healthy {
		b.WriteString("healthy\n")
	} else {
		fmt.Fprintf(&b, "degraded: %s\n", strings.Join(r.Problems, "; "))
	}
	return b.Bytes()
}

func installDetail(r *Report) string {
	in := r.Install
	if !r.Installed {
		return "no state journal at " + paths.JournalPath
	}
	ok, failed := 0, ""
	for _, p := range in.Phases {
		switch phase.Status(p.Status) {
		case phase.StatusDone, phase.StatusUnchanged, phase.StatusSkipped:
			ok++
		case phase.StatusFailed:
			if failed == "" {
				failed = p.Name + ": " + p.Error
			}
		}
	}
	s := fmt.Sprintf("%d/%d phases done", ok, len(in.Phases))
	switch {
	case in.Interrupted != "":
		s += ", interrupted in " + in.Interrupted
	case failed != "":
		s += ", failed in " + failed
	}
	if in.UpdatedAt != nil {
		s += ", journal updated " + stamp(*in.UpdatedAt)
	}
	return s
}

func runtimeDetail(rt Runtime) string {
	if !rt.Healthy {
		return rt.Kind + " on " + rt.Socket + ": " + rt.Error
	}
	return rt.Kind + " " + rt.Version + " on " + rt.Socket
}

func kubeletDetail(k Kubelet) string {
	parts := []string{}
	if k.Version != "" {
		parts = append(parts, k.Version)
	}
	if k.Healthy {
		parts = append(parts, k.HealthzURL+" ok")
	} else {
		parts = append(parts, k.Error)
	}
	return strings.Join(parts, ", ")
}

func nodeRow(r *Report) (state, detail string) {
	n := r.Node
	switch {
	case !n.Joined:
		return "not-joined", n.Error
	case !n.APIReachable:
		return "unreachable", "the API server did not answer (the rows above are still true): " + n.Error
	case n.Error != "":
		return "error", n.Error
	case !n.Registered:
		return "not-registered", r.NodeName + ": " + n.Reason
	}
	state = "Ready"
	if !n.Ready {
		state = "NotReady"
	}
	parts := []string{r.NodeName}
	if n.InternalIP != "" {
		parts = append(parts, n.InternalIP)
	}
	if !n.Ready && n.Reason != "" {
		parts = append(parts, n.Reason)
	}
	if n.Unschedulable {
		parts = append(parts, "cordoned")
	} else {
		parts = append(parts, "schedulable")
	}
	if len(n.Taints) > 0 {
		ts := make([]string, 0, len(n.Taints))
		for _, t := range n.Taints {
			ts = append(ts, taintString(t))
		}
		parts = append(parts, "taints "+strings.Join(ts, ","))
	}
	parts = append(parts, fmt.Sprintf("%d labels", len(n.Labels)))
	if n.KubeletVersion != "" {
		parts = append(parts, "kubelet "+n.KubeletVersion)
	}
	return state, strings.Join(parts, ", ")
}

func scriptDetail(u UserScript) string {
	if u.Error != "" {
		return u.Error
	}
	if u.LastRun == nil {
		if u.Configured {
			return "configured, has not run yet"
		}
		return "the pool has no user script"
	}
	parts := []string{}
	if u.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit %d", *u.ExitCode))
	}
	if u.TimedOut {
		parts = append(parts, "timed out")
	}
	parts = append(parts, fmt.Sprintf("%d attempt(s)", u.Attempts), "last run "+stamp(*u.LastRun))
	if u.State == ScriptChanged {
		parts = append(parts, "the configured script differs from the one that ran")
	}
	parts = append(parts, "log "+u.LogPath)
	return strings.Join(parts, ", ")
}

func healthWord(ok bool) string {
	if ok {
		return "healthy"
	}
	return "unhealthy"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return orDash(sha)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
