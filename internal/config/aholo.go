package config

import (
	"strings"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo"
)

// Aholo is an Aholo (Kujiale open API) account, used for recon.yaml drops.
type Aholo struct {
	// Endpoint is the API's base URL, an absolute http(s) URL; a trailing
	// slash is removed. Default https://openapi.kujiale.com/v2/aholo.
	Endpoint string `yaml:"endpoint"`

	// AppKey is the application key. Required.
	AppKey string `yaml:"app_key"`

	// AppSecret is the application secret. Required, unless AppSecretFile is
	// set; setting both is an error.
	AppSecret Secret `yaml:"app_secret"`

	// AppSecretFile names a file holding the secret; see
	// Realsee.AppSecretFile.
	AppSecretFile string `yaml:"app_secret_file"`

	// AppUID is the user id the API calls act for. Required.
	AppUID string `yaml:"appuid"`

	// PollInterval is the period of task status polling. Default 5s; > 0.
	PollInterval Duration `yaml:"poll_interval"`

	// Timeout is how long to wait for the vendor to finish a task before the
	// job fails as timed out. Default 6h; > 0.
	Timeout Duration `yaml:"timeout"`

	// UploadConcurrency is how many files send their bytes at once per
	// job, at least: more do when round trips dominate, up to 8× this
	// (vendors/aholo). Default 4; at least 1.
	UploadConcurrency int `yaml:"upload_concurrency"`

	// VideoType is the resources[].type code sent for a video. Default 1:
	// the vendor document does not give it, so it is an assumption that can
	// be corrected here without a new release.
	VideoType *int `yaml:"video_type"`

	// DownloadAssets downloads the finished assets (ply, spz, sog) into the
	// job folder before it moves to done/. Default false: result.json holds
	// their URLs either way.
	DownloadAssets bool `yaml:"download_assets"`
}

const (
	defaultAholoEndpoint          = aholo.DefaultEndpoint
	defaultAholoPollInterval      = Duration(pipeline.DefaultPollInterval)
	defaultAholoTimeout           = Duration(aholo.DefaultTimeout)
	defaultAholoUploadConcurrency = aholo.DefaultUploadConcurrency
	defaultAholoVideoType         = aholo.DefaultVideoType
)

func (a *Aholo) Waiting() (poll, timeout time.Duration) {
	return time.Duration(a.PollInterval), time.Duration(a.Timeout)
}

func (a *Aholo) defaults(def func(key string, zero bool) bool) {
	if def("endpoint", a.Endpoint == "") {
		a.Endpoint = defaultAholoEndpoint
	}
	if def("poll_interval", a.PollInterval == 0) {
		a.PollInterval = defaultAholoPollInterval
	}
	if def("timeout", a.Timeout == 0) {
		a.Timeout = defaultAholoTimeout
	}
	if def("upload_concurrency", a.UploadConcurrency == 0) {
		a.UploadConcurrency = defaultAholoUploadConcurrency
	}
	if a.VideoType == nil {
		v := defaultAholoVideoType
		a.VideoType = &v
	}
}

func (a *Aholo) resolve(d *decoder, prefix, base string) {
	a.Endpoint = strings.TrimRight(a.Endpoint, "/")
	d.readSecretFile(prefix+"app_secret", prefix+"app_secret_file", &a.AppSecret, &a.AppSecretFile, base)
}

func (a *Aholo) validate(p string, ck *checker) {
	ck.endpoint(p+"endpoint", a.Endpoint)
	ck.required(p, "app_key", a.AppKey)
	ck.secret(p, a.AppSecret, a.AppSecretFile)
	ck.required(p, "appuid", a.AppUID)
	ck.positive(p+"poll_interval", a.PollInterval)
	ck.positive(p+"timeout", a.Timeout)
	ck.atLeast(p+"upload_concurrency", a.UploadConcurrency, 1)
}

func (a *Aholo) secrets(p string, add func(string, Secret)) { add(p+"app_secret", a.AppSecret) }

func (a *Aholo) warnings(p string, w *warner) {
	w.secretFile(p+"app_secret_file", a.AppSecretFile)
	w.endpoint(p+"endpoint", a.Endpoint)
}

// Credentials implements Section.
func (a *Aholo) Credentials(prefix string) ([]string, string) {
	return []string{prefix + "app_key", prefix + "appuid", secretKey(prefix, a.AppSecretFile)}, a.AppSecretFile
}

// BaseURL implements Section.
func (a *Aholo) BaseURL() string { return a.Endpoint }
