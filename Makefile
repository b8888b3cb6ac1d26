# scandrop — build, test, benchmark.
#
#   make test    the whole test suite, with the real S3 server and the
#                system programs (scripts/install-test-deps) it needs,
#                then every fuzz target for 10,000 executions (fuzz-smoke)
#   make fuzz    every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m)
#   make build   ./scandrop for this machine
#   make cross   binaries for linux/amd64+arm64, windows/amd64, darwin/arm64 in dist/
#   make dist    the release, offline, into dist/: archives for 7 platforms,
#                .deb/.rpm, the OCI image, checksums (docs/install.md)
#   make dist-test  make dist's artifacts built and checked (TestDist, all platforms)

GO        ?= go
TOOLS     := $(CURDIR)/.tools/bin
VERSITYGW := $(TOOLS)/versitygw
GORELEASER := $(TOOLS)/goreleaser
MINIO     := $(TOOLS)/minio
RCLONE    := $(TOOLS)/rclone
NAS_REPORT := $(CURDIR)/.tools/nas-tests.txt
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE      := $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
VERSION   ?= dev
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: test build cross tools vet demo test-deps

test: tools test-deps
	$(GO) vet ./...
	@rm -f $(NAS_REPORT)
	SCANDROP_VERSITYGW=$(VERSITYGW) SCANDROP_NAS_REPORT=$(NAS_REPORT) $(GO) test -race -count=1 -timeout 30m ./...
	@echo "NAS tests (Samba, FUSE):"; sed 's/^/  /' $(NAS_REPORT) 2>/dev/null || echo "  none ran"
	$(MAKE) fuzz-smoke

# Fuzz targets of the parsers of a drop's bytes, as package:target.
# fuzz-smoke (in make test) runs each for FUZZSMOKE executions (10000x:
# about a minute in all); `make fuzz FUZZTIME=10m` is the long run. The
# smoke run counts executions rather than time: with a duration, Go 1.26's
# fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when its time ends on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27), and make test must not flake on that. -fuzz takes one target
# per go test, hence the loop. Crashers land in the package's
# testdata/fuzz/<target>/, where they join the seed corpus.
FUZZ_TARGETS := \
	./vendors/aholo/internal/media:FuzzProbeJPEG \
	./vendors/aholo/internal/media:FuzzProbePNG \
	./vendors/aholo/internal/media:FuzzProbeVideo \
	./vendors/aholo:FuzzRecon \
	./vendors/realsee:FuzzManifest \
	./vendors/realsee:FuzzPanorama \
	./vendors/realsee:FuzzZipLayout
FUZZTIME ?= 5s
FUZZSMOKE ?= 10000x

.PHONY: fuzz fuzz-smoke
fuzz-smoke:
	@$(MAKE) -s fuzz FUZZTIME=$(FUZZSMOKE)

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -timeout 0 -parallel 2 "$${t%%:*}"; \
	done

tools: $(VERSITYGW) $(GORELEASER)

# The system programs the NAS tests drive (Samba, bindfs): installed with
# apt-get when missing and root; otherwise those tests skip, saying why.
# The list is in the script.
test-deps:
	@sh scripts/install-test-deps

# The S3 server the tests upload to, pinned by tools/go.mod (a module of
# its own, so its dependencies stay out of scandrop's) and installed once
# into .tools/; from the module cache it installs offline.
$(VERSITYGW): tools/go.mod tools/go.sum
	cd tools && GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o scandrop ./cmd/scandrop

cross:
	GOOS=linux   GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/scandrop-linux-amd64 ./cmd/scandrop
	GOOS=linux   GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/scandrop-linux-arm64 ./cmd/scandrop
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/scandrop-windows-amd64.exe ./cmd/scandrop
	GOOS=darwin  GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/scandrop-darwin-arm64 ./cmd/scandrop

demo:
	$(GO) run ./cmd/scandrop demo

# The benchmark (docs/performance.md): scandrop end to end against a bare
# SDK upload of the ready zip and zip+SDK, on MinIO and versitygw on
# loopback. BENCH_FLAGS=-quick for the 100 MiB-only run; results go to
# bench-results/<time>.json and one line per run to bench-results/history.jsonl.
.PHONY: bench
bench: tools $(MINIO) $(RCLONE)
	SCANDROP_VERSITYGW=$(VERSITYGW) SCANDROP_MINIO=$(MINIO) $(GO) run ./cmd/scandrop-bench $(BENCH_FLAGS)

# rclone, the baseline of the WAN runs (`rclone copy` through the same
# link), pinned by version and installed once into .tools/ (a large build,
# niced); the benchmark takes .tools/bin/rclone first.
$(RCLONE):
	GOBIN=$(TOOLS) nice $(GO) install github.com/rclone/rclone@v1.76.0

# MinIO, the fast S3 server the benchmark needs (the tests do not: `make
# test` does not build it). Pinned in tools/minio/go.mod, a module of its
# own so that its dependencies never move versitygw's or goreleaser's; a
# large build (minutes), done once, niced.
$(MINIO): tools/minio/go.mod tools/minio/go.sum
	cd tools/minio && GOBIN=$(TOOLS) nice $(GO) install github.com/minio/minio

# The release (issue 11): goreleaser, pinned in tools/go.mod like versitygw,
# in snapshot mode (nothing published), then the container image from the
# linux binaries it built (tools/ociimage: no Docker daemon needed).
.PHONY: dist dist-test
$(GORELEASER): tools/go.mod tools/go.sum
	cd tools && GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/goreleaser/v2

DIST_ENV := SCANDROP_COMMIT=$(shell git rev-parse HEAD 2>/dev/null) SCANDROP_SHORT_COMMIT=$(COMMIT) \
	SCANDROP_DATE=$(DATE) SOURCE_DATE_EPOCH=$(shell git log -1 --format=%ct 2>/dev/null)
dist: $(GORELEASER)
	$(DIST_ENV) $(GORELEASER) release --snapshot --clean --skip=publish $(DIST_FLAGS)
	cd tools && $(DIST_ENV) $(GO) run ./ociimage -dist $(CURDIR)/dist

# The full check of the release: every platform built, the .deb unpacked,
# verified and installed into a throwaway root, the image run. `make test`
# runs the cheap slice of the same test (linux/amd64 only).
dist-test: $(GORELEASER)
	$(DIST_ENV) SCANDROP_GORELEASER=$(GORELEASER) SCANDROP_DIST_FULL=1 $(GO) test -count=1 -timeout 30m -run 'TestDist' -v ./packaging/
