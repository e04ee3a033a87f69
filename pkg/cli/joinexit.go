package cli

import (
	"errors"

	"github.com/add2tkectl/add2tkectl/pkg/join"
)

func init() {
	// A join that did not complete within --timeout: exit 6 (DESIGN section 2).
	exitMappers = append(exitMappers, func(err error) (int, bool) {
		var te *join.TimeoutError
		if errors.As(err, &te) {
			return ExitJoin, true
		}
		return 0, false
	})
}
