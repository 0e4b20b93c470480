# For people: `make install` (the CLI on PATH), `make demo` and `make test`. Everything else is for developers.
SHELL := /bin/bash
.DEFAULT_GOAL := build

STAMP_DEPS := node_modules/.tongxing-installed
STAMP_BUILD := dist/.tongxing-built
SOURCES := $(shell find federation node simulations bench gen -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
# The operator console (console/, Vite): it bundles the pure federation modules it shares (data-spec rows, publication periods).
STAMP_CONSOLE := dist/console/index.html
CONSOLE_SOURCES := $(shell find console -type f -not -name '*.test.ts' 2>/dev/null) $(shell find federation gen -name '*.ts' -not -name '*.test.ts' 2>/dev/null)

.PHONY: build demo test check bench fuzz sim-soak generate clean release install uninstall

# Reinstall when package.json or the lock file changes (npm ci: exactly the lock file).
$(STAMP_DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error 1>&2
	@touch $@

$(STAMP_BUILD): $(STAMP_DEPS) $(SOURCES) tsconfig.json tsconfig.build.json
	npx tsc -p tsconfig.build.json
	@touch $@

$(STAMP_CONSOLE): $(STAMP_DEPS) $(CONSOLE_SOURCES)
	npx vite build --config console/vite.config.ts

build: $(STAMP_BUILD) $(STAMP_CONSOLE)

# KEEP=1: the nodes stay up for the operator console (its address and a sign-in are printed) until Ctrl-C.
demo: build
	node bin/tongxing.js demo $(if $(KEEP),--keep)

test: build
	npx vitest run

# Read-only: types (tests included: tsconfig.json; the console's modules: console/tsconfig.json), proto lint, no breaking wire change since
# the last release (scripts/buf-breaking.sh), generated code matches proto/ (gen/) and the test probe (test/gen/).
check: $(STAMP_DEPS)
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p console/tsconfig.json
	npx buf lint
	scripts/buf-breaking.sh
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  npx buf generate --output "$$tmp" && npx buf generate --template test/buf.gen.yaml --output "$$tmp" && \
	  diff -r "$$tmp/gen" gen > /dev/null && diff -r "$$tmp/test/gen" test/gen > /dev/null || { echo "gen/ or test/gen/ is stale: run 'make generate' and commit"; exit 1; }
	@echo "check: ok"

generate: $(STAMP_DEPS)
	rm -rf gen test/gen && npx buf generate && npx buf generate --template test/buf.gen.yaml

# Hundreds of seeded alliances, each with its own size, links and fault mix (minutes, one
# core): every invariant must hold for every seed; failing seeds print their replay
# command and get a chart under reports/. Not part of `make test`. SEEDS=n to change.
sim-soak: build
	node dist/simulations/cli.js --scenario soak --seeds $(or $(SEEDS),300)

bench: build
	node dist/bench/main.js

# A million seeded hostile requests to every path of the HTTP/JSON API (minutes, one core):
# no 5xx, nothing written, bounded memory; prints its figures (docs/HTTP.md, "Fuzzing") and
# the replay command of any failing request. `make test` sends 100,000. REQUESTS=n, SEED=s.
fuzz: build
	node dist/bench/fuzz.js --requests $(or $(REQUESTS),1000000) $(if $(SEED),--seed $(SEED))

# The release tarball (docs/OPERATIONS.md, "Install"): the built CLI and node with every runtime
# dependency bundled (package.json bundleDependencies), so `npm install -g TARBALL --offline`
# needs nothing else: no registry, no npm cache, no compiler (level's binary is prebuilt for
# linux/darwin/win32 on x64 and arm64). `make clean release` packs from a fresh build.
RELEASE_DIR ?= release
VERSION = $(shell node -p 'require("./package.json").version')
TARBALL = $(RELEASE_DIR)/tongxing-$(VERSION).tgz

release: build
	@mkdir -p "$(RELEASE_DIR)"
	npm pack --pack-destination "$(RELEASE_DIR)" --loglevel=error > /dev/null
	@echo "$(TARBALL)"

# `tongxing` on PATH without root: PREFIX/bin/tongxing, the package in PREFIX/lib/node_modules.
# ~/.local/bin is on PATH in most desktop and server distributions; PREFIX=/usr/local as root.
PREFIX ?= $(HOME)/.local

install: release
	npm install --global --prefix "$(PREFIX)" --offline --no-audit --no-fund --loglevel=error "$(TARBALL)"
	@echo "installed $(PREFIX)/bin/tongxing $(VERSION)"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "note: $(PREFIX)/bin is not on PATH; add it (e.g. in ~/.profile)";; esac

uninstall:
	npm uninstall --global --prefix "$(PREFIX)" --loglevel=error tongxing

clean:
	rm -rf dist
