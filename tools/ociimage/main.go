// Command ociimage builds scandrop's container image without a Docker
// daemon: a multi-platform OCI image layout, written as a tar archive, from
// scandrop binaries that goreleaser built. The image is FROM scratch (no base
// image to pull, so it builds offline) with three layers of its own:
//
//   - /etc: CA certificates (copied from the build machine), passwd and
//     group naming the default user scandrop (1000:1000);
//   - /config, /watch (owned by 1000:1000; declared volumes) and /tmp (1777);
//   - /usr/bin/scandrop, static, with Go's embedded time zones.
//
// It runs as 1000:1000 unless started as root; then PUID, PGID and UMASK
// (the NAS convention) choose the user scandrop drops to, in scandrop itself
// (cmd/scandrop/container_unix.go), since there is no shell in the image.
//
// Usage (make dist):
//
//	ociimage -dist DIR [-date 2026-01-02T03:04:05Z]
//
// takes the version, commit and the linux binaries of the build "linux-pkg"
// from goreleaser's DIR/metadata.json and DIR/artifacts.json and writes
// DIR/scandrop_VERSION_oci_image.tar. Or, by hand:
//
//	ociimage -out FILE.tar -version V -commit C linux/amd64=BINARY linux/arm64=BINARY
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	uid, gid = 1000, 1000
	user     = "scandrop"
)

func main() {
	distDir := flag.String("dist", "", "goreleaser's dist directory: read its metadata.json and artifacts.json, write the image there")
	out := flag.String("out", "", "the OCI layout tar archive to write")
	version := flag.String("version", "dev", "image version label")
	commit := flag.String("commit", os.Getenv("SCANDROP_COMMIT"), "image revision label (default $SCANDROP_COMMIT, else from -dist)")
	date := flag.String("date", os.Getenv("SCANDROP_DATE"), "build date (RFC 3339, default $SCANDROP_DATE); the layers' and config's time, for reproducible images")
	certs := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put in the image")
	flag.Parse()
	bins := flag.Args()
	if *distDir != "" {
		var err error
		var metaCommit string
		*out, *version, metaCommit, bins, err = fromDist(*distDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ociimage:", err)
			os.Exit(1)
		}
		if *commit == "" {
			*commit = metaCommit
		}
	}
	if *out == "" || len(bins) == 0 {
		fmt.Fprintln(os.Stderr, "usage: ociimage -out FILE.tar [-version V -commit C -date D] os/arch=BINARY...")
		os.Exit(2)
	}
	if err := build(*out, *version, *commit, *date, *certs, bins); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	if *distDir != "" {
		// checksums.txt covers the image too.
		if err := appendChecksum(filepath.Join(*distDir, "checksums.txt"), *out); err != nil {
			fmt.Fprintln(os.Stderr, "ociimage:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ociimage: wrote", *out)
}

// appendChecksum adds file's line to goreleaser's checksums file, in its
// format (sha256sum's).
func appendChecksum(sums, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(sums, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%x  %s\n", sha256.Sum256(b), filepath.Base(file)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// imageBuild is the goreleaser build whose binaries go into the image.
const imageBuild = "linux-pkg"

// fromDist reads what goreleaser wrote into dir: the version and commit
// (metadata.json) and the linux binaries of imageBuild (artifacts.json,
// whose paths are relative to the project, dir's parent).
func fromDist(dir string) (out, version, commit string, bins []string, err error) {
	var meta struct{ Version, Commit string }
	var arts []struct {
		Path, Goos, Goarch, Type string
		Extra                    map[string]any
	}
	for name, v := range map[string]any{"metadata.json": &meta, "artifacts.json": &arts} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", "", "", nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return "", "", "", nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, a := range arts {
		if a.Type == "Binary" && a.Goos == "linux" && a.Extra["ID"] == imageBuild {
			p := a.Path
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(dir), p)
			}
			bins = append(bins, a.Goos+"/"+a.Goarch+"="+p)
		}
	}
	if len(bins) == 0 {
		return "", "", "", nil, fmt.Errorf("%s/artifacts.json: no linux binaries of the build %q", dir, imageBuild)
	}
	sort.Strings(bins)
	return filepath.Join(dir, "scandrop_"+meta.Version+"_oci_image.tar"), meta.Version, meta.Commit, bins, nil
}

func build(out, version, commit, date, certs string, bins []string) error {
	created := time.Unix(0, 0).UTC()
	if date != "" {
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return fmt.Errorf("-date: %w", err)
		}
		created = t.UTC()
	}
	ca, err := os.ReadFile(certs)
	if err != nil {
		return fmt.Errorf("CA certificates: %w", err)
	}
	etc, err := layer(created, []entry{
		{name: "etc/", mode: 0o755 | fs.ModeDir},
		{name: "etc/ssl/", mode: 0o755 | fs.ModeDir},
		{name: "etc/ssl/certs/", mode: 0o755 | fs.ModeDir},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "etc/passwd", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:scandrop:/config:/sbin/nologin\n", user, uid, gid)},
		{name: "etc/group", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", user, gid)},
	})
	if err != nil {
		return err
	}
	dirs, err := layer(created, []entry{
		{name: "config/", mode: 0o755 | fs.ModeDir, uid: uid, gid: gid},
		{name: "watch/", mode: 0o755 | fs.ModeDir, uid: uid, gid: gid},
		{name: "tmp/", mode: 0o777 | fs.ModeDir | fs.ModeSticky},
	})
	if err != nil {
		return err
	}

	idx := v1.ImageIndex(empty.Index)
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for _, b := range bins {
		plat, path, ok := strings.Cut(b, "=")
		goos, goarch, ok2 := strings.Cut(plat, "/")
		if !ok || !ok2 {
			return fmt.Errorf("%q: want os/arch=BINARY", b)
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		binLayer, err := layer(created, []entry{
			{name: "usr/", mode: 0o755 | fs.ModeDir},
			{name: "usr/bin/", mode: 0o755 | fs.ModeDir},
			{name: "usr/bin/scandrop", mode: 0o755, data: bin},
		})
		if err != nil {
			return err
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.Append(img,
			mutate.Addendum{Layer: etc, MediaType: types.OCILayer},
			mutate.Addendum{Layer: dirs, MediaType: types.OCILayer},
			mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer})
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Created = goos, goarch, v1.Time{Time: created}
		cf.Config = v1.Config{
			User:       fmt.Sprintf("%d:%d", uid, gid),
			Entrypoint: []string{"/usr/bin/scandrop"},
			Cmd:        []string{"run", "--config", "/config/config.yaml"},
			WorkingDir: "/config",
			Env:        []string{"PATH=/usr/bin", "HOME=/config", "TMPDIR=/tmp"},
			Volumes:    map[string]struct{}{"/config": {}, "/watch": {}},
			Labels: map[string]string{
				"org.opencontainers.image.title":    "scandrop",
				"org.opencontainers.image.version":  version,
				"org.opencontainers.image.revision": commit,
				"org.opencontainers.image.created":  created.Format(time.RFC3339),
				"org.opencontainers.image.licenses": "Apache-2.0",
				"org.opencontainers.image.source":   "https://github.com/scandrop/scandrop",
			},
		}
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			return err
		}
		img, err = mutate.CreatedAt(img, v1.Time{Time: created})
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: goarch}},
		})
	}

	dir, err := os.MkdirTemp(filepath.Dir(out), ".oci-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// index.json names the multi-platform image, so that loading it tags
	// it: ref.name (OCI) is the tag, io.containerd.image.name (docker load,
	// nerdctl, containerd) the whole reference. A tag cannot hold the "+"
	// of a snapshot version.
	tag := strings.ReplaceAll(version, "+", "-")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
		"io.containerd.image.name":          "docker.io/library/scandrop:" + tag,
	})); err != nil {
		return err
	}
	return tarDir(dir, out, created)
}

type entry struct {
	name     string
	mode     fs.FileMode
	uid, gid int
	data     []byte
}

// layer is an uncompressed-then-gzipped tar layer of entries, with fixed
// times so that the same inputs give the same digests.
func layer(mtime time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: int64(e.mode.Perm()), Uid: e.uid, Gid: e.gid, ModTime: mtime, Format: tar.FormatPAX}
		switch {
		case e.mode.IsDir():
			h.Typeflag = tar.TypeDir
			if e.mode&fs.ModeSticky != 0 {
				h.Mode |= 0o1000
			}
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// tarDir writes the OCI layout in dir as the tar archive out (what
// `podman load`, `skopeo copy oci-archive:` and `docker load` read).
func tarDir(dir, out string, mtime time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Mode: 0o644, Typeflag: tar.TypeReg}
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
