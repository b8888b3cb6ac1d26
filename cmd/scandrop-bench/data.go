//go:build linux

package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
)

// Noise does not compress, so a noise JPEG is as big as a real panorama of
// its size (8192×4096 at quality 95: about 20 MB) and zipping it stored
// is the right choice, as for real photos. Encoding one takes seconds, so
// a few are made once (seeded: the same bytes every run) and cached, and
// the data sets are copies of them made unique by a JPEG comment.

// noiseJPEG encodes a w×h image of seeded noise, amp the spread of the
// luma noise (chroma gets a quarter): with amp 64 at quality 90 an
// 8192×4096 panorama is about 16 MiB, like a real one.
func noiseJPEG(w, h int, seed uint64, quality int, amp byte) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fill := func(p []byte, mid, mask byte) {
		for i := 0; i+8 <= len(p); i += 8 {
			binary.LittleEndian.PutUint64(p[i:], r.Uint64())
			for j := i; j < i+8; j++ {
				p[j] = mid + p[j]&mask
			}
		}
	}
	fill(img.Y, 128-amp/2, amp-1)
	fill(img.Cb, 128-amp/8, amp/4-1)
	fill(img.Cr, 128-amp/8, amp/4-1)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// baseJPEGs returns n cached noise JPEGs of w×h, making the missing ones
// (two at a time: one per core here).
func baseJPEGs(cache string, n, w, h, quality int, amp byte) ([][]byte, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	out := make([][]byte, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		p := filepath.Join(cache, fmt.Sprintf("noise-%dx%d-q%d-a%d-%d.jpg", w, h, quality, amp, i))
		if b, err := os.ReadFile(p); err == nil {
			out[i] = b
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b := noiseJPEG(w, h, uint64(i+1)*7919+uint64(w), quality, amp)
			tmp := p + ".tmp"
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				errs[i] = err
				return
			}
			errs[i] = os.Rename(tmp, p)
			out[i] = b
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeUnique writes base as a JPEG made unique by a comment segment right
// after SOI: still a valid, complete JPEG, with its own MD5 (a store or
// upload service that deduplicates by content must not skip it).
func writeUnique(path string, base []byte, tag string) error {
	com := []byte(tag)
	seg := make([]byte, 4, 4+len(com))
	seg[0], seg[1] = 0xFF, 0xFE
	binary.BigEndian.PutUint16(seg[2:], uint16(2+len(com)))
	seg = append(seg, com...)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(base[:2])
	if err == nil {
		_, err = f.Write(seg)
	}
	if err == nil {
		_, err = f.Write(base[2:])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// realseeSet writes a Realsee drop of at least size bytes into dir:
// manifest.json and images/pano-NNNN.jpg. It returns the total size.
func realseeSet(dir string, bases [][]byte, size int64) (int64, int, error) {
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		return 0, 0, err
	}
	type scan struct {
		ID    string `json:"id"`
		Floor int    `json:"floor"`
	}
	var scans []scan
	var total int64
	for i := 0; total < size; i++ {
		id := fmt.Sprintf("pano-%04d", i)
		b := bases[i%len(bases)]
		if err := writeUnique(filepath.Join(dir, "images", id+".jpg"), b, "scandrop-bench "+id); err != nil {
			return 0, 0, err
		}
		total += int64(len(b)) + 4 + int64(len("scandrop-bench "+id))
		scans = append(scans, scan{ID: id, Floor: i % 2})
	}
	m, _ := json.MarshalIndent(map[string]any{
		"version": "1.0", "floor_map": map[string]int{"0": 1, "1": 2},
		"project_name": "bench-{{timestamp}}", "scan_list": scans,
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), m, 0o644); err != nil {
		return 0, 0, err
	}
	return total + int64(len(m)), len(scans), nil
}

// aholoSet writes an Aholo drop: recon.yaml, photos unique noise JPEGs and
// one MP4 of videoSize bytes of random payload.
func aholoSet(dir string, bases [][]byte, photos int, videoSize int64) (int64, error) {
	if err := os.MkdirAll(filepath.Join(dir, "photos"), 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "recon.yaml"), []byte("name: scandrop-bench\nscene: space\n"), 0o644); err != nil {
		return 0, err
	}
	var total int64
	for i := range photos {
		id := fmt.Sprintf("IMG_%04d", i)
		p := filepath.Join(dir, "photos", id+".jpg")
		if err := writeUnique(p, bases[i%len(bases)], "scandrop-bench "+id); err != nil {
			return 0, err
		}
		fi, _ := os.Stat(p)
		total += fi.Size()
	}
	if videoSize > 0 {
		p := filepath.Join(dir, "walk.mp4")
		if err := testmedia.WriteMP4(p, 3840, 2160, 120000, videoSize); err != nil {
			return 0, err
		}
		fi, _ := os.Stat(p)
		total += fi.Size()
	}
	return total, nil
}

// linkTree hard-links every file of src into dst (same file system), so a
// drop can be moved away by the daemon while the data set stays.
func linkTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		return os.Link(p, t)
	})
}

// warm reads every file under dir once, so that every contender starts
// with the data in the page cache, as it would be right after a copy.
func warm(dir string) error {
	buf := make([]byte, 1<<20)
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		for {
			_, err := f.Read(buf)
			if err != nil {
				return nil
			}
		}
	})
}

// storeZip writes manifest.json and images/ of dir as a stored zip, for
// when the zip tool is not installed and the limit still needs the file.
func storeZip(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Store, Modified: fi.ModTime()})
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
