# Balise API / worker image for docker-compose and scale-out deployments.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# chdb (the embedded engine) is not needed when CLICKHOUSE_URL points at a server, but npm
# installs it with the rest; it is loaded only in embedded mode.
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY tracking-plan ./tracking-plan
EXPOSE 3000
ENTRYPOINT ["node", "bin/balise.js"]
CMD ["serve"]
