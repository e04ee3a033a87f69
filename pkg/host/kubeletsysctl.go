package host

import "github.com/add2tkectl/add2tkectl/pkg/phase"

// KubeletSysctls are the kernel settings the kubelet sets itself when it
// starts (protectKernelDefaults: false, its default). They are the
// machine's, not the node's: the host phase records what they were before
// the kubelet first ran, so that uninstall sets them back.
var KubeletSysctls = []Sysctl{
	{"vm.overcommit_memory", "1"},
	{"vm.panic_on_oom", "0"},
	{"kernel.panic", "10"},
	{"kernel.panic_on_oops", "1"},
	{"kernel.keys.root_maxkeys", "1000000"},
	{"kernel.keys.root_maxbytes", "25000000"},
}

// recordKubeletSysctls records each setting the kubelet will change while
// it still holds the host's own value (as a host.sysctl.* fact, which
// Revert restores). Once the kubelet has set it, a re-run records nothing,
// so the host's value stays on record.
func (s *Settings) recordKubeletSysctls(rec phase.Recorder) error {
	if !s.Live {
		return nil
	}
	for _, kv := range KubeletSysctls {
		cur, ok, err := s.Root.ReadSysctl(kv.Key)
		if err != nil {
			return err
		}
		if !ok || cur == kv.Value {
			continue
		}
		if err := rec.Set(keySysctl+kv.Key, cur); err != nil {
			return err
		}
	}
	return nil
}
