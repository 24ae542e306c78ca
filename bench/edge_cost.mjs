// The Worker's CPU time per request under Pyodide 0.28.2 (Cloudflare's Python) in Node 24.
//
// The bundled Worker (wrangler's dry-run tree) is called the way workerd calls it: a new
// `Default(ctx, env)` per request, the SDK's Request wrapper, ctx.waitUntil for deferred work.
// Everything around it is in-process and as cheap as it can be, so that the Worker's own work
// is what is measured: the origin and the vendor are functions answering fetch() from memory,
// the Cache API is a Map, KV holds the config, the Counters object answers at once.
//
// CPU time is this thread's (process.threadCpuUsage: getrusage(RUSAGE_THREAD)), from the call
// to the request's last waitUntil promise, body read to the end; Workers bill and limit the
// isolate's thread the same way. Wall time is useless here: Pyodide's event loop schedules
// every asyncio step with setTimeout(0), which Node clamps to 1 ms of idle, and the machine is
// shared. Python's time.process_time() is no better: under Emscripten it is wall-clock time.
// Linux updates a thread's CPU total at scheduler events, not continuously, so one request's
// reading is coarse: the mean over the whole run (one reading before, one after) is exact, the
// per-request p50/p99 are approximate. The stand-ins' share (the origin's and the vendor's
// responses, the cache's match and put, reading the body as the runtime would send it) is
// measured on its own, the same operations run in a loop without the Worker, and multiplied by
// how often each happened per request; in workerd those are the runtime's, mostly not JS.
//
//   node bench/edge_cost.mjs --dist DIR --stand-ins tests/edge/stand_ins --config FILE \
//        --keys FILE [--requests 300] [--warmup 100] [--only SCENARIO] [--profile SCENARIO]
//
// Prints one JSON object per scenario.
import fs from "node:fs";
import { parseArgs } from "node:util";
import { loadBundledWorker } from "../tests/edge/load_worker.mjs";

const { values: args } = parseArgs({
  options: {
    dist: { type: "string" }, "stand-ins": { type: "string" }, config: { type: "string" },
    keys: { type: "string" }, requests: { type: "string", default: "300" },
    warmup: { type: "string", default: "100" }, profile: { type: "string" }, only: { type: "string" },
  },
});
const REQUESTS = Number(args.requests);
const WARMUP = Number(args.warmup);
const ORIGIN = "https://origin.bench";
const VENDOR = "https://vendor.bench/batch";
const PAGE = "<!doctype html><html><head><title>bench</title></head><body>"
  + "<p>".padEnd(8 * 1024 - 80, "x") + "</p></body></html>";

function cpuMicros() { const u = process.threadCpuUsage(); return u.user + u.system; }
const calls = { origin: 0, vendor: 0, match: 0, put: 0, read: 0 };  // stand-in operations done

function originResponse() {
  return new Response(PAGE, {
    status: 200,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "public, max-age=3600" },
  });
}
globalThis.fetch = async (input) => {
  const url = typeof input === "string" ? input : input.url;
  if (url.startsWith(VENDOR)) { calls.vendor += 1; return new Response("{}", { status: 200 }); }
  if (!url.startsWith(ORIGIN)) throw new TypeError(`bench: no route to ${url}`);
  calls.origin += 1;
  return originResponse();
};

const cached = new Map();
function cachedResponse(entry) { return new Response(entry.body, { status: entry.status, headers: entry.headers }); }
async function storeCopy(key, response) {
  const body = new Uint8Array(await response.arrayBuffer());
  if (!response.headers.has("set-cookie")) {
    cached.set(String(key), { status: response.status, headers: [...response.headers], body });
  }
}
globalThis.caches = {
  default: {
    match: async (key) => {
      calls.match += 1;
      const entry = cached.get(String(key));
      return entry ? cachedResponse(entry) : undefined;
    },
    put: async (key, response) => { calls.put += 1; await storeCopy(key, response); },
  },
};

// The stand-ins' operations alone, microseconds of CPU each (mean over many).
async function calibrate(rounds = 2000) {
  const entry = { status: 200, headers: [["content-type", "text/html"]], body: new TextEncoder().encode(PAGE) };
  const timed = async (work) => {
    const start = cpuMicros();
    for (let i = 0; i < rounds; i++) await work();
    return (cpuMicros() - start) / rounds;
  };
  return {
    origin: await timed(async () => originResponse()),
    vendor: await timed(async () => new Response("{}", { status: 200 })),
    match: await timed(async () => cachedResponse(entry)),
    put: await timed(async () => storeCopy("https://calibrate/", new Response(entry.body, { headers: entry.headers }))),
    read: await timed(async () => new Response(entry.body).arrayBuffer()),
  };
}

class Context {
  constructor() { this.pending = []; }
  waitUntil(promise) { this.pending.push(Promise.resolve(promise)); }
  passThroughOnException() {}
  async done() { while (this.pending.length) await Promise.all(this.pending.splice(0)); }
}
class Base { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
const { pyodide, bridge, entry } = await loadBundledWorker({
  dist: args.dist,
  standIns: args["stand-ins"],
  harness: {
    workersModule: { WorkerEntrypoint: Base, DurableObject: Base, RpcTarget: class {}, WorkflowEntrypoint: class {} },
    doAnImport: async (name) => { throw new Error(`no module ${name}`); },
  },
});

const configText = fs.readFileSync(args.config, "utf8");
const counters = { get: () => ({ add: async () => ({ rows: 0 }), status: async () => ({}) }), idFromName: (n) => n };
const queue = { get: () => ({ enqueue: async () => ({}) }), idFromName: (n) => n };
const env = {
  EDGESPLIT_CONFIG: { get: async () => configText }, EDGESPLIT_CONFIG_KEY: "config.json",
  EDGESPLIT_CONFIG_TTL: "30", EDGESPLIT_QUEUE_SHARDS: "8", EDGESPLIT_ORIGIN: ORIGIN,
  EDGESPLIT_ORIGIN_TIMEOUT: "30", EDGESPLIT_KEYS: fs.readFileSync(args.keys, "utf8"),
  EDGESPLIT_VENDOR_URL: VENDOR, QUEUE: queue, COUNTERS: counters,
};

async function one(url, cookie) {
  const headers = new Headers({
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", accept: "text/html",
    "cf-connecting-ip": "192.0.2.10",
  });
  if (cookie) headers.set("cookie", cookie);
  const request = new Request(url, { headers });
  const ctx = new Context();
  const start = cpuMicros();
  const response = await bridge.call_fetch(entry.Default, request, env, ctx);
  await response.arrayBuffer();  // what the runtime streams to the visitor
  calls.read += 1;
  await ctx.done();
  const total = cpuMicros() - start;
  return { total, status: response.status,
           cache: response.headers.get("x-edgesplit-cache"), cookies: response.headers.getSetCookie() };
}

function cookieHeader(setCookies) { return setCookies.map((c) => c.split(";")[0]).join("; "); }

let serial = 0;
const SCENARIOS = {
  // a page not in the cache yet: decided, signed, fetched from the origin, stored
  "miss, new visitor": async () => one(`https://bench.example/p/${serial++}`, null),
  "miss, returning visitor": async (cookie) => one(`https://bench.example/p/${serial++}`, cookie),
  // the page for this variant vector is cached
  "hit, returning visitor": async (cookie) => one("https://bench.example/hot", cookie),
  "hit, new visitor": async () => one("https://bench.example/hot", null),
};

function percentile(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]; }

const first = await one("https://bench.example/hot", null);  // a returning visitor's real cookies
const returning = cookieHeader(first.cookies);
if (first.status !== 200 || !returning.includes("edgesplit_id=")) throw new Error(`bench: first visit ${JSON.stringify(first)}`);

const unit = await calibrate();
console.log(JSON.stringify({ calibration_us: unit }));
for (const [name, run] of Object.entries(SCENARIOS)) {
  if ((args.profile && args.profile !== name) || (args.only && args.only !== name)) continue;
  for (let i = 0; i < WARMUP; i++) await run(returning);
  if (args.profile) pyodide.runPython("import cProfile; _bench_profile = cProfile.Profile(); _bench_profile.enable()");
  const totals = []; const outcomes = {};
  for (const key of Object.keys(calls)) calls[key] = 0;
  const runStart = cpuMicros();
  for (let i = 0; i < REQUESTS; i++) {
    const result = await run(returning);
    if (result.status !== 200) throw new Error(`bench: ${name} answered ${result.status}`);
    totals.push(result.total);
    outcomes[result.cache] = (outcomes[result.cache] ?? 0) + 1;
  }
  const mean = (cpuMicros() - runStart) / REQUESTS;
  if (args.profile) {
    console.error(pyodide.runPython(`
_bench_profile.disable()
import io, pstats
out = io.StringIO()
pstats.Stats(_bench_profile, stream=out).sort_stats("tottime").print_stats(40)
pstats.Stats(_bench_profile, stream=out).sort_stats("cumulative").print_stats(60)
out.getvalue()`));
  }
  totals.sort((a, b) => a - b);
  const perRequest = Object.fromEntries(Object.entries(calls).map(([k, n]) => [k, n / REQUESTS]));
  const standIns = Object.entries(perRequest).reduce((sum, [k, n]) => sum + n * unit[k], 0);
  console.log(JSON.stringify({
    scenario: name, requests: REQUESTS, cache: outcomes, stand_in_calls_per_request: perRequest,
    mean_us: Math.round(mean), p50_us: percentile(totals, 0.5), p99_us: percentile(totals, 0.99),
    stand_ins_us: Math.round(standIns), worker_mean_us: Math.round(mean - standIns),
  }));
}
