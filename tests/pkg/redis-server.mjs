// Starts Debian's redis-server for a test on 127.0.0.1, on a free port, with nothing
// persisted (--save '' --appendonly no), and stops it. scripts/test.sh installs it.

import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/** A port that was free a moment ago (the OS picks it). */
async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/**
 * Starts redis-server; resolves `{ url, port, stop() }` once it accepts connections.
 * `stop()` ends it (SIGTERM) and waits for it to exit.
 */
export async function startRedis() {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error("redis-server is not installed: scripts/test.sh installs it (apt-get install -y redis-server)");
  }
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--daemonize", "no", "--loglevel", "notice"];
  const server = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 15_000);
    const onData = (chunk) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    };
    server.stdout.setEncoding("utf8").on("data", onData);
    server.stderr.setEncoding("utf8").on("data", onData);
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}):\n${output}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (server.exitCode !== null || server.signalCode !== null) return;
      const exited = once(server, "exit");
      server.kill("SIGTERM");
      await exited;
    },
  };
}
