# syntax=docker/dockerfile:1
#
# Production image of the task API: deps -> build -> runtime.
#
#   docker build -t todo-api .
#   docker run --rm -p 8000:8000 \
#     -e DATABASE_URL=postgresql://user:pass@host:5432/db \
#     -e BETTER_AUTH_SECRET=... todo-api
#
# Or `docker compose up --build` with docker-compose.yml (PostgreSQL included).
#
# NODE_ENV=production: DATABASE_URL and a token source (BETTER_AUTH_SECRET, BETTER_AUTH_URL or
# BETTER_AUTH_JWKS_URL) are required, the embedded development PostgreSQL is never started, and
# the app applies pending TypeORM migrations itself at start (DATABASE_MIGRATIONS_RUN=false to
# run them some other way, e.g. `npm run migration:run` from a checkout).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: every dependency, exactly as locked ------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed to build or run the API. The only ones in the
# tree are the embedded-postgres binaries' (development only), @swc/core's (tests only; `nest
# build` uses tsc) and @scarf/scarf's (analytics). package.json's `allowScripts` already denies
# the last one, but the npm 10 bundled with Node 20 does not read that field.
RUN npm ci --ignore-scripts

# ---- build: compile to dist/, then drop what production does not load -------------------------
FROM deps AS build
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The prune's --omit=optional removes the @embedded-postgres/<platform> PostgreSQL binaries
# (~60 MB), optional dependencies of embedded-postgres, which is only imported (dynamically) when
# DATABASE_URL is unset outside production.
RUN npm run build \
    && npm prune --omit=dev --omit=optional --ignore-scripts

# ---- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8000 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# Owned by root and read-only to the app: it writes nothing to disk in production.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8000
# Liveness only (GET /health); GET /health/ready also checks the database. No curl in slim
# images, so Node's fetch does the request. start-period covers migrations at start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node is PID 1; the app handles SIGTERM itself (drains requests, closes the pool, exits 0).
CMD ["node", "dist/main"]
