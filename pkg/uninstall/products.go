package uninstall

import (
	"path"
	"path/filepath"
	"strings"
)

// products are the paths the services of the journal's units make while
// they run, which the journal cannot list (install did not write them),
// as each component declares them (component.Unit.Products); a pattern
// stands for the entries that match it now. Each is the service's alone:
// its credentials, state, logs and sockets.
func (u *Uninstall) products() []string {
	declared := map[string][]string{}
	for _, c := range u.d.Components.All() {
		for _, unit := range c.Footprint().Units {
			declared[unit.Name] = unit.Products
		}
	}
	var out []string
	for _, unit := range u.units() {
		out = append(out, u.expand(declared[unit]...)...)
	}
	return out
}

// expand replaces each pattern among host paths by the host paths that
// match it under the root.
func (u *Uninstall) expand(ps ...string) []string {
	var out []string
	for _, p := range ps {
		if !strings.ContainsAny(p, "*?[") {
			out = append(out, p)
			continue
		}
		matches, _ := filepath.Glob(u.d.Root.Path(p))
		for _, m := range matches {
			out = append(out, path.Join(path.Dir(p), filepath.Base(m)))
		}
	}
	return out
}

// protected are directories of the system that uninstall never removes,
// whatever a (damaged) journal says, and where pruning empty parents stops.
var protected = map[string]bool{}

func init() {
	for _, p := range []string{
		"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt",
		"/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
		"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/include", "/usr/share", "/usr/src",
		"/usr/local", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/usr/local/share", "/usr/local/etc",
		"/usr/local/include", "/usr/local/src",
		"/var/lib", "/var/cache", "/var/log", "/var/run", "/var/tmp", "/var/spool", "/var/mail", "/var/opt",
		"/var/local", "/var/backups",
		"/etc/systemd", "/etc/systemd/system", "/etc/modules-load.d", "/etc/sysctl.d", "/etc/default",
		"/etc/systemd/system/multi-user.target.wants",
		"/run/netns", "/var/run/netns",
	} {
		protected[p] = true
	}
}
