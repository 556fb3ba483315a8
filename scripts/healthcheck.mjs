#!/usr/bin/env node
// The container HEALTHCHECK. Processes that serve HTTP (`serve`, `up`) are healthy when GET /health
// answers 200; a `worker` (or a one-shot `migrate`) has no HTTP port: its process being alive is
// what Docker can see, so it passes. The command is read from PID 1, the container's entrypoint.
import fs from 'node:fs';

const args = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
const command = args.find((arg) => ['up', 'serve', 'worker', 'migrate'].includes(arg));
if (command === 'worker' || command === 'migrate') process.exit(0);

const port = process.env.PORT || '3000';
setTimeout(() => process.exit(1), 2500).unref();
fetch(`http://127.0.0.1:${port}/health`).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
