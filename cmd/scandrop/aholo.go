package main

import (
	"log/slog"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo"
)

// newAholo makes the Aholo vendor from its config section.
func newAholo(a *config.Aholo, w world, log *slog.Logger) vendors.Vendor {
	cfg := aholo.Config{
		Endpoint: a.Endpoint, AppKey: a.AppKey, AppSecret: a.AppSecret.Reveal(), AppUID: a.AppUID,
		HTTPClient: w.httpClient, UploadConcurrency: a.UploadConcurrency,
		DownloadAssets: a.DownloadAssets, Clock: w.clock, Logger: log,
	}
	if a.VideoType != nil {
		cfg.VideoType = *a.VideoType
	}
	return aholo.New(cfg)
}
