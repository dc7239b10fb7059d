#!/usr/bin/env bash
# Creates the kind cluster (if absent), builds the images, loads them into kind and installs the chart with the
# kind values (ci/kind-values.yaml: the NodePorts kind-config.yaml maps to loopback).
# Needs Docker (or Podman), Go and Node; kind and helm are built pinned into .tools/ by `npm run setup`.
# Usage: tooling/kind/up.sh [extra helm flags, e.g. -f charts/faultline/ci/small-footprint-values.yaml]
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=${FAULTLINE_KIND_CLUSTER:-faultline}
NAMESPACE=${FAULTLINE_NAMESPACE:-faultline}
RELEASE=${FAULTLINE_RELEASE:-faultline}
# The chart's appVersion is the tag its templates ask for.
TAG=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' charts/faultline/Chart.yaml)
TOOLS=.tools/bin
KIND=$TOOLS/kind
HELM=$TOOLS/helm

step() { printf '\n== %s\n' "$*"; }

step "tools"
npm run --silent setup -- --with-kind
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { echo "Docker is not running: kind needs it"; exit 1; }

step "cluster $CLUSTER"
if "$KIND" get clusters | grep -qx "$CLUSTER"; then
  echo "exists"
else
  "$KIND" create cluster --name "$CLUSTER" --config kind-config.yaml --wait 120s
fi

step "images faultline/*:$TAG"
for service in gateway catalog orders kitchen; do
  docker build -q --target service --build-arg SERVICE="$service" -t "faultline/$service:$TAG" .
done
docker build -q --target controller -t "faultline/chaos-controller:$TAG" .
for image in gateway catalog orders kitchen chaos-controller; do
  "$KIND" load docker-image --name "$CLUSTER" "faultline/$image:$TAG"
done

step "helm install $RELEASE into $NAMESPACE"
"$HELM" upgrade --install "$RELEASE" charts/faultline --namespace "$NAMESPACE" --create-namespace \
  --kube-context "kind-$CLUSTER" --wait --timeout 10m -f charts/faultline/ci/kind-values.yaml "$@"

step "helm test"
"$HELM" test "$RELEASE" --namespace "$NAMESPACE" --kube-context "kind-$CLUSTER" --logs
