# imggen: build, test, fuzz. `make test` is what CI runs (.ci/run).

GO       ?= go
FUZZTIME ?= 10s

.PHONY: build test fuzz bench clean

# The binary lands in the repository root (ignored by git).
build:
	$(GO) build -o imggen ./cmd/imggen

test:
	$(GO) vet ./...
	$(GO) test ./...

# A short run of every fuzz target, one at a time (go test -fuzz takes one
# target per invocation). Raise FUZZTIME for a longer session.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME); \
		done; \
	done

# Placeholder: benchmarks land with the performance issue.
bench:
	@echo "make bench: not yet; benchmarks land with the performance issue"

clean:
	rm -f imggen
