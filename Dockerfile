# syntax=docker/dockerfile:1
# Wattproof: one image for every service; the command picks it (docker-compose.yml runs
# `gateway`, `ingest`, `api`, `simulate` and the one-shot `device add-service`).
#
# There is no build step: bin/wattproof.js registers tsx and runs the TypeScript sources, so the
# runtime needs the production dependencies (tsx and its esbuild among them: root
# "dependencies") and the sources themselves, nothing from devDependencies.
#
# Debian (glibc) rather than Alpine: DuckDB (the embedded reading store) ships musl builds too,
# but Debian's `chromium`, which prints PDF reports, is what the report renderer expects at
# /usr/bin/chromium. Build with --build-arg INSTALL_CHROMIUM=true for PDF reports (several hundred
# MB more); without it the API serves reports as HTML and JSON only.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: production node_modules, from the lockfile alone --------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY gateway/package.json gateway/
COPY ingest/package.json ingest/
COPY analytics/package.json analytics/
COPY dashboards/package.json dashboards/
COPY simulators/package.json simulators/
# npm ci links the workspaces into node_modules/@wattproof/ and may nest a workspace's own
# node_modules (e.g. dashboards/node_modules): the whole /app of this stage is copied on.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund && \
    node -e "require.resolve('tsx/esm/api')"

# --- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG INSTALL_CHROMIUM=false
RUN if [ "$INSTALL_CHROMIUM" = "true" ]; then \
      apt-get update && \
      apt-get install -y --no-install-recommends chromium fonts-noto-cjk && \
      rm -rf /var/lib/apt/lists/*; \
    fi
ENV NODE_ENV=production
# Embedded stores (DuckDB readings, registry files) when no InfluxDB/PostgreSQL is configured;
# mount a volume here for `wattproof start`. The compose services keep no state here.
ENV WATTPROOF_DATA_DIR=/var/lib/wattproof
# A container's network is its own: listen on all of its interfaces. Which ports reach the host
# is decided by publishing them (docker-compose.yml: on 127.0.0.1 only).
ENV API_HOST=0.0.0.0 GATEWAY_MQTT_HOST=0.0.0.0
WORKDIR /app
# Application files belong to root and are read-only for the service user.
COPY --from=deps /app ./
COPY tsconfig.json LICENSE NOTICE ./
COPY core core
COPY gateway gateway
COPY ingest ingest
COPY analytics analytics
COPY dashboards dashboards
COPY simulators simulators
COPY bin bin
COPY deploy/healthcheck.mjs deploy/healthcheck.mjs
RUN mkdir -p /var/lib/wattproof && chown node:node /var/lib/wattproof
# The `node` user of the official image (uid 1000), never root.
USER node
# MQTT, HTTP API and console, gateway health/metrics, ingest health/metrics.
EXPOSE 1883 8080 9101 9102
# Probes the API's /health (or $WATTPROOF_HEALTH_URL); docker-compose.yml gives each service
# its own URL. Plain node and fetch: no curl in the image, no tsx start-up per probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "deploy/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/wattproof.js"]
CMD ["--help"]
