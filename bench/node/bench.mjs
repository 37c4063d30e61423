// The @gradio/client side of bench_calls.py: a long-lived worker driven by JSON lines.
//
// Reads one JSON command per line on stdin and answers one JSON line on stdout:
//   {"op": "connect", "url": URL}                 -> {"ok": true, "connect_ms": ms}
//   {"op": "seq", "n": N, "prefix": "s"}           -> {"latencies_ms": [...], "failures": k, "errors": [...]}
//   {"op": "conc", "m": M, "timeout_s": T}         -> {"wall_s": s, "last_ok_s": s, "ok": k, "failures": k, "errors": [...]}
//   {"op": "quit"}
// Timings are taken in-process, so Node's start-up and the connect are not in them.
// A failure is a rejected call or a result other than the call's own input.

import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { Client } from "@gradio/client";

let client = null;
// A call cut off by a timeout or a stopped server must not end the worker.
process.on("unhandledRejection", (err) => console.error("unhandled:", String(err?.message ?? err)));

function firstError(errors, err) {
  if (errors.length < 5) errors.push(String(err?.message ?? err).slice(0, 200));
}

async function echo(text) {
  const r = await client.predict("/echo", { text, times: 1 });
  return Array.isArray(r?.data) ? r.data[0] : undefined;
}

async function seq(n, prefix) {
  const latencies_ms = [];
  const errors = [];
  let failures = 0;
  for (let i = 0; i < n; i++) {
    const text = `${prefix}${i}`;
    const t0 = performance.now();
    try {
      const out = await echo(text);
      latencies_ms.push(performance.now() - t0);
      if (out !== text) {
        failures++;
        firstError(errors, `wrong result ${JSON.stringify(out)} for ${text}`);
      }
    } catch (err) {
      latencies_ms.push(performance.now() - t0);
      failures++;
      firstError(errors, err);
    }
  }
  return { latencies_ms, failures, errors };
}

async function conc(m, timeoutS) {
  const errors = [];
  let ok = 0;
  let failures = 0;
  let lastOk = 0;
  const t0 = performance.now();
  const calls = Array.from({ length: m }, (_, i) =>
    echo(`c${i}`).then(
      (out) => {
        if (out === `c${i}`) {
          ok++;
          lastOk = performance.now();
        } else {
          failures++;
          firstError(errors, `wrong result ${JSON.stringify(out)} for c${i}`);
        }
      },
      (err) => {
        failures++;
        firstError(errors, err);
      },
    ),
  );
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutS * 1000);
  });
  await Promise.race([Promise.all(calls), timeout]);
  clearTimeout(timer);
  const wall_s = (performance.now() - t0) / 1000;
  const missing = m - ok - failures;
  if (missing > 0) firstError(errors, `${missing} calls unfinished after ${timeoutS} s`);
  const last_ok_s = ok ? (lastOk - t0) / 1000 : 0;
  return { wall_s, last_ok_s, ok, failures: failures + missing, errors };
}

async function handle(cmd) {
  if (cmd.op === "connect") {
    const t0 = performance.now();
    client = await Client.connect(cmd.url);
    return { ok: true, connect_ms: performance.now() - t0 };
  }
  if (cmd.op === "seq") return seq(cmd.n, cmd.prefix ?? "s");
  if (cmd.op === "conc") return conc(cmd.m, cmd.timeout_s ?? 180);
  throw new Error(`unknown op ${cmd.op}`);
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === "quit") break;
  let answer;
  try {
    answer = await handle(cmd);
  } catch (err) {
    answer = { error: String(err?.message ?? err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
process.exit(0);
