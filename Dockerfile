# syntax=docker/dockerfile:1
# The c8y-tunnel agent as a container image: docker build -t c8y-tunnel .
# How to run it (restart policy, network, settings): docs/deployment.md, "Container".
# No compiler in any stage, none needed: TypeScript is JavaScript, and every install runs with
# --ignore-scripts (bufferutil loads its prebuilt addon where there is one, linux/amd64; elsewhere ws masks
# in JavaScript).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS modules
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="c8y-tunnel" \
      org.opencontainers.image.description="Cumulocity Cloud Remote Access device agent" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=modules /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json README.md ./
COPY bin/c8y-tunnel.js ./bin/
# The image's unprivileged user (uid 1000); the agent needs no privilege and writes nothing.
USER node
# --max-semi-space-size=16: Node 20's young-generation cap; Node 24 would let the main thread's grow to
# 128 MiB of RSS over a long run (docs/reliability.md, "Node 24: the young generation grows larger").
ENTRYPOINT ["node", "--max-semi-space-size=16", "bin/c8y-tunnel.js"]
CMD ["agent"]
