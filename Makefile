# scandrop — build, test, benchmark.
#
#   make test    the whole test suite, with the real S3 server and the
#                system programs (scripts/install-test-deps) it needs
#   make build   ./scandrop for this machine
#   make cross   binaries for linux/amd64+arm64, windows/amd64, darwin/arm64 in dist/

GO        ?= go
TOOLS     := $(CURDIR)/.tools/bin
VERSITYGW := $(TOOLS)/versitygw
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION   ?= dev
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: test build cross tools vet demo test-deps

test: tools test-deps
	$(GO) vet ./...
	SCANDROP_VERSITYGW=$(VERSITYGW) $(GO) test -race -count=1 -timeout 30m ./...

tools: $(VERSITYGW)

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

# The benchmark of issue 6 (docs/performance.md): scandrop end to end against
# zip+rclone and a bare SDK upload, on a local versitygw. BENCH_FLAGS=-quick
# for the 100 MiB-only run; results go to bench-results/<date>.json.
.PHONY: bench
bench: tools
	SCANDROP_VERSITYGW=$(VERSITYGW) $(GO) run ./cmd/scandrop-bench $(BENCH_FLAGS)
