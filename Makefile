# imggen: build, test, fuzz. `make test` is what CI runs (.ci/run).

GO       ?= go
FUZZTIME ?= 10s

.PHONY: build test fuzz bench bench-sdxl clean dataset train reference eval check-trainer

# The binary lands in the repository root (ignored by git).
build:
	$(GO) build -o imggen ./cmd/imggen

# The suite runs twice: with the assembly kernels this CPU supports, and
# with the portable Go kernels (-tags purego) other CPUs get. Vet for macOS
# and Windows type-checks the files this system does not build.
test:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
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

# SDXL base's exact shapes with random weights (opt-in: the f16 checkpoint is
# 6.94 GB, and a 1024x1024 step takes minutes on 2 cores). SDXL_SIZES and
# SDXL_STEPS as above; SDXL-Turbo-style runs: make bench-sdxl SDXL_FLAGS="--cfg-scale 0"
SDXL_SIZES ?= 1024
SDXL_STEPS ?= 2
SDXL_FLAGS ?= --cfg-scale 5

bench-sdxl: build
	@mkdir -p $(BENCH_DIR)
	$(GO) build -o bin/mkcheckpoint ./cmd/mkcheckpoint
	@if [ ! -f $(BENCH_DIR)/sdxl-random-f16.safetensors ]; then \
		./bin/mkcheckpoint -o $(BENCH_DIR)/sdxl-random-f16.safetensors --arch sdxl --dtype f16 || exit 1; \
	fi
	@set -e; for s in $(SDXL_SIZES); do \
		echo "== imggen bench: SDXL base shapes, random weights, f16, $${s}x$${s}, $(SDXL_STEPS) steps, $(BENCH_THREADS) threads"; \
		./imggen bench -m $(BENCH_DIR)/sdxl-random-f16.safetensors -W $$s -H $$s --steps $(SDXL_STEPS) \
			--sampler euler --threads $(BENCH_THREADS) $(SDXL_FLAGS); \
		echo; \
	done

# The built-in model (README, "The built-in model"; train/README.md). The
# trainer is a maintainer's tool in Python (PyTorch); the tool and its tests
# never need it.
PYTHON     ?= python3
WORLD_DIR  ?= data/world
WORLD_N    ?= 160000
MODEL_OUT  ?= data/model/builtin
CKPT       ?= data/train.ckpt
TRAIN_FLAGS ?=

# Render the training world: WORLD_N scenes, 4 captions each (~8 GB at the default).
dataset:
	$(GO) build -o bin/mkworld ./cmd/mkworld
	./bin/mkworld -n $(WORLD_N) -seed 1 -k 4 -split train -out $(WORLD_DIR)

# Train (or resume: the checkpoint records the seconds spent in each phase)
# and export a diffusers folder; copy it to weights/builtin to ship it.
train:
	@test -f $(WORLD_DIR)/info.json || $(MAKE) dataset
	$(PYTHON) train/train.py --data $(WORLD_DIR) --ckpt $(CKPT) --export $(MODEL_OUT) $(TRAIN_FLAGS)

# The trainer's networks against the reference fixtures (diffusers' outputs).
check-trainer:
	$(PYTHON) train/check_models.py

# Reference tensors of the shipped model for the Go parity test.
reference: build
	$(GO) build -o bin/mkworld ./cmd/mkworld
	@mkdir -p data
	./bin/mkworld -n 1 -seed 99 -k 1 -split heldout -out data/reference-image
	( ./imggen tokenize --json "sunset over the sea, oil painting"; \
	  ./imggen tokenize --json "a red boat on the sea at night, pixel art"; \
	  ./imggen tokenize --json "" ) > data/reference-ids.jsonl
	$(PYTHON) train/export_reference.py weights/builtin data/reference-ids.jsonl \
		data/reference-image/images.u8 testdata/builtin/reference.safetensors

# Score the built-in model with the judge (report and contact sheet in eval/).
eval:
	$(GO) run ./cmd/worldeval -out eval

clean:
	rm -f imggen bin/mkcheckpoint bin/mkworld
