package install

import (
	"context"
	"errors"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

func (s *steps) userScriptPhase() phase.Phase {
	return phase.Phase{
		Name:        "userscript",
		Description: "run the node pool's user script",
		Satisfied: func(context.Context) (bool, error) {
			return s.d.Config.NodePool.UserScript == "", nil
		},
		Run: func(context.Context, phase.Recorder) error {
			return errors.New("not implemented yet")
		},
	}
}
