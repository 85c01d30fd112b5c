# genome-operator: the front door. Every target is a thin wrapper over npm scripts and
# scripts/; `make help` lists them. Node 24 comes from the `node` dev dependency, so every
# target runs with node_modules/.bin first on PATH.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

NPM_STAMP := node_modules/.install-stamp
TSX := tsx
# NODE=0 leaves the local node (kubelet, containerd, ...) out of test, dev and cluster-up.
NODE ?= 1
export GENOME_NODE := $(NODE)
# Why this machine cannot run the node, or nothing when it can.
NODE_UNSUPPORTED = $(shell if [ "$(NODE)" = 0 ]; then echo "NODE=0"; elif [ "$$(uname -s)" != Linux ]; then echo "not Linux"; elif [ "$$(id -u)" != 0 ]; then echo "not root"; fi)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@node --version | grep -q '^v24\.' || { echo "expected Node 24 from node_modules/.bin, got $$(node --version)"; exit 1; }
	@touch $@

.PHONY: deps
deps: $(NPM_STAMP) ## Install dependencies, including Node 24 (from the npm registry)

.PHONY: control-plane
control-plane: ## Build (or find cached) etcd, kube-apiserver, kube-controller-manager, kubectl
	bash scripts/build-control-plane.sh

.PHONY: helm
helm: ## Build (or find cached) the helm client (Helm 4, from the Go module helm.sh/helm/v4)
	bash scripts/build-helm.sh

.PHONY: node
node: ## Build (or find cached) kubelet, kube-proxy, kube-scheduler, containerd, runc, CNI plugins, crictl
	bash scripts/build-node.sh

.PHONY: cert-manager
cert-manager: ## Build (or find cached) cert-manager's controllers and CA injector (cluster/cert-manager, for the node tests)
	bash scripts/build-cert-manager.sh

.PHONY: node-if-supported
node-if-supported:
	@if [ -z "$(NODE_UNSUPPORTED)" ]; then bash scripts/build-node.sh && bash scripts/build-cert-manager.sh; else echo "no local node ($(NODE_UNSUPPORTED))"; fi

.PHONY: test
test: deps control-plane helm node-if-supported ## Run every test: unit, integration (real API server) and node (real pods; NODE=0 leaves them out)
	@if [ -z "$(NODE_UNSUPPORTED)" ]; then npx vitest run; \
	else echo "leaving the node tests out: $(NODE_UNSUPPORTED)"; npx vitest run --project unit --project integration; fi

.PHONY: test-node
test-node: deps control-plane helm node cert-manager ## Run the node tests only (real pods on a local node)
	npx vitest run --project node

.PHONY: test-unit
test-unit: deps ## Run the fast unit tests only
	npx vitest run --project unit

.PHONY: lint
lint: deps ## ESLint, Prettier and the TypeScript compiler
	npx tsc --noEmit -p .
	npx eslint .
	npx prettier --check .

.PHONY: crds
crds: deps ## Regenerate crds/ (Genome, GenomeTrustPolicy) from core/, and copy them into the chart
	$(TSX) scripts/generate-crd.ts
	$(TSX) scripts/sync-chart.ts

.PHONY: verify
verify: deps ## Fail when generated files (the CRDs, the chart's copies) drift from their source
	$(TSX) scripts/generate-crd.ts --check
	$(TSX) scripts/sync-chart.ts --check

.PHONY: bench
bench: deps control-plane ## Benchmarks: verdicts/s, Genome and pod admissions/s (beside raw Ed25519), admission under 20 policies and 200 keys (beside one policy), the operator and the readiness gate (beside the API server), the operator caches against tenant objects (beside an empty cluster)
	$(TSX) bench/verify.bench.ts
	$(TSX) bench/webhook.bench.ts
	$(TSX) bench/policy-admission.bench.ts
	$(TSX) bench/operator.bench.ts
	$(TSX) bench/gate.bench.ts
	$(TSX) bench/caches.bench.ts

.PHONY: release
release: deps helm ## Write dist/release/<version>/: the packaged chart (image pinned by digest), the images as OCI archives (linux/amd64), an SBOM per image, the CRDs, the genome CLI, SHA256SUMS
	$(TSX) scripts/release.ts

.PHONY: cluster-up
cluster-up: deps control-plane node-if-supported ## Start a local cluster with a node (NODE=0: without); writes .cluster/kubeconfig
	$(TSX) scripts/cluster.ts up

.PHONY: cluster-down
cluster-down: deps ## Stop the local cluster started by cluster-up and remove all it made
	$(TSX) scripts/cluster.ts down

.PHONY: dev
dev: deps ## Run the product: installed with the Helm chart on the KUBECONFIG cluster (HELM_VALUES=file adds values), or as local processes on a local cluster (with a node when it can) it starts
	@if [ -z "$${KUBECONFIG:-}" ]; then $(MAKE) --no-print-directory control-plane node-if-supported; else $(MAKE) --no-print-directory helm; fi
	$(TSX) scripts/dev.ts

KIND_CLUSTER ?= genome-operator
.PHONY: kind-up
kind-up: ## (needs Docker) Create a kind cluster; writes .cluster/kind-kubeconfig
	@mkdir -p .cluster
	kind create cluster --name $(KIND_CLUSTER) --kubeconfig .cluster/kind-kubeconfig --wait 120s
	@echo "now: KUBECONFIG=$(CURDIR)/.cluster/kind-kubeconfig make dev"

.PHONY: kind-down
kind-down: ## (needs Docker) Delete the kind cluster
	kind delete cluster --name $(KIND_CLUSTER) --kubeconfig .cluster/kind-kubeconfig

.PHONY: e2e-kind
e2e-kind: deps helm ## (needs Docker and kind) kind cluster, image built and loaded, helm install, helm test, Genomes, uninstall, integration tests
	KIND_CLUSTER=$(KIND_CLUSTER) bash scripts/e2e-kind.sh
