package preflight

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// Space a node needs: the runtime's data dir holds images (the offline ones
// alone are several hundred MiB), the kubelet's dir holds pod volumes.
var diskNeeds = []struct {
	what       string
	path       func(in *Inputs) string
	fail, warn uint64
}{
	{"container data", func(in *Inputs) string { return in.Config.NodePool.Runtime.DataDir }, 2 * gib, 10 * gib},
	{"kubelet data", func(*Inputs) string { return "/var/lib/kubelet" }, 1 * gib, 5 * gib},
}

var checkDiskSpace = Check{
	Name:        "disk-space",
	Description: "free space for the container data dir and /var/lib/kubelet",
	Run: func(_ context.Context, in *Inputs) Result {
		var msgs, warns, fails []string
		for _, d := range diskNeeds {
			p := d.path(in)
			if p == "" {
				continue
			}
			dir := existingAncestor(in, p)
			free, err := in.FreeBytes(in.Root.Path(dir))
			if err != nil {
				fails = append(fails, fmt.Sprintf("cannot measure free space of %s (%s): %v", p, d.what, err))
				continue
			}
			line := fmt.Sprintf("%s %.1f GiB free (%s)", p, float64(free)/gib, d.what)
			switch {
			case free < d.fail:
				fails = append(fails, fmt.Sprintf("%s: below %d GiB", line, d.fail/gib))
			case free < d.warn:
				warns = append(warns, fmt.Sprintf("%s: below the recommended %d GiB", line, d.warn/gib))
			default:
				msgs = append(msgs, line)
			}
		}
		const remedy = "free space there, or point nodePool.runtime.dataDir at a data disk with room"
		switch {
		case len(fails) > 0:
			return fail(remedy, "%s", strings.Join(append(fails, warns...), "; "))
		case len(warns) > 0:
			return warn(remedy, "%s", strings.Join(warns, "; "))
		}
		return ok("%s", strings.Join(msgs, "; "))
	},
}

// existingAncestor is the nearest directory of host path p that exists: the
// one whose filesystem p will be created on.
func existingAncestor(in *Inputs, p string) string {
	p = filepath.Clean("/" + p)
	for {
		if isDir(in.Root.Path(p)) || p == "/" {
			return p
		}
		p = filepath.Dir(p)
	}
}
