// Package uninstall gives the host back: it stops and removes what install
// recorded in its journal, and what the services install set up made while
// they ran, never deleting through a mount point. steps.go lists the steps.
//
// Decisions an operator may want to know:
//
//   - Only units the journal lists are stopped and disabled, and only paths
//     the journal lists are removed, plus the products of those units (what
//     each component declares in its pkg/component footprint: the kubelet's
//     kubeconfig and pod logs, the runtime's /run state...) and the empty
//     parents install's MkdirAll left, up to a system directory (protected,
//     which is never removed whatever the journal says). This package knows
//     no component by name: the stop order, the mount trees, the data dir's
//     entries and the container clients come from pkg/components.
//   - A file install wrote that was changed since is removed anyway, with a
//     warning naming it: it exists only because install wrote it, and a
//     stale half-configuration breaks the next install or another runtime.
//   - A directory install did not create (a data disk mounted at the data
//     dir or the kubelet's root) stays, with its mount; what the service put
//     in it goes (for a data dir only the runtime's own entries), and its
//     permissions are set back to those recorded before install.
//   - --keep-data keeps the runtime's data dir as it is.
//   - The node's credentials cannot delete its Node: it is cordoned and
//     labelled LabelUninstalled; --kubeconfig deletes it. An API server
//     that does not answer is a warning: the host is given back anyway.
//   - Kept: /var/log/add2tkectl (the operator's record of what happened)
//     and the run lock /run/add2tkectl.lock (in /run, gone at reboot;
//     removing a held flock file would let a waiting run and a new one
//     interleave).
//   - The journal goes last, so an interrupted uninstall can be run again;
//     a second uninstall finds nothing to do and changes nothing.
package uninstall
