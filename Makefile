# imggen: build, test, fuzz. `make test` is what CI runs (.ci/run).

GO       ?= go
FUZZTIME ?= 10s

.PHONY: build test fuzz bench clean

# The binary lands in the repository root (ignored by git).
build:
	$(GO) build -o imggen ./cmd/imggen

# The suite runs twice: with the assembly kernels this CPU supports, and
# with the portable Go kernels (-tags purego) other CPUs get.
test:
	$(GO) vet ./...
	$(GO) test ./...
	$(GO) vet -tags purego ./...
	$(GO) test -tags purego ./...

# A short run of every fuzz target, one at a time (go test -fuzz takes one
# target per invocation). Raise FUZZTIME for a longer session.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME); \
		done; \
	done

# Benchmarks on Stable Diffusion 1.5's exact shapes with random weights (see
# README, "Benchmarks"). The checkpoints are made once under $(BENCH_DIR)
# (ignored by git): f16 (2.13 GB), and f32 (4.27 GB) when the disk has room;
# then `imggen bench` runs every size in BENCH_SIZES on the BENCH_DTYPES
# checkpoints. Override any of these: make bench BENCH_SIZES=256 BENCH_DTYPES="f16 f32"
BENCH_DIR     ?= bench
BENCH_SIZES   ?= 256 512
BENCH_DTYPES  ?= f16
BENCH_STEPS   ?= 2
BENCH_THREADS ?= 2
BENCH_FLAGS   ?=

bench: build
	@mkdir -p $(BENCH_DIR)
	$(GO) build -o bin/mkcheckpoint ./cmd/mkcheckpoint
	@if [ ! -f $(BENCH_DIR)/sd15-random-f16.safetensors ]; then \
		./bin/mkcheckpoint -o $(BENCH_DIR)/sd15-random-f16.safetensors --dtype f16 || exit 1; \
	fi
	@if [ ! -f $(BENCH_DIR)/sd15-random-f32.safetensors ]; then \
		./bin/mkcheckpoint -o $(BENCH_DIR)/sd15-random-f32.safetensors --dtype f32 || \
		echo "make bench: no f32 checkpoint (see above); the f16 one is enough for the default run"; \
	fi
	@set -e; for dt in $(BENCH_DTYPES); do for s in $(BENCH_SIZES); do \
		echo "== imggen bench: SD 1.5 shapes, random weights, $$dt, $${s}x$${s}, $(BENCH_STEPS) steps, cfg 7.5, $(BENCH_THREADS) threads"; \
		./imggen bench -m $(BENCH_DIR)/sd15-random-$$dt.safetensors -W $$s -H $$s --steps $(BENCH_STEPS) \
			--cfg-scale 7.5 --sampler euler --threads $(BENCH_THREADS) $(BENCH_FLAGS); \
		echo; \
	done; done

clean:
	rm -f imggen bin/mkcheckpoint
