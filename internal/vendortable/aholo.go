package vendortable

import (
	"log/slog"
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

func init() {
	register(Entry{
		Name:      "aholo",
		Title:     "Aholo",
		Marker:    "recon.yaml",
		ProbeCall: "GET /upload/token",
		ClockSkew: "every call is signed with a timestamp the service checks, and refuses when too far off",
		New: func(sec config.Section, env Env) vendors.Vendor {
			a := sec.(*config.Aholo)
			cfg := aholo.Config{
				Endpoint: a.Endpoint, AppKey: a.AppKey, AppSecret: a.AppSecret.Reveal(), AppUID: a.AppUID,
				HTTPClient: env.HTTPClient, UploadConcurrency: a.UploadConcurrency,
				DownloadAssets: a.DownloadAssets, Clock: env.Clock, Logger: env.Logger,
			}
			if a.VideoType != nil {
				cfg.VideoType = *a.VideoType
			}
			return aholo.New(cfg)
		},
		Offline: func() vendors.Vendor {
			return aholo.New(aholo.Config{Logger: slog.New(slog.DiscardHandler)})
		},
		Demo: func(poll time.Duration) Fake {
			ah := aholotest.NewServer(aholotest.Options{AppKey: "demo-app-key", AppSecret: "demo-app-secret", AppUID: "demo-uid",
				ProcessingPolls: 3})
			return Fake{
				Section: &config.Aholo{Endpoint: ah.URL, AppKey: "demo-app-key", AppSecret: "demo-app-secret", AppUID: "demo-uid",
					PollInterval: config.Duration(poll), Timeout: config.Duration(time.Minute)},
				TrustPEM: aholotest.CertPEM(),
				Close:    ah.Close,
			}
		},
	})
}
