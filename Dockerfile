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

# Node 24, an LTS line supported until April 2028 (Node 20 reached end of life on 2026-04-30;
# package.json's `engines` still lets a checkout run on 20.19+). Fully qualified, so podman
# (which refuses or asks about short names) pulls the same image as Docker.
ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim

# ---- deps: every dependency, exactly as locked ------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed to build or run the API. The only ones in the
# tree are the embedded-postgres binaries' (development only), @swc/core's (tests only; `nest
# build` uses tsc) and @scarf/scarf's (analytics).
# Then the tree is checked: npm can exit 0 with a half-installed tree (npm 10's "Exit handler
# never called!"). npm writes node_modules/.package-lock.json after the packages are in place,
# and `npm ls --all` exits non-zero on a missing or invalid package at any depth (without --all
# it looks at direct dependencies only), so either stops the build. Same after the prune.
RUN npm ci --ignore-scripts \
    && test -f node_modules/.package-lock.json \
    && npm ls --all > /dev/null

# ---- build: compile to dist/, then drop what production does not load -------------------------
FROM deps AS build
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The prune's --omit=optional removes the @embedded-postgres/<platform> PostgreSQL binaries
# (~60 MB), optional dependencies of embedded-postgres, which is only imported (dynamically) when
# DATABASE_URL is unset outside production.
RUN npm run build \
    && test -f dist/main.js \
    && npm prune --omit=dev --omit=optional --ignore-scripts \
    && npm ls --all --omit=dev --omit=optional > /dev/null

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
