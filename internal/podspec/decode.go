package podspec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// problems collects errors and warnings, each naming a field path.
type problems struct {
	errs  []string
	warns []string
}

func (p *problems) errorf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	p.errs = append(p.errs, msg)
}

func (p *problems) warnf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	p.warns = append(p.warns, msg)
}

func field(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// ignored marks a field that is read and dropped with a warning (when set):
// ignoring it cannot make the pod misbehave. Its `why` tag says why.
type ignored struct{}

// quiet marks a field that is dropped without a word (metadata).
type quiet struct{}

// refused marks a field that Hyper cannot honour: setting it is an error
// (its `why` tag says why), leaving it empty is fine.
type refused struct{}

// treeDecoder is implemented by types that read themselves from the tree.
type treeDecoder interface {
	decodeTree(d *decoder, path string, v any)
}

// decoder fills structs from a tree by their json tags; with fold the keys
// match case-insensitively (the Hyper pod file).
type decoder struct {
	fold bool
	p    *problems
}

var (
	ignoredType = reflect.TypeFor[ignored]()
	quietType   = reflect.TypeFor[quiet]()
	refusedType = reflect.TypeFor[refused]()
)

func (d *decoder) decode(path string, v any, rv reflect.Value) {
	if rv.CanAddr() {
		if td, ok := rv.Addr().Interface().(treeDecoder); ok {
			td.decodeTree(d, path, v)
			return
		}
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if v == nil && rv.Type().Elem().Kind() != reflect.Struct {
			return
		}
		nv := reflect.New(rv.Type().Elem())
		d.decode(path, v, nv.Elem())
		rv.Set(nv)
	case reflect.Struct:
		if v == nil {
			return
		}
		d.decodeStruct(path, v, rv)
	case reflect.Slice:
		if v == nil {
			return
		}
		l, ok := v.([]any)
		if !ok {
			d.p.errorf(path, "expected a list, got %s", describe(v))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(l), len(l))
		for i, e := range l {
			d.decode(index(path, i), e, s.Index(i))
		}
		rv.Set(s)
	case reflect.Map:
		if v == nil {
			return
		}
		o, ok := v.(*object)
		if !ok {
			d.p.errorf(path, "expected an object, got %s", describe(v))
			return
		}
		m := reflect.MakeMapWithSize(rv.Type(), len(o.keys))
		for i, k := range o.keys {
			ev := reflect.New(rv.Type().Elem()).Elem()
			d.decode(field(path, k), o.vals[i], ev)
			m.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), ev)
		}
		rv.Set(m)
	case reflect.String:
		s, ok := scalarText(v)
		if !ok {
			d.p.errorf(path, "expected a string, got %s", describe(v))
			return
		}
		rv.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := intValue(v)
		if !ok || rv.OverflowInt(n) {
			d.p.errorf(path, "expected an integer, got %s", describe(v))
			return
		}
		rv.SetInt(n)
	case reflect.Bool:
		switch b := v.(type) {
		case bool:
			rv.SetBool(b)
		case string:
			pb, err := strconv.ParseBool(b)
			if err != nil {
				d.p.errorf(path, "expected true or false, got %s", describe(v))
				return
			}
			rv.SetBool(pb)
		case nil:
		default:
			d.p.errorf(path, "expected true or false, got %s", describe(v))
		}
	case reflect.Interface:
		if v != nil {
			rv.Set(reflect.ValueOf(v))
		}
	default:
		d.p.errorf(path, "cannot read a %s", rv.Type())
	}
}

func (d *decoder) decodeStruct(path string, v any, rv reflect.Value) {
	o, ok := v.(*object)
	if !ok {
		d.p.errorf(path, "expected an object, got %s", describe(v))
		return
	}
	t := rv.Type()
	seen := map[int]string{}
	for i, k := range o.keys {
		fp := field(path, k)
		fi := -1
		for j := 0; j < t.NumField(); j++ {
			name, _, _ := strings.Cut(t.Field(j).Tag.Get("json"), ",")
			if name == k || (d.fold && strings.EqualFold(name, k)) {
				fi = j
				break
			}
		}
		if fi < 0 {
			d.p.errorf(fp, "unknown field")
			continue
		}
		if prev, dup := seen[fi]; dup {
			d.p.errorf(fp, "duplicate field (also given as %q)", prev)
			continue
		}
		seen[fi] = k
		f := t.Field(fi)
		val := o.vals[i]
		switch f.Type {
		case quietType:
		case ignoredType:
			if !isEmpty(val) {
				d.p.warnf(fp, "ignored: %s", f.Tag.Get("why"))
			}
		case refusedType:
			if !isEmpty(val) {
				d.p.errorf(fp, "not supported: %s", f.Tag.Get("why"))
			}
		default:
			d.decode(fp, val, rv.Field(fi))
		}
	}
}

// isEmpty: null, "", 0, false, [] or {}.
func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case []any:
		return len(v) == 0
	case *object:
		return len(v.keys) == 0
	}
	return false
}

// scalarText is the text of a string, number or boolean.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// intValue reads an integer from a number or a numeric string.
func intValue(v any) (int64, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = string(v)
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return n, true
	}
	// 1e3, 2.0
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) || f > 1<<53 || f < -(1<<53) {
		return 0, false
	}
	return int64(f), true
}
