# Wattproof image: one image, one service per container (the command picks it).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY gateway/package.json gateway/
COPY ingest/package.json ingest/
COPY analytics/package.json analytics/
COPY dashboards/package.json dashboards/
COPY simulators/package.json simulators/
RUN npm ci --omit=dev --no-audit --no-fund
COPY core core
COPY gateway gateway
COPY ingest ingest
COPY analytics analytics
COPY dashboards dashboards
COPY simulators simulators
COPY bin bin
USER node
ENTRYPOINT ["node", "bin/wattproof.js"]
CMD ["--help"]
