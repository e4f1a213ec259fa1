# The README's two commands are `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN     := bin/wiretop
ARGS    ?=

.PHONY: run test build deps vet bench fuzz clean agree-vnstat test-loop

## run: build and start the TUI on the default-route interface (ARGS="..." adds flags)
run: deps build
	./$(BIN) $(ARGS)

## test: the whole suite (root runs the namespace labs too; CI runs this)
test: deps
	test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above are not formatted"; exit 1; }
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./sampler ./monitor ./capture/...
	$(GO) test -count=1 -timeout 30m ./...

## agree-vnstat: vnstat's daemon and wiretop daemon on one lab veth for three 5-minute buckets of iperf3 (about 20 minutes, root)
agree-vnstat: deps
	WIRETOP_AGREE=1 $(GO) test -count=1 -run '^TestAgreeVnstat$$' -v -timeout 40m .

## test-loop: make test N times on a clean clone, then once with every core busy (N=10, about 10 minutes a run, root)
N ?= 10
test-loop: deps
	./scripts/test-loop.sh $(N)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

deps:
	@./scripts/deps.sh

## bench: Go benchmarks of the hot paths, and the sampler tick at 10,000 sockets (see docs/bench.md)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run every fuzz target for FUZZTIME each (default 60s)
FUZZTIME ?= 60s
fuzz:
	@for pkg in ./sampler ./capture ./detect; do \
		for t in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
			echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; done; done

clean:
	rm -rf bin
