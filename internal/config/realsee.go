package config

import (
	"strings"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/realsee"
)

// Realsee is a Realsee open platform account, used for manifest.json drops.
type Realsee struct {
	// Endpoint is the gateway's base URL, an absolute http(s) URL; a trailing
	// slash is removed. Default https://app-gateway.realsee.cn (mainland
	// China); accounts of the global site use https://app-gateway.realsee.ai.
	Endpoint string `yaml:"endpoint"`

	// AppKey is the application key. Required.
	AppKey string `yaml:"app_key"`

	// AppSecret is the application secret. Required, unless AppSecretFile is
	// set; setting both is an error.
	AppSecret Secret `yaml:"app_secret"`

	// AppSecretFile names a file holding the secret (trailing CR/LF removed),
	// for systemd credentials, Docker secrets and the like. Relative paths
	// resolve against the config file's folder. After loading it is absolute
	// and AppSecret holds the file's content.
	AppSecretFile string `yaml:"app_secret_file"`

	// PollInterval is the period of task status polling. Default 5s; > 0.
	PollInterval Duration `yaml:"poll_interval"`

	// Timeout is how long to wait for the vendor to finish a task before the
	// job fails as timed out. Default 2h; > 0.
	Timeout Duration `yaml:"timeout"`

	// PartSize is the multipart upload part size. Default 16MiB; between
	// 5MiB and 5GiB (the object store's limits).
	PartSize ByteSize `yaml:"part_size"`

	// UploadConcurrency is how many parts are in flight at once per job.
	// Default 4; at least 1.
	UploadConcurrency int `yaml:"upload_concurrency"`
}

const (
	defaultRealseeEndpoint          = realsee.DefaultEndpoint
	defaultRealseePollInterval      = Duration(pipeline.DefaultPollInterval)
	defaultRealseeTimeout           = Duration(realsee.DefaultTimeout)
	defaultPartSize                 = ByteSize(realsee.DefaultPartSize)
	defaultRealseeUploadConcurrency = realsee.DefaultUploadConcurrency

	// The object store's multipart limits (S3 and COS alike).
	minPartSize = ByteSize(realsee.MinPartSize)
	maxPartSize = ByteSize(realsee.MaxPartSize)
)

func (r *Realsee) Waiting() (poll, timeout time.Duration) {
	return time.Duration(r.PollInterval), time.Duration(r.Timeout)
}

func (r *Realsee) defaults(def func(key string, zero bool) bool) {
	if def("endpoint", r.Endpoint == "") {
		r.Endpoint = defaultRealseeEndpoint
	}
	if def("poll_interval", r.PollInterval == 0) {
		r.PollInterval = defaultRealseePollInterval
	}
	if def("timeout", r.Timeout == 0) {
		r.Timeout = defaultRealseeTimeout
	}
	if def("part_size", r.PartSize == 0) {
		r.PartSize = defaultPartSize
	}
	if def("upload_concurrency", r.UploadConcurrency == 0) {
		r.UploadConcurrency = defaultRealseeUploadConcurrency
	}
}

func (r *Realsee) resolve(d *decoder, prefix, base string) {
	r.Endpoint = strings.TrimRight(r.Endpoint, "/")
	d.readSecretFile(prefix+"app_secret", prefix+"app_secret_file", &r.AppSecret, &r.AppSecretFile, base)
}

func (r *Realsee) validate(p string, ck *checker) {
	ck.endpoint(p+"endpoint", r.Endpoint)
	ck.required(p, "app_key", r.AppKey)
	ck.secret(p, r.AppSecret, r.AppSecretFile)
	ck.positive(p+"poll_interval", r.PollInterval)
	ck.positive(p+"timeout", r.Timeout)
	if r.PartSize < minPartSize || r.PartSize > maxPartSize {
		ck.reportf(p+"part_size", "%spart_size: %s is outside %s..%s", p, r.PartSize, ByteSize(minPartSize), ByteSize(maxPartSize))
	}
	ck.atLeast(p+"upload_concurrency", r.UploadConcurrency, 1)
}

func (r *Realsee) secrets(p string, add func(string, Secret)) { add(p+"app_secret", r.AppSecret) }

func (r *Realsee) warnings(p string, w *warner) {
	w.secretFile(p+"app_secret_file", r.AppSecretFile)
	w.endpoint(p+"endpoint", r.Endpoint)
}

// Credentials implements Section.
func (r *Realsee) Credentials(prefix string) ([]string, string) {
	keys := []string{prefix + "app_key", secretKey(prefix, r.AppSecretFile),
		// Accounts belong to one region: a global account is refused by
		// the mainland gateway.
		prefix + "endpoint (the account's region)"}
	return keys, r.AppSecretFile
}

// BaseURL implements Section.
func (r *Realsee) BaseURL() string { return r.Endpoint }
