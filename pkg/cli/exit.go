package cli

import (
	"errors"
	"fmt"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/preflight"
	"github.com/add2tkectl/add2tkectl/pkg/render"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// Exit codes, a contract with scripts and Ansible (DESIGN section 2).
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitUsage     = 2
	ExitPreflight = 3
	ExitArtifact  = 4
	ExitExpired   = 5
	ExitJoin      = 6
)

// exitTable maps an error to the exit code it stands for, read top to
// bottom: the first row that the error, or an error it wraps, matches wins.
// Order matters where one error wraps another: an expired link that
// preflight finds is still 5 (regenerate the script), not 3.
var exitTable = []struct {
	code  int
	match func(error) bool
	what  string
}{
	{firstboot.GaveUpStatus, is[*firstboot.GaveUpError], "the first-boot unit gave up: a status its unit does not retry"},
	{-1, is[*firstboot.RunError], "a first-boot attempt: install's own exit code, so the journal shows it"},
	{ExitUsage, is[*usageError], "bad command-line input"},
	{ExitExpired, is[*artifact.ExpiredError], "a presigned link that expired"},
	{ExitArtifact, is[*artifact.Error], "any other artifact failure: signature, checksum, download, extraction"},
	{ExitUsage, is[*config.LoadError], "a configuration that cannot be read"},
	{ExitUsage, is[*config.ValidationError], "a configuration that breaks a rule"},
	{ExitUsage, is[*site.LoadError], "site settings that cannot be read: a missing --site file, an unknown key or variable, a bad type"},
	{ExitUsage, is[*site.ValidationError], "site settings that break a rule"},
	{ExitUsage, is[*install.KubeletMoveError], "a cluster.kubernetesVersion the installed kubelet cannot move to in place (down, or more than one minor up)"},
	{ExitUsage, is[*phase.UnknownPhaseError], "a --skip-phases name that is no phase"},
	{ExitJoin, is[*join.TimeoutError], "a join that did not complete within --timeout"},
	{ExitPreflight, is[*preflight.FailedError], "a failed preflight check"},
	{ExitUsage, is[*preflight.UnknownCheckError], "a misspelt --ignore-preflight-errors name"},
	{ExitUsage, is[*render.LiveRootError], "render into the host's own root"},
	{ExitFailure, is[*status.NotInstalledError], "status: not installed (not healthy to Ansible and monitoring)"},
	{ExitFailure, is[*status.DegradedError], "status: degraded"},
	{ExitUsage, isCobraUsageError, "cobra's own usage errors (unknown command, bad flag value)"},
}

// is reports whether err is, or wraps, an error of type T.
func is[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// usageError is bad command-line input.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// ExitCode maps an error from any package to the exit code it stands for.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	for _, row := range exitTable {
		if row.match(err) {
			if re := (*firstboot.RunError)(nil); row.code == -1 && errors.As(err, &re) {
				return re.ExitCode
			}
			return row.code
		}
	}
	return ExitFailure
}
