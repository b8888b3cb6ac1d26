package aholo

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scandrop/scandrop/internal/dropname"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/vendors/internal/textenc"
)

// Marker is the file at a drop's root that makes it an Aholo job.
const Marker = "recon.yaml"

// recon is recon.yaml with its defaults applied.
type recon struct {
	Name           string
	Scene          string // "model" | "space"
	Quality        string // "LOW" | "NORMAL" | "HIGH" | "ULTRA"
	Public         bool
	Panorama       bool
	UploadSog      bool
	Cover          string   // "" = the first image resource
	coverLine      int      // line of the cover key, for problems
	Patterns       []string // nil = every image and video
	patternLines   []int
	DownloadAssets *bool // nil = the vendor's Config
}

var (
	scenes    = []string{"model", "space"}
	qualities = []string{"LOW", "NORMAL", "HIGH", "ULTRA"}
	accesses  = []string{"public", "private"}
)

// maxRecon bounds recon.yaml: a few settings and, at most, a list of some
// thousand resource names. YAML costs some hundred times its size to
// parse, so a larger file is refused unread.
const maxRecon = 256 << 10

// maxPatterns bounds the resources list: each pattern is matched against
// every file of the folder.
const maxPatterns = 10000

// readRecon reads the opened recon.yaml, refusing one larger than maxRecon
// before reading it.
func readRecon(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxRecon {
		return nil, fmt.Errorf("file too large (%d bytes, limit %d); recon.yaml holds a few settings", fi.Size(), maxRecon)
	}
	// Read one byte more than the size said, to notice a file that grew.
	data, err := io.ReadAll(io.LimitReader(f, maxRecon+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	if len(data) > maxRecon {
		return nil, fmt.Errorf("file too large (over %d bytes, limit %d); recon.yaml holds a few settings", len(data), maxRecon)
	}
	return data, nil
}

// parseRecon reads recon.yaml. Every problem names recon.yaml and its line
// ("recon.yaml:3"), compiler style, so that an editor can jump to it.
func parseRecon(data []byte, folder string) (recon, vendors.Problems) {
	r := recon{Name: folder, Scene: "model", Quality: "NORMAL"}
	var ps vendors.Problems
	at := func(line int) string { return Marker + ":" + strconv.Itoa(line) }

	data, err := textenc.UTF8(Marker, data)
	if err != nil {
		ps.Add(Marker, "%v", err)
		return r, ps
	}
	// Parsed into nodes, never into Go values: aliases stay references,
	// so an alias bomb ("billion laughs") costs its size, not its expansion.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if n, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(n, "line ") {
			msg = rest // yaml.v3's line is 0- or 1-based depending on the error
		}
		where := Marker
		if line := yamlErrorLine(data); line > 0 {
			where = at(line)
		}
		ps.Add(where, "not valid YAML: %s", msg)
		return r, ps
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		checkFolderName(&ps, folder)
		return r, ps // an empty marker: every default
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		checkFolderName(&ps, folder)
		return r, ps
	}
	if root.Kind != yaml.MappingNode {
		ps.Add(at(root.Line), "expected settings as \"key: value\" lines, found %s", describe(root))
		return r, ps
	}

	seen := map[string]int{}
	named := false // a name: was given (valid or not)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if prev, dup := seen[key]; dup {
			ps.Add(at(k.Line), "%s: set twice (first on line %d); keep one", key, prev)
			continue
		}
		seen[key] = k.Line
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			// "key:" with nothing after it keeps the default.
			continue
		}
		switch key {
		case "name":
			s, ok := scalar(&ps, at, key, v)
			if !ok {
				break
			}
			named = true
			s = strings.TrimSpace(s)
			if s == "" {
				ps.Add(at(v.Line), "name: empty; remove the key to use the folder name")
			} else if err := textsafe.CheckField(s, maxName); err != nil {
				ps.Add(at(v.Line), "name %v", err)
			} else {
				r.Name = s
			}
		case "scene":
			if s, ok := oneOf(&ps, at, key, v, scenes, strings.ToLower); ok {
				r.Scene = s
			}
		case "quality":
			if s, ok := oneOf(&ps, at, key, v, qualities, strings.ToUpper); ok {
				r.Quality = s
			}
		case "access":
			if s, ok := oneOf(&ps, at, key, v, accesses, strings.ToLower); ok {
				r.Public = s == "public"
			}
		case "panorama":
			r.Panorama, _ = boolean(&ps, at, key, v)
		case "upload_sog":
			r.UploadSog, _ = boolean(&ps, at, key, v)
		case "download_assets":
			if b, ok := boolean(&ps, at, key, v); ok {
				r.DownloadAssets = &b
			}
		case "cover":
			if s, ok := scalar(&ps, at, key, v); ok {
				if err := dropfs.CheckName(s); err != nil {
					ps.Add(at(v.Line), "cover: %q: %v; give a path relative to the folder, like images/001.jpg", s, err)
				} else {
					r.Cover, r.coverLine = s, v.Line
				}
			}
		case "resources":
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
				if len(items) > maxPatterns {
					ps.Add(at(v.Line), "resources: %d entries, more than %d; use wildcards such as images/*.jpg", len(items), maxPatterns)
					break
				}
				if len(items) == 0 {
					ps.Add(at(v.Line), "resources: empty list; remove the key to take every image and video in the folder")
					r.Patterns = []string{}
				}
			}
			for _, it := range items {
				s, ok := scalar(&ps, at, key, it)
				if !ok {
					continue
				}
				if _, err := path.Match(s, ""); err != nil {
					ps.Add(at(it.Line), "resources: %q is not a valid pattern (%v)", s, err)
					continue
				}
				if strings.HasPrefix(s, "/") || slices.Contains(strings.Split(s, "/"), "..") || strings.Contains(s, `\`) {
					ps.Add(at(it.Line), "resources: %q must be relative to the folder, with \"/\" and without \"..\"", s)
					continue
				}
				r.Patterns = append(r.Patterns, path.Clean(s))
				r.patternLines = append(r.patternLines, it.Line)
			}
		default:
			ps.Add(at(k.Line), "unknown key %q; known keys: name, scene, quality, access, panorama, upload_sog, cover, resources, download_assets", key)
		}
	}
	if !named {
		checkFolderName(&ps, folder)
	}
	return r, ps
}

// maxName bounds the project name sent to Aholo (name:, or the folder's
// name). The document states no limit; a project's name is a title.
const maxName = 200

// checkFolderName checks the folder's name, sent as the project name when
// recon.yaml gives none.
func checkFolderName(ps *vendors.Problems, folder string) {
	if err := textsafe.CheckField(folder, maxName); err != nil {
		ps.Add(Marker, "the folder's name, sent as the project name since name: is not set, %v by renaming the folder, or set name:", err)
	}
}

// maxErrorSearch bounds the bytes yamlErrorLine parses in all, so that a
// large broken file costs milliseconds, not minutes.
const maxErrorSearch = 256 << 10

// yamlErrorLine finds the line of a syntax error: the first line from which
// every longer prefix of the file fails to parse, i.e. where the broken
// construct starts. 0 if the file is too long to search.
func yamlErrorLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 500 || len(lines)*len(data) > maxErrorSearch {
		return 0
	}
	line := 0
	for k := len(lines); k >= 1; k-- {
		var n yaml.Node
		if yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) == nil {
			break
		}
		line = k
	}
	return line
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}

// scalar accepts a plain value: a string, or a number written where a
// string is meant (name: 2024).
func scalar(ps *vendors.Problems, at func(int) string, key string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		ps.Add(at(v.Line), "%s: expected a single value, found %s", key, describe(v))
		return "", false
	}
	return v.Value, true
}

func oneOf(ps *vendors.Problems, at func(int) string, key string, v *yaml.Node, allowed []string, norm func(string) string) (string, bool) {
	s, ok := scalar(ps, at, key, v)
	if !ok {
		return "", false
	}
	if n := norm(strings.TrimSpace(s)); slices.Contains(allowed, n) {
		return n, true
	}
	ps.Add(at(v.Line), "%s: %q is not one of %s", key, s, strings.Join(allowed, ", "))
	return "", false
}

func boolean(ps *vendors.Problems, at func(int) string, key string, v *yaml.Node) (bool, bool) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		var b bool
		if v.Decode(&b) == nil {
			return b, true
		}
	}
	if v.Kind == yaml.ScalarNode {
		ps.Add(at(v.Line), "%s: %q is not true or false", key, v.Value)
	} else {
		ps.Add(at(v.Line), "%s: expected true or false, found %s", key, describe(v))
	}
	return false, false
}

// listFiles returns the slash-separated names of every entry under dir that
// is not a directory, hidden and temporary ones (and everything under a
// hidden directory) left out, sorted. Symlinks are listed so that selecting
// one yields a clear problem rather than silence. links are the symlinks
// to folders among them: files behind them are not read (a drop is read
// without leaving it), and a drop that means them is told so.
func listFiles(dir string) (names, links []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if dropname.Ignored(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		if d.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				links = append(links, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	slices.Sort(names)
	slices.Sort(links)
	return names, links, err
}

// maxResourceName bounds a resource's name, its path in the drop, which
// is sent to Aholo. The document states no limit (its example is
// "input.jpg"); a path of a few folders deep fits many times over.
const maxResourceName = 1024

// selectResources applies the patterns (nil: every image and video) to the
// folder's files. A symlinked folder the selection would look into (any,
// without patterns) is named, as are selected names that differ only in
// case (one file on a case-insensitive share) and names Aholo must not be
// sent; none of those is selected.
func selectResources(r *recon, files, links []string, ps *vendors.Problems) []string {
	for _, l := range links {
		if r.Patterns == nil || slices.ContainsFunc(r.Patterns, func(p string) bool { return through(p, l) }) {
			ps.Add(l, "%s/ is a symlink; scandrop does not follow links out of a drop; copy the files in", l)
		}
	}
	var out []string
	if r.Patterns == nil {
		for _, f := range files {
			if _, ok := media.KindOf(f); ok {
				out = append(out, f)
			}
		}
		if len(out) == 0 && len(links) == 0 {
			ps.Add("", "no images (jpg, jpeg, png) or videos (mp4, mov) in the folder; add the captures, or list them under resources: in %s", Marker)
		}
		return usable(out, ps)
	}
	seen := map[string]bool{}
	for i, pat := range r.Patterns {
		// A wildcard takes only images and videos (images/* skips a
		// readme beside the photos); a plain name is taken as asked and
		// checked like any resource.
		wild := strings.ContainsAny(pat, "*?[")
		matched := 0
		for _, f := range files {
			if ok, _ := path.Match(pat, f); !ok || f == Marker {
				continue
			}
			if _, isMedia := media.KindOf(f); wild && !isMedia {
				continue
			}
			matched++
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
		if matched == 0 {
			at := Marker + ":" + strconv.Itoa(r.patternLines[i])
			if f, ok := caseMatch(pat, files); ok {
				ps.Add(at, "resources: %q matches no file; %s differs only in case (patterns match case exactly); write the pattern as the files are named", pat, f)
			} else {
				ps.Add(at, "resources: %q matches no file", pat)
			}
		}
	}
	return usable(out, ps)
}

// through reports whether pattern p looks into (or names) the folder link:
// some leading elements of p match link.
func through(p, link string) bool {
	elems := strings.Split(p, "/")
	for k := 1; k <= len(elems); k++ {
		if ok, _ := path.Match(strings.Join(elems[:k], "/"), link); ok {
			return true
		}
	}
	return false
}

// caseMatch returns a file pattern pat would match if case were ignored.
func caseMatch(pat string, files []string) (string, bool) {
	lp := strings.ToLower(pat)
	for _, f := range files {
		if ok, _ := path.Match(lp, strings.ToLower(f)); ok && f != Marker {
			return f, true
		}
	}
	return "", false
}

// usable keeps the selected names that can be sent to Aholo: no two that
// differ only in case, none with control characters or bidi controls,
// none over maxResourceName.
func usable(names []string, ps *vendors.Problems) []string {
	out := names[:0:0]
	folded := map[string]string{}
	for _, n := range names {
		if prev, dup := folded[strings.ToLower(n)]; dup {
			ps.Add(n, "differs only in case from %s; on case-insensitive systems they are one file; keep one", prev)
			continue
		}
		folded[strings.ToLower(n)] = n
		if dropfs.CheckName(n) != nil {
			out = append(out, n) // probe says what is wrong with it
			continue
		}
		if err := textsafe.CheckField(n, maxResourceName); err != nil {
			ps.Add(n, "the name, sent to Aholo, %v by renaming the file", err)
			continue
		}
		out = append(out, n)
	}
	return out
}
