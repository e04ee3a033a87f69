package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// isJSON says whether a document is JSON: YAML parsers choke on some valid
// JSON (tab indentation, the \/ escape), so JSON is read as JSON.
func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// jsonNode reads one JSON document into a YAML node tree, token by token, so
// that JSON and YAML go through the same schema check (duplicate keys and
// line numbers included).
func jsonNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// The line of the next token: past the separators the decoder has not read yet.
	line := func() int {
		off := int(dec.InputOffset())
		for off < len(data) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
			off++
		}
		return 1 + bytes.Count(data[:off], []byte("\n"))
	}
	var read func(depth int) (*yaml.Node, error)
	read = func(depth int) (*yaml.Node, error) {
		if depth > 100 {
			return nil, errors.New("nested more than 100 levels deep")
		}
		ln := line()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch v := tok.(type) {
		case json.Delim:
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: ln}
			end := json.Delim('}')
			if v == '[' {
				n.Kind, n.Tag, end = yaml.SequenceNode, "!!seq", ']'
			}
			for dec.More() {
				if n.Kind == yaml.MappingNode {
					kl := line()
					k, err := dec.Token()
					if err != nil {
						return nil, err
					}
					ks, _ := k.(string)
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ks, Line: kl})
				}
				e, err := read(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, e)
			}
			if t, err := dec.Token(); err != nil || t != end {
				return nil, fmt.Errorf("line %d: unterminated %v", line(), v)
			}
			return n, nil
		case string:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: ln}, nil
		case json.Number:
			tag := "!!int"
			if strings.ContainsAny(string(v), ".eE") {
				tag = "!!float"
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v), Line: ln}, nil
		case bool:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v), Line: ln}, nil
		case nil:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: ln}, nil
		}
		return nil, fmt.Errorf("unexpected %v", tok)
	}
	n, err := read(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value; put one NodePoolJoin in the file")
	}
	return n, nil
}
