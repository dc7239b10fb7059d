# syntax=docker/dockerfile:1
# The shop's images, from the repository root as the build context:
#   docker build --target service --build-arg SERVICE=gateway -t faultline/gateway:0.1.0 .   (gateway|catalog|orders|kitchen)
#   docker build --target controller -t faultline/chaos-controller:0.1.0 .
# Node is the project's pinned version (.nvmrc). Everything runs its TypeScript on Node's type stripping, so no
# stage compiles; the build stages only install production dependencies from the lockfile.
ARG NODE_VERSION=24.21.0

# Only the manifests, so the dependency layers are rebuilt only when they change.
FROM node:${NODE_VERSION}-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY services/common/package.json services/common/
COPY services/catalog/package.json services/catalog/
COPY services/orders/package.json services/orders/
COPY services/kitchen/package.json services/kitchen/
COPY services/gateway/package.json services/gateway/
COPY chaos/package.json chaos/
COPY dashboards/package.json dashboards/

FROM manifests AS service-deps
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "--build-arg SERVICE=gateway|catalog|orders|kitchen is required" && exit 1)
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace services/${SERVICE} --include-workspace-root=false

FROM manifests AS controller-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace chaos --include-workspace-root=false

# What both images run on: Node, the root manifest and the shared runtime kit.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY services/common/package.json services/common/
COPY services/common/src services/common/src

FROM runtime AS controller
COPY --from=controller-deps /app/node_modules node_modules
COPY chaos/package.json chaos/
COPY chaos/bin chaos/bin
COPY chaos/src chaos/src
COPY chaos/load chaos/load
COPY chaos/drills chaos/drills
# The image's own unprivileged user (uid 1000), as the chart's securityContext expects.
USER node
# In the cluster it runs `faultline controller`, the reconcile loop that deletes expired faults.
ENTRYPOINT ["node", "chaos/bin/faultline.js"]
CMD ["controller"]

FROM runtime AS service
ARG SERVICE
COPY --from=service-deps /app/node_modules node_modules
COPY services/${SERVICE}/ services/${SERVICE}/
USER node
WORKDIR /app/services/${SERVICE}
EXPOSE 8080
# Telemetry is loaded before the app, so instrumentation patches modules before their first import.
CMD ["node", "--import", "../common/src/telemetry.ts", "src/main.ts"]
