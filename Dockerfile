# Entitlement Hub container image.
#
#   docker build -t ehub .
#   docker run -p 4000:4000 \
#     -e DATABASE_URL=postgres://ehub:secret@db.example:5432/ehub \
#     -e EHUB_ADMIN_KEY=ehub_abcd1234_<40 random letters and digits> \
#     ehub
#
# It expects DATABASE_URL: a real PostgreSQL 15+ server. The embedded PostgreSQL that
# `npm start` uses is for development; in a container its data would live (and die) in the
# container's filesystem. Migrations run at start-up (or beforehand: `... ehub migrate`).
# Set EHUB_ADMIN_KEY to bootstrap an admin key; without it, a hub with no keys writes a
# generated one to /app/.ehub/admin.key inside the container.
# Other settings: see the README's configuration table (PORT defaults to 4000).

# ---- build: compile TypeScript to dist/ ----
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# tsc emits dist/src, dist/migrations, dist/connectors and dist/package.json (read at run time
# for the version); the compiled tests and benchmarks are not shipped. The Salesforce
# emulator is (`ehub demo --salesforce` runs it).
RUN npm run build && rm -rf dist/test dist/bench dist/jest.config.js* && find dist -name '*.spec.js*' -delete

# ---- runtime: production dependencies and the compiled code only ----
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the `node` package (which pins Node for development) is a
# devDependency, so the image's own Node 24 runs the hub. Install scripts follow package.json's
# allowScripts.
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The data directory (generated admin key; embedded PostgreSQL if ever used) must be writable
# by the unprivileged user; the code itself stays root-owned and read-only for it.
RUN mkdir -p /app/.ehub && chown node:node /app/.ehub
USER node
EXPOSE 4000
# No curl in the slim image: Node's fetch does the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The hub handles SIGTERM itself: it stops accepting, drains in-flight requests, stops jobs
# and closes the pool within EHUB_SHUTDOWN_TIMEOUT_MS (docker stop waits 10 s by default).
# Memory-constrained deployments (e.g. an instance serving finance exports under a 200 MB
# limit) can add NODE_OPTIONS=--max-semi-space-size=2: ~55 MB less resident memory and a 1M-row
# export peaks at ~170 MB, but GraphQL `check` runs 35-45 % slower with it (POST /v1/check does
# not), so it is not the default (ADR 0050, ADR 0057).
CMD ["node", "dist/src/cli/main.js", "serve"]
