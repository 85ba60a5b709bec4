package podspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The documents are first read into a tree of these values: *object,
// []any, string, json.Number, bool and nil. Numbers keep their text, so a
// string field can take `perm: 0600` as written.

// object is a mapping that keeps its keys in document order.
type object struct {
	keys []string
	vals []any
}

func (o *object) get(key string, fold bool) (any, bool) {
	for i, k := range o.keys {
		if k == key || (fold && strings.EqualFold(k, key)) {
			return o.vals[i], true
		}
	}
	return nil, false
}

const (
	maxInput = 8 << 20 // bytes of a pod file
	maxNodes = 200000  // values in its tree, aliases expanded
	maxDepth = 100
)

// readTree parses JSON (when the document starts with '{' or '[') or YAML.
func readTree(data []byte) (any, string, error) {
	if len(data) > maxInput {
		return nil, "", fmt.Errorf("pod file is %d bytes, more than the limit of %d", len(data), maxInput)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, "", errors.New("empty pod file")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		v, err := jsonTree(data)
		return v, "JSON", err
	}
	v, err := yamlTree(data)
	return v, "YAML", err
}

func jsonTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n := 0
	v, err := jsonValue(dec, &n, 0)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("unexpected data after the top-level value")
			if err2 != nil && !errors.Is(err2, io.EOF) {
				err = err2
			}
		}
	}
	if err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("unexpected end of input")
			off = int64(len(data))
		}
		line, col := lineCol(data, off)
		return nil, fmt.Errorf("malformed JSON at line %d, column %d: %v", line, col, err)
	}
	return v, nil
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func jsonValue(dec *json.Decoder, n *int, depth int) (any, error) {
	if *n++; *n > maxNodes {
		return nil, errors.New("too many values")
	}
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				for _, prev := range o.keys {
					if prev == k {
						return nil, fmt.Errorf("duplicate key %q", k)
					}
				}
				v, err := jsonValue(dec, n, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			l := []any{}
			for dec.More() {
				v, err := jsonValue(dec, n, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		}
		return nil, fmt.Errorf("unexpected %q", t)
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

func yamlTree(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty pod file")
		}
		return nil, fmt.Errorf("malformed YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("malformed YAML: line %d: a pod file holds one document, this one has more", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("malformed YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	n := 0
	return yamlValue(&doc, &n, 0)
}

func yamlValue(nd *yaml.Node, n *int, depth int) (any, error) {
	if *n++; *n > maxNodes {
		return nil, errors.New("malformed YAML: too many values (aliases expanded)")
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("malformed YAML: line %d: nested too deeply", nd.Line)
	}
	switch nd.Kind {
	case yaml.DocumentNode:
		if len(nd.Content) == 0 {
			return nil, errors.New("empty pod file")
		}
		return yamlValue(nd.Content[0], n, depth+1)
	case yaml.AliasNode:
		if nd.Alias == nil {
			return nil, fmt.Errorf("malformed YAML: line %d: unknown alias", nd.Line)
		}
		return yamlValue(nd.Alias, n, depth+1)
	case yaml.MappingNode:
		o := &object{}
		for i := 0; i+1 < len(nd.Content); i += 2 {
			kn := nd.Content[i]
			if kn.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("malformed YAML: line %d: a key must be a plain string", kn.Line)
			}
			for _, prev := range o.keys {
				if prev == kn.Value {
					return nil, fmt.Errorf("malformed YAML: line %d: duplicate key %q", kn.Line, kn.Value)
				}
			}
			v, err := yamlValue(nd.Content[i+1], n, depth+1)
			if err != nil {
				return nil, err
			}
			o.keys, o.vals = append(o.keys, kn.Value), append(o.vals, v)
		}
		return o, nil
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range nd.Content {
			v, err := yamlValue(c, n, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch nd.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := nd.Decode(&b); err != nil {
				return nil, fmt.Errorf("malformed YAML: line %d: %v", nd.Line, err)
			}
			return b, nil
		case "!!int", "!!float":
			return json.Number(nd.Value), nil
		default:
			return nd.Value, nil
		}
	}
	return nil, fmt.Errorf("malformed YAML: line %d: unexpected node", nd.Line)
}

// describe names a tree value's type for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case *object:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return fmt.Sprintf("%v", v)
	}
	return fmt.Sprintf("%T", v)
}
