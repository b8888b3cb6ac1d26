package main

import (
	"log/slog"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/vendors"
)

// newAholo makes the Aholo vendor (nil until it is built).
func newAholo(a *config.Aholo, w world, log *slog.Logger) vendors.Vendor { return nil }
