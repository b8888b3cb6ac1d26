package vendortable

import (
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

func init() {
	register(Entry{
		Name:      "realsee",
		Title:     "Realsee",
		Marker:    "manifest.json",
		ProbeCall: "POST /auth/access_token",
		ClockSkew: "its access tokens expire at a time this machine reads on its own clock, so they are used expired or renewed too often",
		New: func(sec config.Section, env Env) vendors.Vendor {
			r := sec.(*config.Realsee)
			return realsee.New(realsee.Config{
				Endpoint: r.Endpoint, AppKey: r.AppKey, AppSecret: r.AppSecret.Reveal(),
				PartSize: int64(r.PartSize), UploadConcurrency: r.UploadConcurrency,
				HTTPClient: env.HTTPClient, Clock: env.Clock, Logger: env.Logger,
			})
		},
		Offline: func() vendors.Vendor { return realsee.New(realsee.Config{}) },
		Demo: func(poll time.Duration) Fake {
			gw := realseetest.NewServer(realseetest.Options{AppKey: "demo-app-key", AppSecret: "demo-app-secret", ProcessingPolls: 2})
			return Fake{
				Section: &config.Realsee{Endpoint: gw.URL, AppKey: "demo-app-key", AppSecret: "demo-app-secret",
					PollInterval: config.Duration(poll), Timeout: config.Duration(time.Minute),
					PartSize: 5 << 20, UploadConcurrency: 4},
				Close: gw.Close,
			}
		},
	})
}
