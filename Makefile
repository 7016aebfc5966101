# hsmentropy — see README.md.
#
# HSMENTROPY_TESTDATA names the directory holding NIST's reference data
# (drbgvectors/, sp800-90b/, sp800-90b-restart/); by default the copy the
# repository carries in testdata/nist.

GO        ?= go
PKGS      ?= ./...
export HSMENTROPY_TESTDATA ?= $(CURDIR)/testdata/nist
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 10s
BENCH     ?= .
BENCHCOUNT ?= 6

.PHONY: all build test race bench fuzz lint testdata clean entropyd install man run faultp11 quality quality-short soak

all: lint build test

build:
	$(GO) build $(PKGS)

# The fault-injecting PKCS#11 module the reliability tests load in front of
# SoftHSM (internal/faultp11), built with the system C compiler and the
# PKCS#11 headers that github.com/miekg/pkcs11 ships. Tests find it through
# HSMENTROPY_FAULTP11; without it they build it themselves.
CC        ?= cc
FAULTP11   = bin/libfaultp11.so
export HSMENTROPY_FAULTP11 ?= $(CURDIR)/$(FAULTP11)

$(FAULTP11): internal/faultp11/c/faultp11.c go.mod
	@mkdir -p bin
	$(GO) mod download github.com/miekg/pkcs11
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -I"$$($(GO) list -m -f '{{.Dir}}' github.com/miekg/pkcs11)" \
	  -o $@ internal/faultp11/c/faultp11.c -ldl -lpthread

faultp11: $(FAULTP11)

# The README's test command. -race is included: the packages are concurrent.
# The race detector slows the health tester about fortyfold, so under it
# TestCryptoRand checks 128 MiB of crypto/rand output, and the IID track's
# full 10,000-shuffle run skips; the second pass runs both without -race
# (TestCryptoRand over the full 1 GiB). Both passes go through testreport
# (internal/cmd/testreport), which ends with the count of skipped tests and
# each one's reason; with HSMENTROPY_REQUIRE_NO_SKIPS=1 (CI) a skip not on
# .ci/allowed-skips fails. health/assess takes about 8 minutes under -race on
# a loaded 2-core machine, near go test's default 10-minute timeout: hence
# -timeout 30m.
NORACE_TESTS = ^(TestCryptoRand|TestIIDVerdictsMatchTool)$$
test: $(FAULTP11)
	GO='$(GO)' $(GO) run ./internal/cmd/testreport --allow .ci/allowed-skips \
	  -- -race -count=1 -timeout 30m $(PKGS) \
	  -- -count=1 -run '$(NORACE_TESTS)' ./health ./health/assess

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

# Verify the reference data against its checksums (testdata/nist/README.md
# says where each file came from).
testdata:
	cd testdata/nist && sha256sum --quiet -c SHA256SUMS

# entropyd, its systemd unit and a sample configuration (kept if present).
# DESTDIR stages the files for a package.
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
UNITDIR   ?= /etc/systemd/system
CONFDIR   ?= /etc/entropyd
MANDIR    ?= $(PREFIX)/share/man

entropyd:
	$(GO) build -trimpath -o bin/entropyd ./cmd/entropyd

install: entropyd
	install -D -m 0755 bin/entropyd $(DESTDIR)$(SBINDIR)/entropyd
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/sbin/entropyd|$(SBINDIR)/entropyd|' -e 's|/etc/entropyd/|$(CONFDIR)/|g' \
	  contrib/systemd/entropyd.service > $(DESTDIR)$(UNITDIR)/entropyd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/entropyd.service
	install -d -m 0750 $(DESTDIR)$(CONFDIR)
	test -e $(DESTDIR)$(CONFDIR)/entropyd.conf || install -m 0640 contrib/entropyd.conf $(DESTDIR)$(CONFDIR)/entropyd.conf
	install -D -m 0644 contrib/entropyd.8 $(DESTDIR)$(MANDIR)/man8/entropyd.8
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then \
	  systemctl daemon-reload; \
	  echo "installed; start it with: systemctl enable --now entropyd"; \
	fi

# The Debian package, bin/entropyd_VERSION_ARCH.deb, built with dpkg-deb
# from the commit checked out (scripts/build-deb.sh says what is in it).
# The man page is taken from MANPAGE when that file exists.
.PHONY: deb
MANPAGE ?= contrib/entropyd.8
deb:
	MANPAGE=$(MANPAGE) GO=$(GO) ./scripts/build-deb.sh

# contrib/entropyd.8 is made from entropyd's --help texts (the option table
# of cmd/entropyd); TestManPage fails when they differ. Regenerate it after
# changing them.
man:
	$(GO) test -count=1 -run '^TestManPage$$' ./cmd/entropyd -update

# The README's first command: a SoftHSM token in .local/entropyd, entropyd
# running against it, metrics on localhost.
run:
	./scripts/run-local.sh

# Reader output through statistical test suites (scripts/quality.sh):
# quality streams SIZE bytes (1 GiB) through ent and an endless stream
# through dieharder -a (about 40 minutes); quality-short, which CI runs, a few
# MB through ent and entropyd assess --iid.
quality:
	./scripts/quality.sh full

quality-short:
	./scripts/quality.sh short

# entropyd and an hsmrand Reader on a SoftHSM token behind the fault module
# for SOAK, rounded up to whole cycles of 13 phases (10 s each, -phase),
# at least two, the faults cycling (internal/cmd/soak): fails when
# entropyd's memory, goroutines, threads or descriptors grow beyond the
# bounds in internal/cmd/soak/bounds.go, or when a 32-byte read repeats.
# CI runs SOAK=4m with 3-second phases (SOAKFLAGS=-phase=3s); the README's
# Soak section records an hour (SOAK=60m). SOAKFLAGS adds options, e.g.
# -out DIR to keep entropyd's log and heap profiles.
SOAK      ?= 3m
SOAKFLAGS ?=

soak: $(FAULTP11) entropyd
	$(GO) build -o bin/soak ./internal/cmd/soak
	bin/soak -duration $(SOAK) -entropyd bin/entropyd -module $(FAULTP11) $(SOAKFLAGS)

clean:
	rm -rf bin

# The Vault integration is a module of its own (integrations/vault/go.mod),
# so ./... above does not reach it; so is its transit end-to-end test
# (integrations/vault/transit), which needs the main Vault module.
.PHONY: vault-test
vault-test:
	cd integrations/vault && $(GO) test -race -count=1 ./...
	cd integrations/vault/transit && $(GO) test -race -count=1 ./...
