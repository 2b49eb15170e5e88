# Set-up and checks. `make test` installs what it needs first, so on a fresh
# machine it is the one command that runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROTO  := proto/sanas/v1/sanas.proto
STUBS  := python_client/sanas/v1

TOOLS  := .tools/bin
DASH   := python_client/sanas/dashboard
TOOLS_STAMP := $(TOOLS)/.installed
# Pinned generator and inspection tools (Go module proxy); see tools/gen_clients.py.
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
GRPCURL            := github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
# Kubernetes deployment checks (tests/test_deploy.py): the helm CLI, pinned, and the Go
# checker in deploy/check (strict decode into k8s.io/api, BuildKit's Dockerfile lint).
HELM_VERSION := v3.22.0
HELM_STAMP   := $(TOOLS)/.helm-$(HELM_VERSION)
# promtool checks and unit-tests deploy/monitoring's alert rules (tests/test_monitoring.py).
# Debian's prometheus package brings it: only the package file is fetched and the one
# binary extracted (seconds; building Prometheus' module here took ~14 minutes).
PROMTOOL_STAMP := $(TOOLS)/.promtool-debian
DEPLOY_CHECK := $(TOOLS)/sanas-deploy-check

.PHONY: install system-deps tools deploy-tools proto stubs release-schema release-chart test test-fast lint serve demo bench clean dashboard-vendor

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[paddle,demo,dashboard,dev,tracing]'
	touch $(STAMP)

install: $(STAMP)

# What the other-language clients and the grpcurl tests need: Debian's grpc++, protobuf
# headers and protoc, the Go protoc plugins and grpcurl (into .tools/bin), and the Node
# packages. The Debian check runs every time (it is quick): it looks at every file the
# tests rely on, so a package removed after the stamp was written is installed again.
system-deps:
	bash tools/system_deps.sh

$(TOOLS_STAMP): clients/ts/package-lock.json $(DASH)/package-lock.json | system-deps
	mkdir -p $(TOOLS)
	GOBIN=$(abspath $(TOOLS)) go install $(PROTOC_GEN_GO)
	GOBIN=$(abspath $(TOOLS)) go install $(PROTOC_GEN_GO_GRPC)
	GOBIN=$(abspath $(TOOLS)) go install $(GRPCURL)
	cd clients/ts && npm ci --no-audit --no-fund --loglevel=error
	cd $(DASH) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

tools: system-deps $(TOOLS_STAMP)

# Refreshes the dashboard's vendored browser files (uPlot) from the npm package pinned in
# $(DASH)/package-lock.json; tests/test_dashboard.py fails when they drift from it.

dashboard-vendor:
	cd $(DASH) && npm ci --no-audit --no-fund --loglevel=error
	cp $(DASH)/node_modules/uplot/dist/uPlot.iife.min.js $(DASH)/node_modules/uplot/dist/uPlot.min.css \
	   $(DASH)/node_modules/uplot/LICENSE $(DASH)/static/vendor/

$(HELM_STAMP):
	mkdir -p $(TOOLS)
	GOBIN=$(abspath $(TOOLS)) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	touch $@

# Building it here downloads its modules, so the tests only relink it.
$(DEPLOY_CHECK): deploy/check/go.mod deploy/check/go.sum $(wildcard deploy/check/*.go)
	mkdir -p $(TOOLS)
	cd deploy/check && go build -o $(abspath $@) .

$(PROMTOOL_STAMP):
	rm -rf .tools/promtool && mkdir -p .tools/promtool $(TOOLS)
	cd .tools/promtool && (apt-get download prometheus 2>/dev/null || \
	  ($$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update -qq && apt-get download prometheus))
	dpkg-deb -x .tools/promtool/prometheus_*.deb .tools/promtool/root
	cp .tools/promtool/root/usr/bin/promtool $(TOOLS)/promtool
	rm -rf .tools/promtool
	$(TOOLS)/promtool --version | head -1
	touch $@

deploy-tools: $(HELM_STAMP) $(DEPLOY_CHECK) $(PROMTOOL_STAMP)

# Regenerates the committed Python stubs from the schema (tests/test_stubs.py
# fails when the committed ones drift).
proto: $(STAMP)
	$(PY) tools/gen_stubs.py $(STUBS)

# Regenerates the Go, TypeScript and C++ client code (tests/test_clients.py fails when
# the committed code drifts from the schema).
stubs: $(STAMP) tools
	$(PY) tools/gen_clients.py clients

# Records the current schema as the released one that `buf breaking` checks against.
release-schema: $(STAMP)
	cd proto && ../$(VENV)/bin/buf build -o released/sanas-v1.binpb

# Records the chart as released: tests/test_deploy.py checks that an upgrade from the
# newest package in deploy/chart/released/ changes no field Kubernetes keeps immutable.
# Run at a release (after bumping deploy/chart/sanas/Chart.yaml's version); remove the
# older package then.
release-chart: $(HELM_STAMP)
	$(TOOLS)/helm package deploy/chart/sanas -d deploy/chart/released

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=server:python_client $(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	cd proto && ../$(VENV)/bin/buf lint && ../$(VENV)/bin/buf format --exit-code -d
	cd deploy/check && test -z "$$(gofmt -l .)" && go vet ./...

# Two workers, a test module on one of them (its module fixtures stay whole): most tests
# wait on servers, subprocesses and fsync, so this halves the wall time on 2 cores.
test: $(STAMP) tools deploy-tools
	$(MAKE) lint
	$(PY) -m pytest -q -n 2 --dist loadfile

# The unit tier only (tests/conftest.py TIERS): well under a minute, no tools needed.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m unit

serve: $(STAMP)
	$(VENV)/bin/sanas-server --host 127.0.0.1 --port 8881 --checkpoint-dir ./sanas_checkpoints

# Runs every benchmark and writes docs/benchmarks.md (+ docs/quality.png).
bench: $(STAMP)
	$(PY) bench/report.py --with-paddleslim

demo: $(STAMP)
	$(PY) -m sanas.demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache clients/ts/node_modules clients/ts/dist $(DASH)/node_modules
