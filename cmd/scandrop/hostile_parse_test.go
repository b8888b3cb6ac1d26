//go:build linux

package main

// Hostile drops, class 1 of issue 12: files whose headers claim more than
// they hold (MP4/MOV boxes of gigabytes, JPEG segments and PNG chunks that
// run past the end, marker files of gigabytes as sparse files, YAML alias
// bombs, nesting without end, UTF-16 markers). Each must land in failed/
// intact with result.json naming the file and the problem, beside good
// drops that go through, while the daemon's peak memory stays small; and
// `scandrop check` on each stays as small.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// hostileMemLimit is the peak resident memory allowed to the daemon and
// to `scandrop check` on these drops, in KiB.
const hostileMemLimit = 200 << 10

type hostileCase struct {
	name  string
	files map[string][]byte
	// sparse extends files to these sizes with a hole: a multi-GB file
	// that takes no room on disk.
	sparse map[string]int64
	file   string   // the file the problem must name
	want   []string // parts of the message
}

// writeHostile makes the drop of c in dir.
func writeHostile(t testing.TB, dir string, c hostileCase) {
	t.Helper()
	writeTree(t, dir, c.files)
	for name, size := range c.sparse {
		if err := os.Truncate(filepath.Join(dir, filepath.FromSlash(name)), size); err != nil {
			t.Fatal(err)
		}
	}
}

// intactHostile reports the first difference between dir and the drop of
// c: the same files, the same bytes, sparse files still of their size,
// still starting with their bytes and still holes (nothing wrote to them).
func intactHostile(dir string, c hostileCase) error {
	for name, want := range c.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		size, ok := c.sparse[name]
		if !ok {
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				return fmt.Errorf("%s: changed (%v)", name, err)
			}
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return err
		}
		if st.Size != size || st.Blocks*512 > 1<<20 {
			return fmt.Errorf("%s: %d bytes in %d blocks, want %d bytes, sparse", name, st.Size, st.Blocks, size)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		head := make([]byte, len(want))
		_, err = io.ReadFull(f, head)
		f.Close()
		if err != nil || !bytes.Equal(head, want) {
			return fmt.Errorf("%s: its start changed (%v)", name, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		top := e.Name()
		if top == "result.json" || top == ".scandrop" {
			continue
		}
		found := false
		for name := range c.files {
			found = found || strings.SplitN(name, "/", 2)[0] == top
		}
		if !found {
			return fmt.Errorf("%s: unexpected", top)
		}
	}
	return nil
}

func utf16With(s string, bigEndian bool) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	b := order.AppendUint16(nil, 0xFEFF)
	for _, r := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, r)
	}
	return b
}

func hostileCases(t testing.TB) []hostileCase {
	photo := smallJPEG(t, 64, 48, 2)
	pano := smallJPEG(t, 64, 32, 1)
	png := testmedia.PNG(40, 30, 1)
	mp4 := testmedia.MP4Bytes(640, 480, 3000, 4096)
	const gb15, gb3 = 1_500_000_000, 3_000_000_000

	withClip := func(name string, data []byte) map[string][]byte {
		return map[string][]byte{"recon.yaml": []byte("cover: photos/001.jpg\n"), "photos/001.jpg": photo, name: data}
	}
	withRecon := func(recon []byte) map[string][]byte {
		return map[string][]byte{"recon.yaml": recon, "photos/001.jpg": photo}
	}
	withManifest := func(m []byte) map[string][]byte {
		return map[string][]byte{"manifest.json": m, "images/pano-00.jpg": pano}
	}
	oneScan := string(manifestWith(`{"id":"pano-00","floor":0}`))
	// A JPEG whose first segment declares 65535 bytes and whose file ends
	// a few bytes later.
	hugeSegment := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, "Exif\x00\x00MM\x00*"...)
	largesize := append([]byte{0, 0, 0, 1, 'f', 't', 'y', 'p', 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0}, mp4[16:]...)
	var bomb strings.Builder
	bomb.WriteString("xa: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i, c := range "bcdefghi" {
		prev := string("abcdefghi"[i])
		bomb.WriteString("x" + string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
	}
	bomb.WriteString("resources: *i\n")

	return []hostileCase{
		// MP4/MOV boxes declaring more than they hold, in every kind of box.
		{name: "h-mov-hdlr-1.5GB", files: withClip("clips/walk.mov", testmedia.Declare(mp4, "hdlr", gb15)), file: "clips/walk.mov", want: []string{`box "hdlr"`, "1500000000 bytes", "corrupt video"}},
		{name: "h-mov-hdlr-sparse-3GB", files: withClip("clips/walk.mov", testmedia.HugeHeaderBox("hdlr", gb15)), sparse: map[string]int64{"clips/walk.mov": gb3}, file: "clips/walk.mov", want: []string{`box "hdlr"`, "1500000000 bytes"}},
		{name: "h-mov-tkhd-sparse-3GB", files: withClip("clips/walk.mov", testmedia.HugeHeaderBox("tkhd", gb15)), sparse: map[string]int64{"clips/walk.mov": gb3}, file: "clips/walk.mov", want: []string{`box "tkhd"`}},
		{name: "h-mp4-mvhd-sparse-4GB", files: withClip("clips/walk.mp4", testmedia.HugeHeaderBox("mvhd", 4_000_000_000)), sparse: map[string]int64{"clips/walk.mp4": 4_100_000_000}, file: "clips/walk.mp4", want: []string{`box "mvhd"`}},
		{name: "h-mp4-stsz-entries", files: withClip("clips/walk.mp4", testmedia.DeclareEntries(mp4, "stsz", 400_000_000)), file: "clips/walk.mp4", want: []string{`box "stsz"`, "400000000 entries"}},
		{name: "h-mp4-stco-3GB", files: withClip("clips/walk.mp4", testmedia.Declare(mp4, "stco", gb3)), file: "clips/walk.mp4", want: []string{`box "stco"`, `"stbl" box`}},
		{name: "h-mp4-ftyp-3GB", files: withClip("clips/walk.mp4", testmedia.Declare(mp4, "ftyp", gb3)), file: "clips/walk.mp4", want: []string{`box "ftyp"`, "truncated video"}},
		{name: "h-mov-moov-3GB", files: withClip("clips/walk.mov", testmedia.Declare(mp4, "moov", gb3)), file: "clips/walk.mov", want: []string{`box "moov"`}},
		{name: "h-mov-mdat-3GB", files: withClip("clips/walk.mov", testmedia.Declare(mp4, "mdat", gb3)), file: "clips/walk.mov", want: []string{`box "mdat"`}},
		{name: "h-mov-mdat-past-sparse-end", files: withClip("clips/walk.mov", testmedia.Declare(mp4, "mdat", gb3)), sparse: map[string]int64{"clips/walk.mov": 2_000_000_000}, file: "clips/walk.mov", want: []string{`box "mdat"`, "the file ends after 2000000000"}},
		{name: "h-mov-udta-3GB", files: withClip("clips/walk.mov", testmedia.Declare(mp4, "udta", gb3)), file: "clips/walk.mov", want: []string{`box "udta"`}},
		{name: "h-mov-meta-3GB", files: withClip("clips/walk.mov", testmedia.Declare(mp4, "meta", gb3)), file: "clips/walk.mov", want: []string{`box "meta"`}},
		{name: "h-mp4-uuid-3GB", files: withClip("clips/walk.mp4", testmedia.Declare(mp4, "uuid", gb3)), file: "clips/walk.mp4", want: []string{`box "uuid"`}},
		{name: "h-mp4-64bit-size", files: withClip("clips/walk.mp4", largesize), file: "clips/walk.mp4", want: []string{`box "ftyp"`}},
		// Images whose segments and chunks run past their end.
		{name: "h-jpeg-huge-segment", files: map[string][]byte{"recon.yaml": []byte("scene: model\n"), "photos/001.jpg": hugeSegment}, file: "photos/001.jpg", want: []string{"JPEG"}},
		{name: "h-jpeg-cut-in-segment", files: map[string][]byte{"recon.yaml": []byte(""), "photos/001.jpg": photo[:120]}, file: "photos/001.jpg", want: []string{"JPEG"}},
		{name: "h-png-huge-chunk", files: map[string][]byte{"recon.yaml": []byte(""), "photos/001.png": append(append([]byte{}, png[:33]...), 0x7F, 0xFF, 0xFF, 0xFF, 't', 'E', 'X', 't', 'a', 'b')}, file: "photos/001.png", want: []string{"PNG"}},
		{name: "h-png-huge-ihdr", files: map[string][]byte{"recon.yaml": []byte(""), "photos/001.png": append(append([]byte{}, png[:8]...), 0xFF, 0xFF, 0xFF, 0xF0, 'I', 'H', 'D', 'R', 0, 0)}, file: "photos/001.png", want: []string{"PNG"}},
		{name: "h-pano-huge-segment", files: withPano2("pano-00", hugeSegment), file: "images/pano-00.jpg", want: []string{"JPEG"}},
		// Marker files.
		{name: "h-manifest-sparse-5GB", files: withManifest([]byte(oneScan)), sparse: map[string]int64{"manifest.json": 5 << 30}, file: "manifest.json", want: []string{"file too large (5368709120 bytes, limit 2097152)"}},
		{name: "h-recon-sparse-5GB", files: withRecon([]byte("scene: model\n")), sparse: map[string]int64{"recon.yaml": 5 << 30}, file: "recon.yaml", want: []string{"file too large (5368709120 bytes, limit 262144)"}},
		{name: "h-recon-alias-bomb", files: withRecon([]byte(bomb.String())), file: "recon.yaml:1", want: []string{`unknown key "xa"`}},
		{name: "h-recon-deep-nesting", files: withRecon([]byte("name: " + strings.Repeat("[", 200_000))), file: "recon.yaml", want: []string{"not valid YAML", "depth"}},
		{name: "h-manifest-deep-nesting", files: withManifest([]byte(`{"version":` + strings.Repeat("[", 1_000_000))), file: "manifest.json", want: []string{"invalid JSON", "depth"}},
		{name: "h-manifest-empty-scans-2MiB", files: withManifest([]byte(`{"version":"1.0","floor_map":{"0":1},"scan_list":[` + strings.TrimSuffix(strings.Repeat("{},", 690_000), ",") + `]}`)), file: "manifest.json", want: []string{"scan_list has 690000 scans"}},
		{name: "h-recon-10001-resources", files: withRecon([]byte("resources:\n" + strings.Repeat("- photos/001.jpg\n", 10001))), file: "recon.yaml:2", want: []string{"10001 entries, more than 10000"}},
		{name: "h-manifest-utf16le", files: withManifest(utf16With(oneScan, false)), file: "manifest.json", want: []string{"manifest.json is UTF-16; save it as UTF-8"}},
		{name: "h-manifest-utf16be", files: withManifest(utf16With(oneScan, true)), file: "manifest.json", want: []string{"manifest.json is UTF-16; save it as UTF-8"}},
		{name: "h-recon-utf16le", files: withRecon(utf16With("scene: model\n", false)), file: "recon.yaml", want: []string{"recon.yaml is UTF-16; save it as UTF-8"}},
	}
}

func TestHostileParseCorpus(t *testing.T) {
	cases := hostileCases(t)
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, aholo: &aholotest.Options{}, maxJobs: 4})
	d := r.start()
	os.MkdirAll(r.path("inbox"), 0o755)
	for _, c := range cases {
		staging := filepath.Join(r.watchDir, ".staging-hostile")
		os.RemoveAll(staging)
		writeHostile(t, staging, c)
		if err := os.Rename(staging, r.path("inbox", c.name)); err != nil {
			t.Fatal(err)
		}
	}
	// Good drops at the same time: a UTF-8 byte order mark in either
	// marker is accepted, and a real video goes through.
	goodRealsee := realseeFiles(t, 2, 0)
	goodRealsee["manifest.json"] = append([]byte("\uFEFF"), goodRealsee["manifest.json"]...)
	goodAholo := aholoFiles(t, 2, 0)
	goodAholo["recon.yaml"] = append([]byte("\uFEFF"), goodAholo["recon.yaml"]...)
	goodAholo["clips/walk.mp4"] = testmedia.MP4Bytes(640, 480, 3000, 4096)
	good := map[string]map[string][]byte{"good-realsee-bom": goodRealsee, "good-aholo-bom-video": goodAholo}
	for name, files := range good {
		r.drop(name, files)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.wantInvalid(t, c.name, c.file, c.want)
			if err := intactHostile(r.path("failed", c.name), c); err != nil {
				t.Errorf("not intact in failed/: %v", err)
			}
		})
	}
	for name := range good {
		res, where := r.waitResult(name, 90*time.Second)
		if where != "done" || !res.Success() {
			t.Errorf("good drop %s: landed in %s: %+v", name, where, res.Error)
		}
	}
	if !d.alive() {
		t.Fatal("the daemon died")
	}
	if n := len(r.gw.Submits()); n != 1 {
		t.Errorf("%d Realsee submits, want 1 (the good drop)", n)
	}
	if n := r.ah.Creates(); n != 1 {
		t.Errorf("%d Aholo creates, want 1 (the good drop)", n)
	}
	hwm := procStatus(d.cmd.Process.Pid, "VmHWM")
	if hwm <= 0 || hwm > hostileMemLimit {
		t.Errorf("daemon peak RSS (VmHWM) %d KiB, limit %d KiB", hwm, hostileMemLimit)
	}
	report(t, "hostile-parse corpus: %d cases in failed/ intact with file and problem named, 2 good drops done beside them; daemon peak RSS (VmHWM) %d KiB", len(cases), hwm)
}

// TestHostileParseCheckMemory runs `scandrop check` on each hostile drop
// and measures its peak resident memory (VmHWM, see runPeakRSS).
func TestHostileParseCheckMemory(t *testing.T) {
	cases := hostileCases(t)
	worst, worstName := int64(0), ""
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), c.name)
		writeHostile(t, dir, c)
		cmd := exec.Command(binPath, "check", dir)
		out, err, rss := runPeakRSS(cmd)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: check exited %v, want 1 (invalid)\n%s", c.name, err, out)
			continue
		}
		if !strings.Contains(string(out), c.file) || !strings.Contains(string(out), c.want[0]) {
			t.Errorf("%s: check says %q; want %q and %q", c.name, out, c.file, c.want[0])
		}
		if rss > hostileMemLimit {
			t.Errorf("%s: check peak RSS %d KiB, limit %d KiB", c.name, rss, hostileMemLimit)
		}
		if rss > worst {
			worst, worstName = rss, c.name
		}
	}
	report(t, "scandrop check on %d hostile drops: peak RSS at most %d KiB (%s)", len(cases), worst, worstName)
}

// TestHostileStateFiles: a drop may bring a .scandrop/ of its own, and a
// folder may be put into processing/ by hand, so scandrop's journal and
// owner file are read from outside too. Multi-GB ones (sparse) are never
// read into memory: in a drop from inbox/ they are set aside unread and the
// job starts afresh; in processing/ the oversized journal is refused
// unread. The daemon's memory stays small and a good drop beside them
// still goes through.
func TestHostileStateFiles(t *testing.T) {
	r := newRig(t, rigOptions{realsee: &realseetest.Options{}, maxJobs: 4})
	sparseState := func(dst, state string) {
		files := realseeFiles(t, 1, 0)
		files[".scandrop/"+state] = []byte(`{"version":1}`)
		staging := filepath.Join(r.watchDir, ".staging-state")
		os.RemoveAll(staging)
		writeTree(t, staging, files)
		if err := os.Truncate(filepath.Join(staging, ".scandrop", state), 5<<30); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(staging, dst); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(r.path("processing"), 0o755)
	sparseState(r.path("processing", "h-state-resume-sparse-5GB"), "job.json")
	d := r.start()
	os.MkdirAll(r.path("inbox"), 0o755)
	var arrived []string
	for _, state := range []string{"job.json", "owner"} {
		name := "h-state-" + strings.TrimSuffix(state, ".json") + "-sparse-5GB"
		sparseState(r.path("inbox", name), state)
		arrived = append(arrived, name)
	}
	r.drop("good-realsee", realseeFiles(t, 2, 0))
	if res, where := r.waitResult("good-realsee", 60*time.Second); where != "done" {
		t.Fatalf("good drop: landed in %s: %+v", where, res.Error)
	}
	for _, name := range arrived {
		if res, where := r.waitResult(name, 60*time.Second); where != "done" {
			t.Errorf("%s: landed in %s: %+v", name, where, res.Error)
		}
		kept, _ := filepath.Glob(r.path("done", name, ".scandrop-arrived-*", "*"))
		if len(kept) != 1 {
			t.Errorf("%s: the arrived state was not kept aside: %v", name, kept)
			continue
		}
		if fi, err := os.Stat(kept[0]); err != nil || fi.Size() != 5<<30 {
			t.Errorf("%s: the arrived state file changed: %v %v", name, fi, err)
		}
	}
	eventually(t, "the daemon to refuse the 5 GB journal in processing/", 30*time.Second, func() bool {
		return strings.Contains(r.logText(), ".scandrop/job.json: file too large (5368709120 bytes, limit 16777216)")
	})
	if !d.alive() {
		t.Fatal("the daemon died")
	}
	hwm := procStatus(d.cmd.Process.Pid, "VmHWM")
	if hwm <= 0 || hwm > hostileMemLimit {
		t.Errorf("daemon peak RSS (VmHWM) %d KiB, limit %d KiB", hwm, hostileMemLimit)
	}
	report(t, "5 GB sparse .scandrop/job.json and owner: set aside unread in drops, refused unread in processing/; daemon peak RSS (VmHWM) %d KiB", hwm)
}

// runPeakRSS runs cmd and returns its combined output, its error and its
// peak resident memory in KiB, read as VmHWM from /proc every 2 ms while it
// runs. The child's rusage maxrss cannot be used: Linux carries the parent's
// high-water mark over into the child at exec, so it would report the size
// of the test process. VmHWM is of the child's own memory, and a peak too
// short to be sampled could not have been a large allocation.
func runPeakRSS(cmd *exec.Cmd) ([]byte, error, int64) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err, 0
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	for {
		if v := procStatus(cmd.Process.Pid, "VmHWM"); v > peak {
			peak = v
		}
		select {
		case err := <-done:
			return out.Bytes(), err, peak
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// wantInvalid waits for the drop name to land in failed/ as invalid at the
// validate stage, with a fix, its message and problems naming file and its
// message saying every one of want.
func (r *rig) wantInvalid(t *testing.T, name, file string, want []string) {
	t.Helper()
	res, where := r.waitResult(name, 90*time.Second)
	if where != "failed" || res.Error == nil {
		t.Fatalf("landed in %s: %+v", where, res)
	}
	e := res.Error
	t.Logf("%s", e.Message)
	if e.Stage != "validate" || e.Kind != "invalid" || e.Fix == "" {
		t.Errorf("error: stage %q kind %q fix %q; want validate/invalid with a fix", e.Stage, e.Kind, e.Fix)
	}
	if !strings.Contains(e.Message, file) || !problemsName(e.Problems, file) {
		t.Errorf("message %q / problems %+v do not name %q", e.Message, e.Problems, file)
	}
	for _, w := range want {
		if !strings.Contains(e.Message, w) {
			t.Errorf("message %q does not say %q", e.Message, w)
		}
	}
}
