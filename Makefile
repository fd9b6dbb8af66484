# discoterm — see README.md. Every target works on a fresh Debian 12 machine
# with Go >= 1.26; `make deps` (run by test, demo and screenshots) installs
# the Debian packages the tests and the demo fleet need.

GO       ?= go
BIN      := bin/discoterm
DEMO_DIR := $(CURDIR)/.demo
DEMO_N   ?= 6
PKGS     := openssh-server openssh-client iproute2 iputils-ping tmux diffutils procps shellcheck strace busybox-static udhcpc
SHOTPKGS := aha chromium fonts-dejavu-core
# What the netboot VM test boots (cmd/discoterm e2e_vmboot_test.go); test-only.
VMPKGS   := qemu-system-x86 ipxe-qemu linux-image-amd64 busybox-static

.PHONY: build run test bench demo demo-team demo-down lint screenshots deps deps-shots deps-vm clean

build:
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null)" -o $(BIN) ./cmd/discoterm
	$(GO) build -o bin/testfleet ./cmd/testfleet

run: build
	./$(BIN) $(ARGS)

# deps installs what the tests and the demo fleet use, when missing;
# deps-shots adds what rendering screenshots needs; deps-vm what the
# netboot VM test boots (without recommends, and without building an
# initramfs for the kernel: the test makes its own).
deps-shots: PKGS += $(SHOTPKGS)
deps-shots: deps
deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; fi; \
	fi

deps-vm:
	@missing=""; for p in $(VMPKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && INITRD=No DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; fi; \
	fi

# Tests that need root and network namespaces skip with a reason when run
# unprivileged; CI runs them as root (CI=true turns such a skip into a failure).
test: deps deps-vm
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

# Benchmarks whose figures the issues ask for; see README "Performance".
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 40m ./...

# The host programs (engine/remote/*.sh): each file parses on its own, and
# each program's files, linted together as the host runs them (shell.go).
SHDIR    := engine/remote
SHPROGS  := "common.sh probe.sh" "common.sh probe.sh sandbox.sh sandbox_report.sh sandbox_trust.sh" "fetch.sh" "common.sh lock.sh state.sh usage.sh pending.sh apply.sh" "common.sh lock.sh state.sh usage.sh pending.sh comeback.sh apply.sh" "cancel.sh" "prepare.sh" "lock.sh confirm.sh"

lint: deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	cd $(SHDIR) && for f in *.sh; do sh -n $$f || exit 1; done
	cd $(SHDIR) && for p in $(SHPROGS); do cat $$p | shellcheck -s sh - || exit 1; done
	shellcheck -s sh cmd/discoterm/internal/vmtest/*.sh

# demo starts a practice fleet of $(DEMO_N) namespace hosts (root needed),
# registers them in a demo store and opens the console on it.
# Quiet: with ARGS="--batch --json VERB" its stdout is discoterm's alone.
demo: deps
	@$(GO) build -o $(BIN) ./cmd/discoterm
	@$(GO) run ./cmd/demo -dir $(DEMO_DIR) -n $(DEMO_N) -bin $(BIN) -- $(ARGS)

# demo-team runs a NATS server with JetStream inside cmd/demo (nothing to
# install), copies the demo store into it and opens two operators'
# consoles side by side in tmux on that one store.
demo-team: deps build
	$(GO) run ./cmd/demo -dir $(DEMO_DIR) -n $(DEMO_N) -bin $(BIN) -team -- $(ARGS)

demo-down:
	$(GO) run ./cmd/demo -dir $(DEMO_DIR) -down

screenshots: deps-shots build
	$(GO) run ./cmd/demo -dir $(CURDIR)/.shots -screenshots $(CURDIR)/screenshots -bin $(BIN)

clean:
	rm -rf bin
