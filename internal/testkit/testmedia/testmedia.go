// Package testmedia makes small but real resource files for tests and for
// the bundled examples: JPEG and PNG photos and MP4 videos whose headers
// say what a camera's would.
package testmedia

import (
	"bytes"
	"crypto/rand"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	mp4 "github.com/abema/go-mp4"
)

// Photo draws a w×h gradient, shifted by n so that photos differ, with the
// number n drawn as a row of n white blocks.
func Photo(w, h, n int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{
				R: uint8((x*255/max(w-1, 1) + n*40) % 256),
				G: uint8(y * 255 / max(h-1, 1)),
				B: uint8((n * 60) % 256),
				A: 255,
			})
		}
	}
	bs := max(h/12, 4)
	for i := range n {
		x0, y0 := bs+i*bs*3/2, bs
		for y := y0; y < y0+bs && y < h; y++ {
			for x := x0; x < x0+bs && x < w; x++ {
				img.Set(x, y, color.White)
			}
		}
	}
	return img
}

// JPEG encodes Photo(w, h, n).
func JPEG(w, h, n int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Photo(w, h, n), &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNG encodes Photo(w, h, n).
func PNG(w, h, n int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, Photo(w, h, n)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// WriteMP4 writes a minimal valid MP4 to name: ftyp, moov (mvhd, one video
// trak with tkhd, mdia/mdhd and a "vide" hdlr) and an mdat of payload bytes
// of random data. The duration is in milliseconds (mvhd timescale 1000).
// The mdat is streamed, so payload may be hundreds of MiB.
func WriteMP4(name string, width, height int, durationMS uint32, payload int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := writeMP4(f, width, height, durationMS, payload); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeMP4(f *os.File, width, height int, durationMS uint32, payload int64) error {
	w := mp4.NewWriter(f)
	box := func(t mp4.BoxType, body mp4.IBox) error {
		if _, err := w.StartBox(&mp4.BoxInfo{Type: t}); err != nil {
			return err
		}
		if body != nil {
			if _, err := mp4.Marshal(w, body, mp4.Context{}); err != nil {
				return err
			}
			_, err := w.EndBox()
			return err
		}
		return nil
	}
	end := func() error { _, err := w.EndBox(); return err }
	unity := [9]int32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000}

	if err := box(mp4.BoxTypeFtyp(), &mp4.Ftyp{
		MajorBrand:   [4]byte{'i', 's', 'o', 'm'},
		MinorVersion: 0x200,
		CompatibleBrands: []mp4.CompatibleBrandElem{
			{CompatibleBrand: [4]byte{'i', 's', 'o', 'm'}},
			{CompatibleBrand: [4]byte{'m', 'p', '4', '1'}},
		},
	}); err != nil {
		return err
	}
	steps := []func() error{
		func() error { return box(mp4.BoxTypeMoov(), nil) },
		func() error {
			return box(mp4.BoxTypeMvhd(), &mp4.Mvhd{Timescale: 1000, DurationV0: durationMS, Rate: 0x00010000, Volume: 0x0100, Matrix: unity, NextTrackID: 2})
		},
		func() error { return box(mp4.BoxTypeTrak(), nil) },
		func() error {
			tkhd := &mp4.Tkhd{TrackID: 1, DurationV0: durationMS, Matrix: unity,
				Width: uint32(width) << 16, Height: uint32(height) << 16}
			tkhd.SetFlags(0x000003) // enabled, in movie
			return box(mp4.BoxTypeTkhd(), tkhd)
		},
		func() error { return box(mp4.BoxTypeMdia(), nil) },
		func() error {
			return box(mp4.BoxTypeMdhd(), &mp4.Mdhd{Timescale: 1000, DurationV0: durationMS, Language: [3]byte{'u' - 0x60, 'n' - 0x60, 'd' - 0x60}})
		},
		func() error {
			return box(mp4.BoxTypeHdlr(), &mp4.Hdlr{HandlerType: [4]byte{'v', 'i', 'd', 'e'}, Name: "VideoHandler"})
		},
		end, // mdia
		end, // trak
		end, // moov
		func() error { return box(mp4.BoxTypeMdat(), nil) },
		func() error { _, err := io.CopyN(w, rand.Reader, payload); return err },
		end, // mdat
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
