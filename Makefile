# hsmentropy — see README.md.
#
# HSMENTROPY_TESTDATA names the directory holding NIST's reference data
# (drbgvectors/, sp800-90b/). Tests that need it skip without it, unless
# HSMENTROPY_REQUIRE_TESTDATA=1 (set by .ci/run), where a missing file fails.

GO        ?= go
PKGS      ?= ./...
TESTDATA  ?= $(abspath ../shared/testdata)
export HSMENTROPY_TESTDATA ?= $(if $(wildcard $(TESTDATA)),$(TESTDATA),$(CURDIR)/testdata/nist)
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 10s
BENCH     ?= .
BENCHCOUNT ?= 6

.PHONY: all build test race bench fuzz lint testdata clean

all: lint build test

build:
	$(GO) build $(PKGS)

# The README's test command. -race is included: the packages are concurrent.
test:
	$(GO) test -race -count=1 $(PKGS)

race: test

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) $(PKGS)

# A short pass of every fuzz target (go test runs one -fuzz target at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

# Fetch NIST's published reference data into testdata/nist (needs internet;
# CI uses ../shared/testdata instead).
testdata:
	./scripts/fetch-testdata.sh testdata/nist

clean:
	rm -rf bin
