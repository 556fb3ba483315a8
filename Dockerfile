# Balise API / worker image for docker-compose and scale-out deployments.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY sdk ./sdk
COPY migrations ./migrations
COPY tracking-plan ./tracking-plan
# The dashboard (TypeScript + Chart.js) is bundled here, at build time, then dev tools are dropped.
RUN npm run build:dashboard && npm prune --omit=dev
ENV NODE_ENV=production
EXPOSE 3000
ENTRYPOINT ["node", "bin/balise.js"]
CMD ["serve"]
