/**
 * Spawns a throw-away `redis-server` for the local stack and its tests: no persistence
 * (`--save "" --appendonly no`), bound to 127.0.0.1 on a free port, killed on `close()` or when
 * this process exits.
 *
 * @see https://redis.io/docs/latest/operate/oss_and_stack/management/config/ (command-line options)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { createServer, Socket } from "node:net";
import { delimiter, join } from "node:path";

/** A running `redis-server` child process. */
export interface SpawnedRedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The child's pid. */
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s) and resolves once it has exited. */
  close(): Promise<void>;
}

/** Options of {@link spawnRedisServer}. */
export interface SpawnRedisServerOptions {
  /** Executable; default: `redis-server` found on PATH. */
  bin?: string;
  /** TCP port; default: a free port chosen by the OS. */
  port?: number;
  /** How long to wait for the first `+PONG`, in ms; default 10 000. */
  readyTimeoutMs?: number;
}

/**
 * Finds an executable on PATH.
 * @returns its absolute path, or `undefined` when no directory of PATH holds it.
 */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Asks the OS for a free TCP port on 127.0.0.1. The port is released before returning, so another
 * process could take it in between; good enough for local development and tests.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("could not obtain a free port"))));
    });
  });
}

/** Sends one inline `PING` and resolves true on `+PONG`, false on any error or after 500 ms. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

/** Resolves when the child has exited (immediately if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts `redis-server --save "" --appendonly no --port N --bind 127.0.0.1` and waits until it
 * answers PING.
 * @throws when no `redis-server` is found, when it exits early (its output is in the message), or
 *   when it does not answer within `readyTimeoutMs`.
 */
export async function spawnRedisServer(options: SpawnRedisServerOptions = {}): Promise<SpawnedRedisServer> {
  const bin = options.bin ?? findOnPath("redis-server");
  if (!bin) throw new Error("redis-server was not found on PATH");
  const port = options.port ?? (await freePort());
  const child = spawn(bin, ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  // A crashed test run must not leave the server behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      process.removeListener("exit", killOnExit);
      throw new Error(`redis-server exited before answering PING${spawnError ? `: ${spawnError.message}` : ""}\n${output}`);
    }
    if (await pingOnce(port)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      process.removeListener("exit", killOnExit);
      throw new Error(`redis-server did not answer PING on port ${port} in time\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let closing: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? 0,
    close() {
      closing ??= (async () => {
        const hardKill = setTimeout(() => child.kill("SIGKILL"), 2000);
        child.kill("SIGTERM");
        await exited(child);
        clearTimeout(hardKill);
        process.removeListener("exit", killOnExit);
      })();
      return closing;
    },
  };
}
