package userscript

import "github.com/add2tkectl/add2tkectl/pkg/component"

// Component is the user script as a component: uninstall removes its logs
// with it (the runner appends to them, so the journal does not list them
// as files it wrote whole).
var Component component.Component = scriptComponent{}

type scriptComponent struct{}

func (scriptComponent) Name() string { return "userscript" }

func (scriptComponent) Footprint() component.Footprint {
	return component.Footprint{Marks: []string{ScriptPath}, Logs: []string{LogPath, OldLogPath}}
}
