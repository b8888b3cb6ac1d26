package realsee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/vendors/internal/textenc"
)

// ManifestName is the drop marker and the archive's configuration file.
const ManifestName = "manifest.json"

// manifest is manifest.json as the document defines it (version "1.0").
type manifest struct {
	Version     string         `json:"version"`
	FloorMap    map[string]int `json:"floor_map"`
	ProjectName string         `json:"project_name"`
	ScanList    []manifestScan `json:"scan_list"`
}

type manifestScan struct {
	ID    string `json:"id"`
	Floor *int   `json:"floor"`
}

// scanImage is one panorama of a validated drop.
type scanImage struct {
	ID       string // scan id
	File     string // path in the drop, slash-separated (images/<id>.jpg, or a case variant)
	ZipName  string // images/<id>.jpg
	Size     int64
	ModTime  int64        // Unix nanoseconds; with Size, tells whether the file changed
	Stamp    dropfs.Stamp // as validated; packaging and upload check the file against it
	Width    int
	Height   int
	FileMode fs.FileMode
}

// drop is a validated Realsee drop.
type drop struct {
	dir         string
	projectName string // as written; {{timestamp}} is replaced at submit
	manifest    fileRef
	images      []scanImage
}

type fileRef struct {
	Size    int64
	ModTime int64
	Stamp   dropfs.Stamp
}

// maxManifest bounds manifest.json: a project of thousands of scans fits in
// far less, and an accidental multi-GiB file must not be read into memory.
// Decoding costs a few times the file's size, so the bound keeps a hostile
// manifest well within the daemon's memory.
const maxManifest = 2 << 20

// maxScans and maxFloors bound the lists a manifest may hold: each scan is
// a panorama to check and upload, and the largest real projects have a few
// thousand. Beyond them the manifest is refused before anything is checked.
const (
	maxScans  = 10000
	maxFloors = 1000
)

// validate checks a drop offline and reports every problem it finds.
func validate(dir string) (*drop, error) {
	var ps vendors.Problems
	fail := func() (*drop, error) { return nil, ps.Err("realsee: validate") }

	f, fi, err := dropfs.Open(dir, ManifestName)
	if err != nil {
		ps.Add(ManifestName, "%s", describeOpenErr(err))
		return fail()
	}
	data, err := readManifest(f, fi.Size())
	f.Close()
	if err != nil {
		ps.Add(ManifestName, "%v", err)
		return fail()
	}
	m, err := parseManifest(data)
	if err != nil {
		ps.Add(ManifestName, "%v", err)
		return fail()
	}
	d := &drop{dir: dir, projectName: m.ProjectName, manifest: fileRef{fi.Size(), fi.ModTime().UnixNano(), dropfs.StampOf(fi)}}
	checkProjectName(&ps, m.ProjectName, filepath.Base(dir))

	if m.Version != "1.0" {
		if m.Version == "" {
			ps.Add(ManifestName, `"version" is missing; set it to "1.0"`)
		} else {
			ps.Add(ManifestName, `version %q is not supported; set it to "1.0"`, m.Version)
		}
	}
	if len(m.FloorMap) == 0 {
		ps.Add(ManifestName, `"floor_map" is missing or empty; for one floor write {"0": 0}`)
	}
	for k := range m.FloorMap {
		if _, err := strconv.Atoi(k); err != nil {
			ps.Add(ManifestName, "floor_map key %q is not a floor number", k)
		}
	}
	if len(m.ScanList) == 0 {
		ps.Add(ManifestName, `"scan_list" is missing or empty: list every panorama as {"id": "<image name without .jpg>", "floor": 0}`)
	}

	listing, linked := imageListing(dir, &ps)
	seen := map[string]int{}
	folded := map[string]int{} // ids folded to lower case
	for i, s := range m.ScanList {
		where := fmt.Sprintf("scan_list[%d]", i)
		if s.Floor == nil {
			ps.Add(ManifestName, `%s (id %q): "floor" is missing`, where, s.ID)
		} else if _, ok := m.FloorMap[strconv.Itoa(*s.Floor)]; !ok && len(m.FloorMap) > 0 {
			ps.Add(ManifestName, "%s (id %q): floor %d is not in floor_map; add \"%d\": <floor number> to floor_map", where, s.ID, *s.Floor, *s.Floor)
		}
		if err := checkID(s.ID); err != nil {
			ps.Add(ManifestName, "%s: id %q: %v", where, s.ID, err)
			continue
		}
		if j, dup := seen[s.ID]; dup {
			ps.Add(ManifestName, "%s: id %q is already used by scan_list[%d]; ids must be unique", where, s.ID, j)
			continue
		}
		seen[s.ID] = i
		if j, dup := folded[strings.ToLower(s.ID)]; dup {
			// Their images would be one file on a case-insensitive share
			// (Windows, macOS, most NAS), and the zip would hold both.
			ps.Add(ManifestName, "%s: id %q differs only in case from %q (scan_list[%d]); on case-insensitive systems they name one file, so rename one of them",
				where, s.ID, m.ScanList[j].ID, j)
			continue
		}
		folded[strings.ToLower(s.ID)] = i
		if linked {
			// Named with each scan's image, which is what is missing.
			ps.Add("images/"+s.ID+".jpg", "images/ is a symlink; scandrop does not follow links out of a drop; copy the images in")
			continue
		}

		want := "images/" + s.ID + ".jpg"
		file, ok := pickImage(&ps, s.ID, listing[strings.ToLower(s.ID)])
		if !ok {
			continue
		}
		if file == "" {
			file = want // missing: checkPanorama says so
		}
		img, err := checkPanorama(dir, file)
		if err != nil {
			ps.Add(file, "%v", err)
			continue
		}
		img.ID, img.ZipName = s.ID, want
		d.images = append(d.images, img)
	}
	if err := ps.Err("realsee: validate"); err != nil {
		return nil, err
	}
	return d, nil
}

// readManifest reads at most maxManifest bytes of manifest.json, whose
// size the directory says is size: a file larger than that, or one that
// grows past it while being read, is refused before it is read into memory.
func readManifest(f io.Reader, size int64) ([]byte, error) {
	tooLarge := func(n int64) error {
		return fmt.Errorf("file too large (%d bytes, limit %d): larger than a manifest of %d scans needs; is it really a manifest?", n, maxManifest, maxScans)
	}
	if size > maxManifest {
		return nil, tooLarge(size)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	if len(data) > maxManifest {
		return nil, tooLarge(int64(len(data)))
	}
	return data, nil
}

// manifestBOM returns the length of the UTF-8 byte order mark f starts
// with: 3, or 0 without one.
func manifestBOM(f io.ReaderAt) int64 {
	var b [3]byte
	if n, _ := f.ReadAt(b[:], 0); n == 3 && bytes.Equal(b[:], []byte{0xEF, 0xBB, 0xBF}) {
		return 3
	}
	return 0
}

// parseManifest decodes strictly: unknown keys are reported, since a typo
// ("scan_lst") would otherwise turn into a confusing "scan_list is empty".
// A UTF-8 byte order mark (Windows Notepad writes one) is skipped; UTF-16
// text is refused with the fix, as the vendor reads UTF-8 only.
func parseManifest(data []byte) (*manifest, error) {
	data, err := textenc.UTF8(ManifestName, data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty file; see examples/realsee for a manifest")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8 text; save the manifest as UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m manifest
	if err := dec.Decode(&m); err != nil {
		return nil, jsonErr(data, err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value in the file")
	}
	if len(m.ScanList) > maxScans {
		return nil, fmt.Errorf("scan_list has %d scans, more than the %d a project may have; split the project", len(m.ScanList), maxScans)
	}
	if len(m.FloorMap) > maxFloors {
		return nil, fmt.Errorf("floor_map has %d floors, more than %d; list the building's floors only", len(m.FloorMap), maxFloors)
	}
	return &m, nil
}

// jsonErr adds the line and column to a JSON error and rewrites the
// decoder's wording into something an operator can act on.
func jsonErr(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("line %d, column %d: invalid JSON: %v", line, col, syn)
	case errors.As(err, &typ) && typ.Field == "":
		// The whole file is the wrong kind of value (a list, a string):
		// the decoder would name a Go type.
		return fmt.Errorf("the manifest must be a JSON object {\"version\": \"1.0\", ...}, not a JSON %s; see examples/realsee", typ.Value)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		return fmt.Errorf("line %d, column %d: %q must be %s, not a JSON %s", line, col, typ.Field, typeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the file ends too early (truncated?)")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Errorf("unknown key %s (known: version, floor_map, project_name, scan_list; a scan has id and floor)", field)
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func typeName(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "int", strings.HasSuffix(t, "int"):
		return "a whole number"
	case strings.HasPrefix(t, "map"):
		return "an object"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return t
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// checkID reports why a scan id cannot name a file in images/.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if err := dropfs.CheckName(id); err != nil {
		return err
	}
	if strings.Contains(id, "/") {
		return errors.New(`"/" not allowed: an id names a file in images/`)
	}
	if strings.HasPrefix(id, ".") {
		return errors.New("an id must not start with '.'")
	}
	if err := textsafe.CheckField(id, dropfs.MaxNameBytes); err != nil {
		return err // C1 controls, bidi overrides: the id is sent in manifest.json
	}
	if len(id)+len(".jpg") > dropfs.MaxNameBytes {
		return fmt.Errorf("longer than %d bytes", dropfs.MaxNameBytes-len(".jpg"))
	}
	return nil
}

// imageListing maps lower-cased stems to the image files in images/ with a
// .jpg or .jpeg extension in any case, sorted, for drops made on
// case-insensitive systems. Two files whose names differ only in case are
// a problem: a case-insensitive share keeps one of them. linked reports
// an images/ that is a symlink, through which scandrop reads nothing.
func imageListing(dir string, ps *vendors.Problems) (listing map[string][]string, linked bool) {
	listing = map[string][]string{}
	fi, err := os.Lstat(filepath.Join(dir, "images"))
	if err != nil {
		return listing, false
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return listing, true
	}
	if !fi.IsDir() {
		return listing, false
	}
	ents, err := os.ReadDir(filepath.Join(dir, "images"))
	if err != nil {
		return listing, false
	}
	byFold := map[string]string{}
	for _, e := range ents { // sorted by name
		name := e.Name()
		if prev, dup := byFold[strings.ToLower(name)]; dup {
			ps.Add("images/"+name, "differs only in case from images/%s; on case-insensitive systems they are one file; keep one", prev)
		}
		byFold[strings.ToLower(name)] = name
		ext := strings.ToLower(path.Ext(name))
		if ext == ".jpg" || ext == ".jpeg" {
			stem := strings.ToLower(strings.TrimSuffix(name, path.Ext(name)))
			listing[stem] = append(listing[stem], "images/"+name)
		}
	}
	return listing, false
}

// pickImage chooses the file of scan id among the images whose stem is id
// in any case (candidates). The stem must be the id exactly: the vendor
// matches ids to file names, and a case-insensitive share would too; only
// the extension may be .JPG or .jpeg, zipped as .jpg. It returns "" when
// there is none, and false after adding a problem.
func pickImage(ps *vendors.Problems, id string, candidates []string) (string, bool) {
	var exact []string
	for _, c := range candidates {
		if strings.TrimSuffix(path.Base(c), path.Ext(c)) == id {
			exact = append(exact, c)
		}
	}
	switch {
	case len(exact) > 1:
		ps.Add(exact[1], "scan id %q has several images: %s; keep one", id, strings.Join(exact, ", "))
		return "", false
	case len(exact) == 1:
		return exact[0], true
	case len(candidates) > 0:
		ps.Add("images/"+id+".jpg", "missing; %s exists, whose name differs in case from the scan id %q; rename the file or the id so they match exactly", candidates[0], id)
		return "", false
	}
	return "", true
}

// maxProjectName bounds project_name (and the folder name used instead).
// The document states no limit; Aholo's recon.yaml name takes 200
// characters, and a project's name is a title, not a text.
const maxProjectName = 200

// checkProjectName checks the name sent to the vendor: project_name, or
// the folder's name when it is not set.
func checkProjectName(ps *vendors.Problems, name, folder string) {
	if strings.TrimSpace(name) != "" {
		if err := textsafe.CheckField(name, maxProjectName); err != nil {
			ps.Add(ManifestName, "project_name %s", err)
		}
		return
	}
	if err := textsafe.CheckField(folder, maxProjectName); err != nil {
		ps.Add(ManifestName, "the folder's name, sent as the project name since project_name is not set, %s by renaming the folder, or set project_name", err)
	}
}

// What a panorama's header may claim. The document asks for equirectangular
// JPEG panoramas and states no resolution limit; 360° cameras give 6K to
// 11K (8192x4096 is the usual export), and 16K leaves room for stitched
// DSLR panoramas. A header above that is damaged or crafted, and the vendor
// would be sent a size the image data does not have.
const (
	maxPanoramaWidth  = 16384
	maxPanoramaHeight = maxPanoramaWidth / 2
	// maxPixelsPerByte: JPEG spends at least a bit or two on every 8x8
	// block of every channel, so even a blank panorama costs a byte per
	// some 300 pixels; a header claiming more pixels per byte of file
	// describes image data the file does not hold.
	maxPixelsPerByte = 1000
)

// checkClaim refuses a frame size beyond the limits above, or one that the
// file is too small to hold.
func checkClaim(w, h int, size int64) error {
	if w > maxPanoramaWidth || h > maxPanoramaHeight {
		return fmt.Errorf("the JPEG header claims %dx%d pixels, over the limit of %dx%d (16K; a damaged or crafted header, or a panorama larger than any camera makes); export the panorama at %dx%d or smaller, e.g. 8192x4096",
			w, h, maxPanoramaWidth, maxPanoramaHeight, maxPanoramaWidth, maxPanoramaHeight)
	}
	if int64(w)*int64(h) > size*maxPixelsPerByte {
		return fmt.Errorf("the JPEG header claims %dx%d pixels, but the file has only %d bytes (over %d pixels per byte, more than JPEG compresses): the header does not match the image data; export the panorama again",
			w, h, size, maxPixelsPerByte)
	}
	return nil
}

// aspectTolerance allows a pixel or so of rounding in a 2:1 panorama.
const aspectTolerance = 0.01

// checkPanorama verifies that file is a complete JPEG with the 2:1 aspect
// of an equirectangular panorama.
func checkPanorama(dir, file string) (scanImage, error) {
	f, fi, err := dropfs.Open(dir, file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return scanImage{}, errors.New("missing: every scan id needs images/<id>.jpg")
		}
		return scanImage{}, errors.New(describeOpenErr(err))
	}
	defer f.Close()
	img := scanImage{File: file, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Stamp: dropfs.StampOf(fi), FileMode: fi.Mode()}
	if fi.Size() == 0 {
		return img, errors.New("empty file (0 bytes); copy it again")
	}
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	if kind := sniff(head[:n]); kind != "jpeg" {
		return img, fmt.Errorf("not a JPEG (%s); export it as JPEG", kind)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return img, err
	}
	cfg, err := jpeg.DecodeConfig(f)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return img, errors.New("truncated JPEG (ends inside its header); the copy is incomplete, copy it again")
	}
	if err != nil {
		return img, fmt.Errorf("damaged JPEG header: %v", err)
	}
	img.Width, img.Height = cfg.Width, cfg.Height
	if err := checkComplete(f, fi.Size()); err != nil {
		return img, err
	}
	if err := checkClaim(cfg.Width, cfg.Height, fi.Size()); err != nil {
		return img, err
	}
	if cfg.Height == 0 || abs(float64(cfg.Width)/float64(cfg.Height)-2) > 2*aspectTolerance {
		return img, fmt.Errorf("%dx%d is not a 2:1 equirectangular panorama (e.g. 8192x4096); export the full 360° panorama", cfg.Width, cfg.Height)
	}
	return img, nil
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		return "starts with a PNG header"
	case bytes.HasPrefix(b, []byte("GIF8")):
		return "starts with a GIF header"
	case bytes.HasPrefix(b, []byte("RIFF")):
		return "starts with a RIFF/WebP header"
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		return "starts with an HEIC/MP4 header"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "starts with a TIFF header"
	}
	return "unknown format"
}

// checkComplete looks for the end-of-image marker of the main image, so a
// half-copied JPEG is refused here rather than by the vendor an hour later.
// Most files end with it; files with a trailer (some 360° cameras append
// metadata) are scanned from the start of the entropy-coded data.
func checkComplete(f *os.File, size int64) error {
	var tail [2]byte
	if _, err := f.ReadAt(tail[:], size-2); err == nil && tail[0] == 0xFF && tail[1] == 0xD9 {
		return nil
	}
	sos, err := findSOS(f)
	if err != nil {
		return err
	}
	br := io.NewSectionReader(f, sos, size-sos)
	buf := make([]byte, 64<<10)
	prevFF := false
	for {
		n, err := br.Read(buf)
		for _, c := range buf[:n] {
			if prevFF && c == 0xD9 {
				return nil
			}
			prevFF = c == 0xFF
		}
		if err == io.EOF {
			return errors.New("truncated JPEG (no end-of-image marker); the copy is incomplete, copy it again")
		}
		if err != nil {
			return err
		}
	}
}

// findSOS walks the JPEG marker segments to the start of scan.
func findSOS(f *os.File) (int64, error) {
	off := int64(2)
	var hdr [4]byte
	for i := 0; i < 1000; i++ {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return 0, errors.New("truncated JPEG (ends inside its header)")
		}
		if hdr[0] != 0xFF {
			return 0, fmt.Errorf("damaged JPEG: bad marker at byte %d", off)
		}
		marker := hdr[1]
		if marker == 0xFF { // fill byte
			off++
			continue
		}
		seg := int64(hdr[2])<<8 | int64(hdr[3])
		if marker == 0xDA {
			return off + 2 + seg, nil
		}
		off += 2 + seg
	}
	return 0, errors.New("damaged JPEG: too many header segments")
}

func describeOpenErr(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read (permission denied); let the scandrop service account read it"
	}
	return err.Error()
}
