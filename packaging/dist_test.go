package packaging

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDist builds the release as `make dist` does (goreleaser in snapshot
// mode, then tools/ociimage) into a temporary dist directory and checks
// every artifact as far as this machine allows:
//
//   - archives: unpacked; README.md, LICENSE, config.yaml.example and the
//     binary in each; the binary is of the right OS and architecture,
//     static, and carries the version, commit and time zones; the one for
//     this machine runs `version`;
//   - checksums.txt: every archive, package and the image, with the right SHA-256;
//   - .deb: unpacked (dpkg-deb -e/-x): the unit, the conffile, the
//     maintainer scripts, the binary runs `version`; the unit passes
//     `systemd-analyze verify`; installed, reinstalled and purged in a
//     throwaway overlay root (testdata/deb-roundtrip.sh);
//   - .rpm: its scripts, config files and file list (rpm -qp), where rpm is;
//   - the OCI image: every blob's digest, the config (user 1000:1000, the
//     volumes), the layers unpacked into a root file system from which
//     `scandrop demo` runs as the image's user (chroot).
//
// `make dist-test` sets SCANDROP_DIST_FULL=1: all seven platforms. Without
// it (make test) the release is built for linux/amd64 and linux/arm64 only,
// the builds the packages and the image are made from
// (SCANDROP_DIST_SLICE, read by .goreleaser.yaml).
func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release")
	}
	if runtime.GOOS != "linux" {
		t.Skip("checks Linux packages (dpkg-deb, chroot): needs Linux")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gr := os.Getenv("SCANDROP_GORELEASER")
	if gr == "" {
		gr = filepath.Join(repo, ".tools", "bin", "goreleaser")
	}
	if _, err := os.Stat(gr); err != nil {
		t.Skipf("goreleaser is not installed (%s): `make dist-test` (or `make tools`) installs it", gr)
	}
	full := os.Getenv("SCANDROP_DIST_FULL") != ""

	dist := filepath.Join(t.TempDir(), "dist")
	cfg, err := os.ReadFile(filepath.Join(repo, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "goreleaser.yaml")
	if err := os.WriteFile(cfgPath, append(cfg, "\ndist: "+dist+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(gr, "release", "--snapshot", "--clean", "--skip=publish", "--config", cfgPath)
	cmd.Dir = repo
	// As the Makefile does: the commit and its date from git (goreleaser
	// reads them only in a clone with a remote).
	commit := strings.TrimSpace(run(t, repo, "git", "rev-parse", "HEAD"))
	date := strings.TrimSpace(run(t, repo, "git", "log", "-1", "--format=%cI"))
	epoch := strings.TrimSpace(run(t, repo, "git", "log", "-1", "--format=%ct"))
	cmd.Env = append(os.Environ(), "SCANDROP_COMMIT="+commit, "SCANDROP_SHORT_COMMIT="+commit[:7],
		"SCANDROP_DATE="+date, "SOURCE_DATE_EPOCH="+epoch)
	if !full {
		cmd.Env = append(cmd.Env, "SCANDROP_DIST_SLICE=1")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser: %v\n%s", err, out)
	}
	built := time.Since(start)
	run(t, filepath.Join(repo, "tools"), "go", "run", "./ociimage", "-dist", dist, "-commit", commit, "-date", date)
	t.Logf("goreleaser (full=%v): %s; with the image: %s", full, built.Round(time.Second), time.Since(start).Round(time.Second))

	var meta struct{ Version string }
	readJSON(t, filepath.Join(dist, "metadata.json"), &meta)
	if !strings.Contains(meta.Version, "-snapshot+"+commit[:7]) {
		t.Fatalf("metadata.json: version %q, want a snapshot of %s", meta.Version, commit[:7])
	}
	d := &release{t: t, repo: repo, dist: dist, version: meta.Version, commit: commit}
	entries, _ := os.ReadDir(dist)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			t.Logf("artifact %-55s %9d bytes", e.Name(), fi.Size())
		}
	}

	platforms := [][3]string{{"linux", "amd64", ""}, {"linux", "arm64", ""}}
	if full {
		platforms = append(platforms, [3]string{"linux", "arm", "7"},
			[3]string{"windows", "amd64", ""}, [3]string{"windows", "arm64", ""},
			[3]string{"darwin", "amd64", ""}, [3]string{"darwin", "arm64", ""})
	}
	t.Run("archives", func(t *testing.T) {
		for _, p := range platforms {
			d.checkArchive(t, p[0], p[1], p[2])
		}
	})
	t.Run("checksums", d.checkChecksums)
	t.Run("deb", d.checkDeb)
	t.Run("rpm", d.checkRPM)
	t.Run("image", d.checkImage)
}

type release struct {
	t               *testing.T
	repo, dist      string
	version, commit string
}

func (d *release) path(name string) string { return filepath.Join(d.dist, name) }

// checkArchive unpacks the archive of goos/goarch and checks its files and
// its binary.
func (d *release) checkArchive(t *testing.T, goos, goarch, goarm string) {
	name := fmt.Sprintf("scandrop_%s_%s_%s", d.version, goos, goarch)
	if goarm != "" {
		name += "v" + goarm
	}
	exe := "scandrop"
	files := map[string][]byte{}
	if goos == "windows" {
		name += ".zip"
		exe += ".exe"
		zr, err := zip.OpenReader(d.path(name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name], _ = io.ReadAll(rc)
			rc.Close()
		}
	} else {
		name += ".tar.gz"
		f, err := os.Open(d.path(name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		defer f.Close()
		files = untarAll(t, f, true)
	}
	for _, want := range []string{"README.md", "LICENSE", "config.yaml.example", exe} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s: no %s in %v", name, want, slices.Sorted(mapKeys(files)))
		}
	}
	if lic := files["LICENSE"]; !bytes.Contains(lic, []byte("Apache License")) || !bytes.Contains(lic, []byte("Copyright 2026 The scandrop authors")) {
		t.Errorf("%s: LICENSE is not the Apache License 2.0 of the scandrop authors", name)
	}
	d.checkBinary(t, name, files[exe], goos, goarch)
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		bin := filepath.Join(t.TempDir(), exe)
		os.WriteFile(bin, files[exe], 0o755)
		d.checkVersion(t, name, bin, goos, goarch)
	}
}

// checkBinary checks what can be checked of a binary without running it:
// its format, OS and architecture, that it is static, and that it carries
// the version, the commit and Go's time zone database.
func (d *release) checkBinary(t *testing.T, name string, b []byte, goos, goarch string) {
	if len(b) == 0 {
		return
	}
	r := bytes.NewReader(b)
	var arch string
	switch goos {
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		arch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_ARM: "arm"}[f.Machine]
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: dynamically linked (CGO_ENABLED=0 builds a static binary)", name)
			}
		}
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		arch = map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		arch = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	}
	if arch != goarch {
		t.Errorf("%s: binary for %q, want %s", name, arch, goarch)
	}
	for _, want := range []string{d.version, d.commit, "Europe/Berlin"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s: the binary does not carry %q", name, want)
		}
	}
	if bytes.Contains(b, []byte(d.repo)) {
		t.Errorf("%s: the binary carries the build path %s (-trimpath)", name, d.repo)
	}
}

var versionLine = regexp.MustCompile(`^scandrop (\S+) \(commit ([0-9a-f]+), built (\S+), go[0-9.]+, (\w+)/(\w+)\)\n$`)

// checkVersion runs bin version and checks it names the release.
func (d *release) checkVersion(t *testing.T, what, bin string, goos, goarch string, chroot ...string) {
	args := append(chroot, bin, "version")
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		t.Errorf("%s: %s: %v", what, strings.Join(args, " "), err)
		return
	}
	m := versionLine.FindStringSubmatch(string(out))
	if m == nil || m[1] != d.version || m[2] != d.commit || m[4] != goos || m[5] != goarch {
		t.Errorf("%s: version: %q, want version %s, commit %s, %s/%s", what, out, d.version, d.commit, goos, goarch)
		return
	}
	if _, err := time.Parse(time.RFC3339, m[3]); err != nil {
		t.Errorf("%s: version: date %q: %v", what, m[3], err)
	}
	t.Logf("%s: %s", what, strings.TrimSpace(string(out)))
}

// checkChecksums checks that checksums.txt lists every archive and package
// with its SHA-256.
func (d *release) checkChecksums(t *testing.T) {
	f, err := os.Open(d.path("checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Errorf("checksums.txt: %q", sc.Text())
			continue
		}
		b, err := os.ReadFile(d.path(name))
		if err != nil {
			t.Errorf("checksums.txt: %v", err)
			continue
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("checksums.txt: %s: sha256 %x, listed %s", name, got, sum)
		}
		listed[name] = true
	}
	entries, _ := os.ReadDir(d.dist)
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".zip") || strings.HasSuffix(n, ".deb") || strings.HasSuffix(n, ".rpm") || strings.HasSuffix(n, "_oci_image.tar") {
			if !listed[n] {
				t.Errorf("checksums.txt does not list %s", n)
			}
		}
	}
	if len(listed) == 0 {
		t.Error("checksums.txt lists nothing")
	}
}

// glob finds the one artifact matching pattern in dist.
func (d *release) glob(t *testing.T, pattern string) string {
	m, _ := filepath.Glob(d.path(pattern))
	if len(m) != 1 {
		t.Fatalf("%s in dist: %v, want one", pattern, m)
	}
	return m[0]
}

func (d *release) checkDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed (apt-get install dpkg): the .deb is only built")
	}
	deb := d.glob(t, "scandrop_*_amd64.deb")
	d.glob(t, "scandrop_*_arm64.deb")
	ctl, root := t.TempDir(), t.TempDir()
	run(t, "", "dpkg-deb", "-e", deb, ctl)
	run(t, "", "dpkg-deb", "-x", deb, root)
	control := readFile(t, filepath.Join(ctl, "control"))
	for _, want := range []string{"Package: scandrop", "Architecture: amd64", "Version: "} {
		if !strings.Contains(control, want) {
			t.Errorf("control has no %q:\n%s", want, control)
		}
	}
	if got := readFile(t, filepath.Join(ctl, "conffiles")); strings.TrimSpace(got) != "/etc/scandrop/config.yaml" {
		t.Errorf("conffiles: %q, want /etc/scandrop/config.yaml", got)
	}
	for script, src := range map[string]string{"postinst": "postinstall.sh", "prerm": "preremove.sh", "postrm": "postremove.sh"} {
		if readFile(t, filepath.Join(ctl, script)) != readFile(t, filepath.Join(d.repo, "packaging", src)) {
			t.Errorf("%s is not packaging/%s", script, src)
		}
		if fi, err := os.Stat(filepath.Join(ctl, script)); err == nil && fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", script)
		}
		if sh, err := exec.LookPath("sh"); err == nil {
			if out, err := exec.Command(sh, "-n", filepath.Join(ctl, script)).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", script, err, out)
			}
		}
	}
	unit := filepath.Join(root, "usr/lib/systemd/system/scandrop.service")
	if readFile(t, unit) != readFile(t, filepath.Join(d.repo, "packaging", "scandrop.service")) {
		t.Error("the packaged unit is not packaging/scandrop.service")
	}
	if readFile(t, filepath.Join(root, "etc/scandrop/config.yaml")) != readFile(t, filepath.Join(d.repo, "config.yaml.example")) {
		t.Error("/etc/scandrop/config.yaml is not config.yaml.example")
	}
	for _, p := range []string{"usr/share/doc/scandrop/README.md", "usr/share/doc/scandrop/LICENSE"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
	bin := filepath.Join(root, "usr/bin/scandrop")
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("/usr/bin/scandrop: %v %v", fi, err)
	}
	d.checkVersion(t, filepath.Base(deb), bin, "linux", "amd64")

	t.Run("systemd-analyze", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed (apt-get install systemd)")
		}
		// Against this machine's systemd units, with ExecStart pointing at
		// the package's binary, since /usr/bin/scandrop is not installed here
		// (--root would need a whole systemd tree).
		u := strings.ReplaceAll(readFile(t, unit), "ExecStart=/usr/bin/scandrop", "ExecStart="+bin)
		local := filepath.Join(t.TempDir(), "scandrop.service")
		os.WriteFile(local, []byte(u), 0o644)
		out, err := exec.Command(sa, "verify", "--man=no", local).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		if out, err := exec.Command(sa, "security", "--offline=yes", "--root="+root, unit).CombinedOutput(); err == nil {
			if m := regexp.MustCompile(`Overall exposure level for scandrop.service: ([0-9.]+ \w+)`).FindSubmatch(out); m != nil {
				t.Logf("systemd-analyze security: exposure %s", m[1])
			}
		}
	})

	t.Run("install-purge", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("installing into a throwaway root needs root (mount, chroot)")
		}
		for _, tool := range []string{"unshare", "chroot", "dpkg"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s is not installed", tool)
			}
		}
		work := t.TempDir()
		out, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh",
			filepath.Join(d.repo, "packaging", "testdata", "deb-roundtrip.sh"), deb, work).CombinedOutput()
		text := string(out)
		if err != nil && strings.Contains(text, "mount") && !strings.Contains(text, "ok: ") {
			t.Skipf("no overlay mount in a private namespace here (%v): %s", err, text)
		}
		if err != nil {
			t.Fatalf("deb-roundtrip.sh: %v\n%s", err, text)
		}
		t.Logf("deb-roundtrip.sh:\n%s", text)
	})
}

func (d *release) checkRPM(t *testing.T) {
	rpmFile := d.glob(t, "scandrop-*.x86_64.rpm")
	d.glob(t, "scandrop-*.aarch64.rpm")
	b, err := os.ReadFile(rpmFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0xed, 0xab, 0xee, 0xdb}) {
		t.Fatalf("%s: not an rpm", rpmFile)
	}
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed (apt-get install rpm): the .rpm is only built (its lead checked)")
	}
	q := func(args ...string) string {
		return run(t, "", "rpm", append([]string{"-qp"}, append(args, rpmFile)...)...)
	}
	if got := strings.TrimSpace(q("--configfiles")); got != "/etc/scandrop/config.yaml" {
		t.Errorf("rpm config files: %q", got)
	}
	files := q("--list")
	for _, want := range []string{"/usr/bin/scandrop", "/usr/lib/systemd/system/scandrop.service", "/etc/scandrop/config.yaml"} {
		if !strings.Contains(files, want+"\n") {
			t.Errorf("rpm has no %s:\n%s", want, files)
		}
	}
	scripts := q("--scripts")
	for _, src := range []string{"postinstall.sh", "preremove.sh", "postremove.sh"} {
		body := strings.TrimPrefix(readFile(t, filepath.Join(d.repo, "packaging", src)), "#!/bin/sh\n")
		if !strings.Contains(scripts, strings.TrimSpace(body)) {
			t.Errorf("rpm scripts lack packaging/%s:\n%s", src, scripts)
		}
	}
}

// checkImage reads the OCI image layout archive, checks its digests and
// config, unpacks the linux/amd64 image and runs scandrop demo in it.
func (d *release) checkImage(t *testing.T) {
	f, err := os.Open(d.path("scandrop_" + d.version + "_oci_image.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := untarAll(t, f, false)
	if !strings.Contains(string(blobs["oci-layout"]), `"imageLayoutVersion"`) {
		t.Fatalf("not an OCI image layout: oci-layout is %q", blobs["oci-layout"])
	}
	blob := func(digest string) []byte {
		hexd, ok := strings.CutPrefix(digest, "sha256:")
		b, found := blobs["blobs/sha256/"+hexd]
		if !ok || !found {
			t.Fatalf("no blob %s", digest)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexd {
			t.Fatalf("blob %s has digest %x", digest, sum)
		}
		return b
	}
	type desc struct {
		MediaType, Digest string
		Platform          *struct{ OS, Architecture string }
	}
	var index struct{ Manifests []desc }
	json.Unmarshal(blobs["index.json"], &index)
	if len(index.Manifests) == 1 && strings.Contains(index.Manifests[0].MediaType, "index") {
		json.Unmarshal(blob(index.Manifests[0].Digest), &index) // layout.Write keeps the index as a blob
	}
	platforms := map[string]desc{}
	for _, m := range index.Manifests {
		if m.Platform != nil {
			platforms[m.Platform.OS+"/"+m.Platform.Architecture] = m
		}
	}
	if len(platforms) != 2 || platforms["linux/amd64"].Digest == "" || platforms["linux/arm64"].Digest == "" {
		t.Fatalf("image platforms: %v, want linux/amd64 and linux/arm64", slices.Sorted(mapKeys(platforms)))
	}
	for plat, m := range platforms {
		var man struct {
			Config desc
			Layers []desc
		}
		json.Unmarshal(blob(m.Digest), &man)
		var cfg struct {
			OS, Architecture string
			Config           struct {
				User       string
				Entrypoint []string
				Cmd        []string
				Env        []string
				Volumes    map[string]struct{}
				Labels     map[string]string
			}
		}
		json.Unmarshal(blob(man.Config.Digest), &cfg)
		c := cfg.Config
		if cfg.OS+"/"+cfg.Architecture != plat || c.User != "1000:1000" || !slices.Equal(c.Entrypoint, []string{"/usr/bin/scandrop"}) ||
			len(c.Volumes) != 2 || c.Labels["org.opencontainers.image.version"] != d.version || c.Labels["org.opencontainers.image.revision"] != d.commit {
			t.Errorf("%s: config %+v", plat, cfg)
		}
		if _, ok := c.Volumes["/config"]; !ok {
			t.Errorf("%s: no /config volume", plat)
		}
		if _, ok := c.Volumes["/watch"]; !ok {
			t.Errorf("%s: no /watch volume", plat)
		}
		if plat != "linux/"+runtime.GOARCH {
			for _, l := range man.Layers {
				blob(l.Digest)
			}
			continue
		}
		rootfs := filepath.Join(t.TempDir(), "rootfs")
		for _, l := range man.Layers {
			untarTo(t, blob(l.Digest), rootfs)
		}
		d.checkRootfs(t, rootfs, c.Env)
	}
}

// checkRootfs checks the unpacked image and runs scandrop in it as the
// image's user.
func (d *release) checkRootfs(t *testing.T, rootfs string, env []string) {
	want := map[string]string{ // path: mode uid:gid
		"usr/bin/scandrop": "-rwxr-xr-x 0:0", "config": "drwxr-xr-x 1000:1000", "watch": "drwxr-xr-x 1000:1000",
		"tmp": "dtrwxrwxrwx 0:0", "etc/passwd": "-rw-r--r-- 0:0", "etc/ssl/certs/ca-certificates.crt": "-rw-r--r-- 0:0",
	}
	for p, w := range want {
		fi, err := os.Lstat(filepath.Join(rootfs, p))
		if err != nil {
			t.Error(err)
			continue
		}
		st := statOwner(fi)
		if got := fmt.Sprintf("%s %s", fi.Mode(), st); got != w {
			t.Errorf("image /%s: %s, want %s", p, got, w)
		}
	}
	certs, _ := os.ReadFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"))
	n := 0
	for rest := certs; ; n++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
	}
	if n < 20 {
		t.Errorf("image CA bundle: %d certificates", n)
	}
	if !strings.Contains(readFile(t, filepath.Join(rootfs, "etc/passwd")), "scandrop:x:1000:1000:") {
		t.Error("image /etc/passwd does not name the user 1000")
	}
	if os.Geteuid() != 0 {
		t.Skip("running scandrop in the image's root file system needs root (chroot)")
	}
	if _, err := exec.LookPath("chroot"); err != nil {
		t.Skip("chroot is not installed (coreutils)")
	}
	d.checkVersion(t, "image", "/usr/bin/scandrop", "linux", runtime.GOARCH, "chroot", "--userspec=1000:1000", rootfs)
	// The demo as the image runs it: its user, its environment, nothing of
	// this machine's file system.
	cmd := exec.Command("chroot", "--userspec=1000:1000", rootfs, "/usr/bin/scandrop", "demo")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "VR link") || !strings.Contains(string(out), "3D assets") {
		t.Fatalf("scandrop demo in the image: %v\n%s", err, out)
	}
	t.Logf("scandrop demo in the image, as 1000:1000 (chroot):\n%s", out)
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readFile(t, name)), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// untarAll reads the regular files of a tar (gzipped if gz) into memory,
// by their names without the first directory of an archive's top folder.
func untarAll(t *testing.T, r io.Reader, gz bool) map[string][]byte {
	t.Helper()
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[path.Clean(h.Name)] = b
		}
	}
}

// untarTo unpacks a gzipped layer into dir, with its owners and modes.
func untarTo(t *testing.T, layer []byte, dir string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Name)))
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if h.Mode&0o1000 != 0 {
				mode |= fs.ModeSticky
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("layer entry %s of type %c", h.Name, h.Typeflag)
		}
		if os.Geteuid() == 0 {
			os.Lchown(p, h.Uid, h.Gid)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}
