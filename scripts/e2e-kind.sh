#!/usr/bin/env bash
# make e2e-kind: the chart end to end on a kind cluster (needs Docker and kind).
#   1. kind cluster $KIND_CLUSTER (created if missing), kubeconfig .cluster/kind-kubeconfig
#   2. the product image built with docker build and loaded with kind load docker-image
#   3. helm upgrade --install (pullPolicy Never), helm test
#   4. Genomes through the installed webhook and operator: the TOTK sample admitted and
#      Verified, a tampered copy refused with GENOME_INVALID_SIGNATURE
#   5. helm uninstall: no webhook configuration left, the CRD and the Genome kept
#   6. the integration tests against the same (now clean) cluster
# E2E_EXISTING_CLUSTER=1 skips 1-2 and uses $KUBECONFIG as it is (a cluster that already has the
# image, e.g. make cluster-up's local node); that is how this script is checked where there is
# no Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND_CLUSTER="${KIND_CLUSTER:-genome-operator}"
NS="${E2E_NAMESPACE:-genome-system}"
APPS="${E2E_APPS_NAMESPACE:-genome-e2e}"
RELEASE=genome-operator
HELM="$(bash scripts/build-helm.sh --print-dir)/helm"
log() { printf '[e2e-kind] %s\n' "$*" >&2; }

if [[ "${E2E_EXISTING_CLUSTER:-}" != 1 ]]; then
  command -v docker >/dev/null && docker info >/dev/null 2>&1 || { log "needs a running Docker engine"; exit 1; }
  command -v kind >/dev/null || { log "needs kind (https://kind.sigs.k8s.io/)"; exit 1; }
  mkdir -p .cluster
  export KUBECONFIG="$PWD/.cluster/kind-kubeconfig"
  if ! kind get clusters | grep -qx "$KIND_CLUSTER"; then
    kind create cluster --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s
  else
    kind export kubeconfig --name "$KIND_CLUSTER" --kubeconfig "$KUBECONFIG"
  fi
  bash images/genome-operator/prepare.sh "$PWD"
  docker build -t genome.local/genome-operator:v1 .
  kind load docker-image genome.local/genome-operator:v1 --name "$KIND_CLUSTER"
fi
: "${KUBECONFIG:?set KUBECONFIG}"
KUBECTL="${KUBECTL:-kubectl}"
k() { "$KUBECTL" "$@"; }

k create namespace "$APPS" --dry-run=client -o yaml | k apply -f -
log "helm install into $NS"
start=$(date +%s)
"$HELM" upgrade --install "$RELEASE" charts/genome-operator --namespace "$NS" --create-namespace \
  --set image.pullPolicy=Never --set webhook.bootCheckPullPolicy=Never \
  --set selfCheck.namespace="$APPS" --values charts/genome-operator/values-dev.yaml \
  --wait --timeout 5m
log "installed and Ready in $(( $(date +%s) - start )) s"
"$HELM" test "$RELEASE" --namespace "$NS" --logs

log "Genomes through the installed webhook and operator"
manifest() { npx tsx scripts/genome-manifest.ts "$1" --name "$2" --namespace "$APPS"; }
manifest genomes/TOTK_ROOT_v1.0.0/genome.json totk | k apply -f -
tampered=$(mktemp)
trap 'rm -f "$tampered"' EXIT
node -e 'const g = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); g.version = "6.6.6"; process.stdout.write(JSON.stringify(g))' \
  genomes/TOTK_ROOT_v1.0.0/genome.json >"$tampered"
if out=$(manifest "$tampered" tampered | k apply -f - 2>&1); then
  log "the tampered Genome was admitted: $out"; exit 1
fi
grep -q GENOME_INVALID_SIGNATURE <<<"$out" || { log "unexpected refusal: $out"; exit 1; }
log "tampered Genome refused: GENOME_INVALID_SIGNATURE"
for _ in $(seq 60); do
  verified=$(k get genome totk -n "$APPS" -o jsonpath='{.status.conditions[?(@.type=="Verified")].status}')
  [[ "$verified" == True ]] && break
  sleep 1
done
[[ "$verified" == True ]] || { log "the operator did not verify the TOTK Genome"; exit 1; }
log "the operator verified the TOTK Genome"

log "helm uninstall"
"$HELM" uninstall "$RELEASE" --namespace "$NS" --wait --timeout 2m
left=$(k get validatingwebhookconfiguration,mutatingwebhookconfiguration -l app.kubernetes.io/instance="$RELEASE" -o name)
[[ -z "$left" ]] || { log "webhook configurations left after uninstall: $left"; exit 1; }
k get crd genomes.mathison.io >/dev/null
k get genome totk -n "$APPS" >/dev/null
log "uninstalled: no webhook configuration left; the CRD and the Genome kept"
k delete namespace "$APPS" --wait=false

if [[ "${E2E_SKIP_INTEGRATION:-}" != 1 ]]; then
  GENOME_TEST_KUBECONFIG="$KUBECONFIG" npx vitest run --project integration
fi
log "done"
