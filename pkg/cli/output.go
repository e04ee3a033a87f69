package cli

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// writeResult prints v on stdout as one JSON or YAML object (for -o json|yaml).
func writeResult(g *Globals, v any) error {
	switch g.Output {
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = g.Stdout.Write(b)
		return err
	case "json":
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return fmt.Errorf("output format %q is not a machine format", g.Output)
}
