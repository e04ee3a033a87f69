package install

import (
	"context"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// userScriptWork runs the pool's custom script once per content, after the
// node is Ready (the join phase before it waited for that).
func (s *steps) userScriptWork() phase.Work {
	deps := func() (userscript.Deps, error) {
		name, err := NodeName(s.d.Root)
		if err != nil {
			return userscript.Deps{}, err
		}
		return userscript.Deps{Root: s.d.Root, Log: s.d.Log.WithField("phase", "userscript"), Config: s.d.Config, NodeName: name}, nil
	}
	return phase.Work{
		Satisfied: func(context.Context) (bool, error) {
			d, err := deps()
			if err != nil {
				return false, err
			}
			return userscript.Satisfied(d)
		},
		Run: func(ctx context.Context, rec phase.Recorder) error {
			d, err := deps()
			if err != nil {
				return err
			}
			return userscript.Run(ctx, d, rec)
		},
	}
}
