package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The file is decoded into a yaml.Node and walked against the Config type by
// reflection, instead of yaml.Unmarshal with KnownFields: that way every
// unknown key, duplicate and type error carries its line and dotted key path,
// all of them are reported rather than the first, and ${VAR} is expanded in
// values only, after YAML has decided where each value ends.

// problem is one line of a configuration error.
type problem struct {
	file string
	line int // 0 when no line applies
	msg  string
}

func (p *problem) Error() string {
	if p.line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.file, p.line, p.msg)
	}
	return p.file + ": " + p.msg
}

type decoder struct {
	file   string
	lookup func(string) (string, bool)
	probs  []*problem

	lines    map[string]int  // key path → line where it appears
	explicit map[string]bool // key paths given a non-empty value
	bad      map[string]bool // key paths already reported; validation skips them

	// offline: decode only the keys of offlineKeys (see LoadOffline).
	offline bool
}

func parse(data []byte, path string, lookup func(string) (string, bool)) (*Config, error) {
	return parseMode(data, path, lookup, false)
}

// parseMode is parse, reading only the keys of offlineKeys if offline.
func parseMode(data []byte, path string, lookup func(string) (string, bool), offline bool) (*Config, error) {
	d := &decoder{
		offline:  offline,
		file:     path,
		lookup:   lookup,
		lines:    map[string]int{},
		explicit: map[string]bool{},
		bad:      map[string]bool{},
	}
	if d.file == "" {
		d.file = "config"
	}
	c := &Config{}
	base := ""
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.file, err)
		}
		c.Path = abs
		base = filepath.Dir(abs)
	} else if wd, err := filepath.Abs("."); err == nil {
		base = wd
	}

	root, err := parseYAML(data)
	if err != nil {
		d.probs = append(d.probs, yamlProblem(d.file, err))
		return nil, d.err()
	}
	if root != nil {
		d.value(root, reflect.ValueOf(c).Elem(), "")
	}
	c.offline = d.offline
	c.setDefaults(func(p string) bool { return d.explicit[p] })
	d.resolve(c, base)
	c.validate(d.report)
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseYAML returns the single document's content, or nil for a file with
// no content.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: a second YAML document (---) is not allowed", extra.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlProblem turns yaml.v3's "yaml: line 3: ..." into "file:3: ...".
func yamlProblem(file string, err error) *problem {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg = m[2]
		if strings.Contains(msg, "found character that cannot start any token") {
			msg += " (a tab? YAML indents with spaces only)"
		}
		return &problem{file: file, line: line, msg: msg}
	}
	return &problem{file: file, msg: strings.TrimPrefix(msg, "yaml: ")}
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.probs = append(d.probs, &problem{file: d.file, line: line, msg: fmt.Sprintf(format, args...)})
}

// fail reports a problem with the value at path and keeps validation quiet
// about it, so one mistake yields one line.
func (d *decoder) fail(line int, path, format string, args ...any) {
	d.bad[path] = true
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errorf(line, "%s", msg)
}

// report is validation's sink: msg is a complete message about the key at
// path, placed at the line of that key or of its nearest ancestor.
func (d *decoder) report(path, msg string) {
	for p := path; ; p = parent(p) {
		if d.bad[p] {
			return
		}
		if p == "" {
			break
		}
	}
	line := 0
	for p := path; p != ""; p = parent(p) {
		if l, ok := d.lines[p]; ok {
			line = l
			break
		}
	}
	d.errorf(line, "%s", msg)
}

func (d *decoder) err() error {
	if len(d.probs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.probs, func(a, b *problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(d.probs))
	for i, p := range d.probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// parent returns the key path one level up: "watches[0].dir" → "watches[0]"
// → "watches" → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// value decodes n into v, the field at key path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch v.Kind() {
	case reflect.Pointer:
		// A present section is allocated even when empty, so that it is
		// validated (and found to lack its credentials) rather than
		// silently ignored; an empty *int stays nil for its default.
		if v.Type().Elem().Kind() != reflect.Struct && isEmpty(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.value(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func isEmpty(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind for "expected X, found Y". It never shows a
// scalar's value: it might be a secret in the wrong place.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list (- item lines)"
	default:
		return "a single value"
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if isEmpty(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "expected a mapping (key: value lines), found %s", describe(n))
		return
	}
	keys, index := fieldsOf(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, "a key %s is %s; keys are plain names", where(path), describe(k))
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			d.errorf(k.Line, "duplicate key %q %s (first at line %d)", key, where(path), first)
			continue
		}
		seen[key] = k.Line
		f, ok := index[key]
		if !ok {
			if k.ShortTag() == "!!merge" {
				d.errorf(k.Line, "merge keys (<<) are not supported %s; write the keys out", where(path))
				continue
			}
			d.errorf(k.Line, "unknown key %q %s (known: %s)", key, where(path), strings.Join(keys, ", "))
			continue
		}
		p := join(path, key)
		d.lines[p] = k.Line
		if d.offline && path == "" && !offlineKeys[key] {
			continue // known, but not read offline
		}
		d.value(val, v.FieldByIndex(f), p)
	}
}

// fieldsOf returns a struct's YAML keys in declaration order and their field
// index paths. The keys of an embedded struct tagged ",inline" (the vendor
// sections of Config and Account) are its own.
func fieldsOf(t reflect.Type) ([]string, map[string][]int) {
	var keys []string
	index := map[string][]int{}
	for i := range t.NumField() {
		key, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if f := t.Field(i); f.Anonymous && opts == "inline" && f.Type.Kind() == reflect.Struct {
			ks, idx := fieldsOf(f.Type)
			for _, k := range ks {
				keys = append(keys, k)
				index[k] = append([]int{i}, idx[k]...)
			}
			continue
		}
		if key == "" || key == "-" {
			continue
		}
		keys = append(keys, key)
		index[key] = []int{i}
	}
	return keys, index
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if isEmpty(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "expected a list (- item lines), found %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = e.Line
		d.value(e, s.Index(i), p)
	}
	v.Set(s)
}

// scalar decodes a single value into a string, Secret, int, bool, Duration
// or ByteSize field, after expanding ${VAR}. Errors quote the value except
// for string fields, which cannot fail on content and may hold secrets.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "expected a single value, found %s", describe(n))
		return
	}
	if isEmpty(n) {
		return
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.fail(n.Line, path, "%v", err)
		return
	}
	if s == "" {
		return
	}
	switch {
	case v.Type() == durationType:
		dur, err := parseDuration(s)
		if err != nil {
			d.fail(n.Line, path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
	case v.Type() == byteSizeType:
		b, err := parseByteSize(s)
		if err != nil {
			d.fail(n.Line, path, "%v", err)
			return
		}
		v.SetInt(int64(b))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
		if err != nil {
			d.fail(n.Line, path, "%q is not a whole number", s)
			return
		}
		v.SetInt(i)
	case v.Kind() == reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(n.Line, path, "%q is not a boolean; write true or false", s)
			return
		}
	default:
		panic(fmt.Sprintf("config: no decoder for %s (%s)", v.Type(), path))
	}
	d.explicit[path] = true
}

// expand replaces ${NAME} with the environment variable NAME and $$ with $.
// Any other $ is kept, so that "pa$word" needs no escaping.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`"${" without a closing "}"; write $$ for a literal $`)
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", fmt.Errorf("${%s} is not a valid variable reference: write ${NAME} with letters, digits and _, or $$ for a literal $", name)
			}
			val, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf("${%s} is not set in the environment", name)
			}
			b.WriteString(val)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
