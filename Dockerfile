# Balise images. `docker compose` builds the default (last) target, `server`.
#
#   server    `serve`, `worker`, `migrate` and every CLI command, against a ClickHouse server
#             (CLICKHOUSE_URL) and Redis (REDIS_URL). No chDB: about 550 MB lighter.
#   embedded  `up` in one container: the in-process ClickHouse engine (chDB) and a local
#             redis-server, both with their data under /data:
#               docker build --target embedded -t balise:embedded .
#               docker run -p 3000:3000 -v balise-data:/data balise:embedded
#
# Both run as the unprivileged `node` user, with the TypeScript sources run through tsx (as the
# npm package does) and the SDK and dashboard bundles built here, at image build time.
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. The prebuilt assets (SDK bundles, dashboard bundle), made with the dev tools.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY sdk ./sdk
COPY src ./src
RUN npm run build:sdk && npm run build:dashboard

# 2. Run-time modules only (no devDependencies), exactly as locked.
FROM ${NODE_IMAGE} AS modules
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# chDB is an optional dependency loaded only in embedded mode. `--omit=optional` would also drop
# esbuild's native binary, which tsx needs, so the engine is removed by name, in its own stage:
# the server image never contains its bytes.
FROM modules AS modules-server
RUN rm -rf node_modules/chdb node_modules/@chdb

# 3. What both images share.
FROM ${NODE_IMAGE} AS base
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 BALISE_DATA_DIR=/data
WORKDIR /app
RUN mkdir -p /data && chown node:node /data
COPY package.json ./
COPY bin ./bin
COPY scripts/healthcheck.mjs ./scripts/
COPY migrations ./migrations
COPY tracking-plan ./tracking-plan
COPY templates ./templates
COPY src ./src
COPY sdk/package.json ./sdk/
COPY sdk/src ./sdk/src
COPY --from=build /app/sdk/dist ./sdk/dist
# Every bundle the dashboard build makes (app.js, live.js and their maps), beside style.css.
COPY --from=build /app/src/dashboard/public ./src/dashboard/public
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/balise.js"]

FROM base AS embedded
RUN apt-get update \
  && apt-get install -y --no-install-recommends redis-server \
  && rm -rf /var/lib/apt/lists/*
COPY --from=modules /app/node_modules ./node_modules
USER node
VOLUME ["/data"]
CMD ["up"]

FROM base AS server
COPY --from=modules-server /app/node_modules ./node_modules
USER node
CMD ["serve"]
