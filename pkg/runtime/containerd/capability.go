package containerd

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// capSysResource is CAP_SYS_RESOURCE's bit in the capability sets.
const capSysResource = 24

// HasCapSysResource reads CapEff of this process from /proc/self/status. The
// services systemd starts get no more than the machine gives us, so our own
// set stands for theirs.
func HasCapSysResource() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, fmt.Errorf("read capabilities: %w", err)
	}
	return capEffHas(string(b), capSysResource)
}

func capEffHas(status string, bit uint) (bool, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("parse CapEff %q: %w", v, err)
			}
			return mask&(1<<bit) != 0, nil
		}
	}
	return false, fmt.Errorf("no CapEff line in /proc/self/status")
}
