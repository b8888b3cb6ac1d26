// Package aholo sends drops to Kujiale's Aholo 3D reconstruction open API:
// the photos and videos of a folder marked by recon.yaml are uploaded
// through OUS (Kujiale's upload service, in blocks for large files, resumable
// across restarts), a create-3d-recon project is made from them, and its
// task is polled until the PLY/SPZ/SOG assets are ready.
//
// aholotest beside it is a fake of both services for tests and the demo.
package aholo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/dropname"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/internal/media"
	"github.com/scandrop/scandrop/vendors/dropfs"
	"github.com/scandrop/scandrop/vendors/internal/stall"
)

// DefaultEndpoint is the production open-API base.
const DefaultEndpoint = "https://openapi.kujiale.com/v2/aholo"

// Defaults of the vendor's settings: the one home of each (internal/config
// applies them to its aholo: section).
const (
	DefaultUploadConcurrency = 4
	// DefaultVideoType is resources[].type for a video (see Config).
	DefaultVideoType = 1
	// DefaultTimeout is how long a reconstruction may take, from its
	// create, before the job fails as timeout: they take hours.
	DefaultTimeout = 6 * time.Hour
)

// Config configures the Aholo vendor. The zero value of every field but the
// credentials is a working default.
type Config struct {
	// Endpoint is the open-API base, path included.
	// Default DefaultEndpoint; the sandbox is
	// https://sandbox-openapi.kujiale.com/v2/aholo.
	Endpoint string
	// AppKey, AppSecret and AppUID are the open-platform credentials that
	// sign every call (see OpenAPISigner).
	AppKey, AppSecret, AppUID string
	// Signer, if set, replaces the open-platform signature made from
	// AppKey/AppSecret/AppUID.
	Signer Signer
	// HTTPClient is used for every call. Default: a client without an
	// overall timeout (uploads are long); each call has its own bound.
	HTTPClient *http.Client
	// StallTimeout is how long a connection may move no byte, either way,
	// before the request fails as stalled (a transient error, retried).
	// Default DefaultStallTimeout; negative turns the guard off. It applies
	// when HTTPClient's transport is an *http.Transport (or nil).
	StallTimeout time.Duration
	// UploadConcurrency is how many files send their bytes at once, at
	// least. Default 4. Files fetching their token or waiting for OUS's
	// status do not count; when round trips dominate (small files, a long
	// RTT) more files send at once, up to 8 times this (at most 64). Each
	// file larger than a block sends two blocks at once.
	UploadConcurrency int
	// VideoType is resources[].type for a video. Default 1: the quickstart
	// only documents 0 = image, so this is an assumption kept configurable.
	VideoType int
	// DownloadAssets makes Finish download the result files into
	// <drop>/assets/. recon.yaml's download_assets overrides it per drop.
	DownloadAssets bool
	// MaxAssetBytes bounds each downloaded asset. Default MaxAssetBytes.
	MaxAssetBytes int64
	// UploadStatusTimeout bounds the wait for OUS to finish one file after
	// its bytes are sent. Default 5 minutes.
	UploadStatusTimeout time.Duration
	// Clock is the time source for signatures and waits. Default the
	// system clock.
	Clock vendors.Clock
	// Logger receives one line per event. Default: discard.
	Logger *slog.Logger
}

// Vendor is the Aholo implementation of vendors.Vendor.
type Vendor struct {
	cfg    Config
	client *client
}

var _ vendors.Vendor = (*Vendor)(nil)

// New returns a Vendor for cfg. It makes no network call; bad credentials
// show on the first call as an Auth error.
func New(cfg Config) *Vendor {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	cfg.HTTPClient = stall.Guard(cfg.HTTPClient, cfg.StallTimeout)
	if cfg.UploadConcurrency <= 0 {
		cfg.UploadConcurrency = DefaultUploadConcurrency
	}
	if cfg.VideoType == 0 {
		cfg.VideoType = DefaultVideoType
	}
	if cfg.UploadStatusTimeout <= 0 {
		cfg.UploadStatusTimeout = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = vendors.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Credentials go only where each request was sent (vendors.GuardRedirects).
	cfg.HTTPClient = vendors.GuardRedirects(cfg.HTTPClient, cfg.Logger)
	if cfg.Signer == nil {
		cfg.Signer = newSecretSigner(OpenAPISigner{AppKey: cfg.AppKey, AppSecret: cfg.AppSecret, AppUID: cfg.AppUID, Clock: cfg.Clock})
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" {
		// Keep going with an endpoint every call will refuse, so that the
		// problem surfaces as a job error naming it.
		u = &url.URL{Scheme: "invalid", Host: "invalid-endpoint"}
	}
	return &Vendor{cfg: cfg, client: &client{
		endpoint: u,
		signer:   cfg.Signer,
		http:     cfg.HTTPClient,
		clock:    cfg.Clock,
		log:      cfg.Logger,
	}}
}

// Name is "aholo".
func (v *Vendor) Name() string { return "aholo" }

// Marker is "recon.yaml".
func (v *Vendor) Marker() string { return Marker }

// file is one resource of a drop, as Open finds it and Package records it.
type file struct {
	Name     string     `json:"name"`
	Kind     media.Kind `json:"kind"`
	Size     int64      `json:"size"`
	Width    int        `json:"width"`
	Height   int        `json:"height"`
	Duration float64    `json:"duration,omitempty"`
	MD5      string     `json:"md5,omitempty"`
	// Stamp is the file as Open validated it; Package and Upload read it
	// only while it still matches.
	Stamp dropfs.Stamp `json:"stamp"`
}

// Open reads recon.yaml and every resource's headers, and reports every
// problem at once as an Invalid error. It makes no network call.
func (v *Vendor) Open(ctx context.Context, dir string) (vendors.Job, error) {
	const op = "aholo: open"
	folder := filepath.Base(dir)
	var ps vendors.Problems

	f, _, err := dropfs.Open(dir, Marker)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			ps.Add(Marker, "missing; an Aholo drop needs a recon.yaml at the folder's root (it may be empty)")
		} else {
			ps.Add(Marker, "%v", err)
		}
		return nil, ps.Err(op)
	}
	data, err := readRecon(f)
	f.Close()
	if err != nil {
		ps.Add(Marker, "%v", err)
		return nil, ps.Err(op)
	}
	r, rps := parseRecon(data, folder)
	ps.Merge(rps)

	names, links, err := listFiles(dir)
	if err != nil {
		return nil, vendors.E(vendors.Invalid, op, fmt.Errorf("listing %s: %w", folder, err))
	}
	selected := selectResources(&r, names, links, &ps)
	j := &Job{v: v, dir: dir, recon: r,
		log: v.cfg.Logger.With("folder", folder, "vendor", "aholo")}
	for _, name := range selected {
		if err := ctx.Err(); err != nil {
			return nil, vendors.E(vendors.Transient, op, err)
		}
		fi, ok := probe(dir, name, &ps)
		if ok {
			j.files = append(j.files, fi)
		}
	}

	j.cover = r.Cover
	switch {
	case r.Cover != "":
		at := fmt.Sprintf("%s:%d", Marker, r.coverLine)
		idx := j.index(r.Cover)
		switch {
		case !contains(selected, r.Cover):
			ps.Add(at, "cover: %q is not among the resources; name one of the images listed under resources", r.Cover)
		case idx >= 0 && j.files[idx].Kind != media.Image:
			ps.Add(at, "cover: %q is a video; the cover must be an image", r.Cover)
		}
	default:
		for _, f := range j.files {
			if f.Kind == media.Image {
				j.cover = f.Name
				break
			}
		}
		if j.cover == "" && len(j.files) > 0 {
			ps.Add(Marker, "cover: the resources hold no image to use as the cover; add a JPEG/PNG to the folder and name it in cover:")
		}
	}
	if err := ps.Err(op); err != nil {
		return nil, err
	}
	return j, nil
}

// probe checks one selected resource and reads its metadata.
func probe(dir, name string, ps *vendors.Problems) (file, bool) {
	if err := dropfs.CheckName(name); err != nil {
		ps.Add(name, "unusable name: %v; rename the file", err)
		return file{}, false
	}
	if dropname.Ignored(name) {
		ps.Add(name, "hidden or temporary file; rename it if it is a capture")
		return file{}, false
	}
	kind, ok := media.KindOf(name)
	if !ok {
		ps.Add(name, "not an image (jpg, jpeg, png) or video (mp4, mov); narrow the resources patterns in %s", Marker)
		return file{}, false
	}
	f, fi, err := dropfs.Open(dir, name)
	if err != nil {
		ps.Add(name, "%v", err)
		return file{}, false
	}
	defer f.Close()
	info, err := media.Probe(f, fi.Size(), name)
	if err != nil {
		ps.Add(name, "%v", err)
		return file{}, false
	}
	return file{Name: name, Kind: kind, Size: fi.Size(), Width: info.Width, Height: info.Height, Duration: info.Duration,
		Stamp: dropfs.StampOf(fi)}, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
