#!/usr/bin/env bash
# Uninstalls the chart and deletes the kind cluster: nothing of faultline is left running.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLUSTER=${FAULTLINE_KIND_CLUSTER:-faultline}
KIND=.tools/bin/kind
if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  .tools/bin/helm uninstall "${FAULTLINE_RELEASE:-faultline}" --namespace "${FAULTLINE_NAMESPACE:-faultline}" --kube-context "kind-$CLUSTER" --wait || true
  "$KIND" delete cluster --name "$CLUSTER"
else
  echo "no kind cluster named $CLUSTER"
fi
