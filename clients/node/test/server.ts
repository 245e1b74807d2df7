// The server the tests talk to: $BITRAG_TARGET when set (the Python suite passes its live server),
// else a `bitrag serve` started here on a free port ($BITRAG_PYTHON or the repository's .venv).

import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface LiveServer {
  target: string;
  stop(): Promise<void>;
}

export async function liveServer(): Promise<LiveServer> {
  const given = process.env.BITRAG_TARGET;
  if (given) return { target: given, stop: async () => {} };
  const python = process.env.BITRAG_PYTHON ?? path.resolve(__dirname, "..", "..", "..", "..", ".venv", "bin", "python");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bitrag-node-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BITRAG_")));
  const child: ChildProcess = spawn(python, ["-m", "bitrag.cli", "serve", "--address", "127.0.0.1:0", "--data-dir", dataDir],
    { cwd: dataDir, env: { ...env, BITRAG_LOG_LEVEL: "WARNING", BITRAG_REDIS_URL: "" }, stdio: ["ignore", "pipe", "pipe"] });
  const target = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`bitrag serve did not start:\n${out}`)), 180_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      // the target from the listening line; ready (model loaded, health SERVING) one line later
      const m = /bitrag listening on (\S+:\d+)/.exec(out);
      if (m && /bitrag ready: /.test(out)) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`bitrag serve exited (${code}):\n${out}`)); });
  });
  return {
    target,
    stop: () => new Promise<void>((resolve) => {
      child.removeAllListeners("exit");
      child.on("exit", () => { fs.rmSync(dataDir, { recursive: true, force: true }); resolve(); });
      child.kill("SIGTERM");
    }),
  };
}
