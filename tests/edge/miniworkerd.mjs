// miniworkerd: the edgesplit Worker, as wrangler's dry run wrote it, under Pyodide 0.28.2 in Node.
//
// Node supplies the real fetch, Request, Response, Headers and streams. Stand-ins cover only
// what only workerd has, and they enforce its contracts:
//   - caches.default refuses non-GET keys, 206 and `Vary: *`; it skips Set-Cookie, no-store
//     and private responses, and expires entries by max-age;
//   - Durable Object stubs pass arguments and results through structuredClone (no custom
//     objects, no functions; the SDK itself refuses tuples), one call at a time per object;
//   - ctx.storage.sql.exec is synchronous, on a real SQLite (node:sqlite), with cursors;
//   - alarms fire after setAlarm, a raising handler is retried with exponential backoff (6 times);
//   - HTMLRewriter is lol-html itself (npm html-rewriter-wasm, see html_rewriter_shim.mjs);
//   - a raising fetch is passed through to the origin after passThroughOnException();
//   - /__miniworkerd/fault?part=cache|queue|counters|kv&on=1 makes that part throw, as an
//     outage or an overloaded Durable Object would, until switched off.
//
//   node miniworkerd.mjs --dist DIR --stand-ins DIR [--port 0] [--origin URL] [--config FILE]
//                        [--keys FILE] [--vendor URL] [--time-scale 1]
//
// Prints "READY <port>" when listening. /__miniworkerd/* are the test controls.
import http from "node:http";
import fs from "node:fs";
import { Readable } from "node:stream";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { loadBundledWorker } from "./load_worker.mjs";
import { HTMLRewriter } from "./html_rewriter_shim.mjs";

const { values: args } = parseArgs({
  options: {
    dist: { type: "string" }, "stand-ins": { type: "string" }, port: { type: "string", default: "0" },
    origin: { type: "string" }, config: { type: "string" }, keys: { type: "string" },
    vendor: { type: "string" }, "time-scale": { type: "string", default: "1" },
  },
});
const timeScale = Number(args["time-scale"]);

// ---------------------------------------------------------------- workerd-only stand-ins
class Cache {
  constructor() { this.entries = new Map(); this.puts = 0; this.refused = 0; this.failing = false; }
  check() { if (this.failing) throw new Error("Cache API unavailable (simulated fault)"); }
  static keyOf(key) {
    if (key instanceof Request) {
      if (key.method !== "GET") throw new TypeError("Cache.put/match: only GET requests can be cache keys");
      return key.url;
    }
    const url = new URL(String(key));
    if (!/^https?:$/.test(url.protocol)) throw new TypeError("Cache key must be an http(s) URL");
    return url.href;
  }
  async match(key) {
    this.check();
    const entry = this.entries.get(Cache.keyOf(key));
    if (!entry) return undefined;
    if (Date.now() >= entry.expires) { this.entries.delete(Cache.keyOf(key)); return undefined; }
    return new Response(entry.body, { status: entry.status, headers: entry.headers });
  }
  async put(key, response) {
    this.check();
    const k = Cache.keyOf(key);
    if (!(response instanceof Response)) throw new TypeError("Cache.put needs a Response");
    if (response.status === 206) throw new TypeError("Cache.put: 206 Partial Content cannot be stored");
    const vary = response.headers.get("vary") || "";
    if (vary.split(",").some((v) => v.trim() === "*")) throw new TypeError("Cache.put: Vary: * cannot be stored");
    const body = new Uint8Array(await response.arrayBuffer());
    const cc = (response.headers.get("cache-control") || "").toLowerCase();
    if (response.headers.has("set-cookie") || /no-store|private/.test(cc)) { this.refused += 1; return; }
    const match = /s-maxage=(\d+)/.exec(cc) || /max-age=(\d+)/.exec(cc);
    if (!match || Number(match[1]) === 0) { this.refused += 1; return; }
    this.puts += 1;
    this.entries.set(k, { status: response.status, headers: [...response.headers], body,
                          expires: Date.now() + Number(match[1]) * 1000 });
  }
  async delete(key) { return this.entries.delete(Cache.keyOf(key)); }
}

class KvNamespace {
  constructor() { this.values = new Map(); this.failing = false; }
  async get(key) {
    if (this.failing) throw new Error("KV unavailable (simulated)");
    return this.values.has(key) ? this.values.get(key) : null;
  }
  async put(key, value) { this.values.set(key, String(value)); }
}

class SqlStorageCursor {
  constructor(rows, rowsWritten) { this.rows = rows; this.rowsWritten = rowsWritten; }
  toArray() { return this.rows; }
  one() { if (this.rows.length !== 1) throw new Error(`expected exactly one row, got ${this.rows.length}`); return this.rows[0]; }
  *[Symbol.iterator]() { yield* this.rows; }
}

class SqlStorage {
  constructor(db) { this.db = db; }
  exec(query, ...params) {  // synchronous, like the real one
    if (params.some((p) => p !== null && typeof p === "object" && !(p instanceof Uint8Array)))
      throw new TypeError("sql.exec parameters must be strings, numbers, null or bytes");
    const statement = this.db.prepare(query);
    if (statement.columns().length > 0) return new SqlStorageCursor(statement.all(...params).map((r) => ({ ...r })), 0);
    const info = statement.run(...params);
    return new SqlStorageCursor([], Number(info.changes));
  }
}

class DurableObjectStorage {
  constructor(object) { this.object = object; this.sql = new SqlStorage(new DatabaseSync(":memory:")); this.alarmAt = null; this.timer = null; }
  async getAlarm() { return this.alarmAt; }
  async setAlarm(epochMs) {
    if (typeof epochMs !== "number" || !Number.isFinite(epochMs)) throw new TypeError("setAlarm needs a time in ms");
    this.alarmAt = epochMs;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.object.fireAlarm(0), Math.max(0, (epochMs - Date.now()) * timeScale));
  }
  async deleteAlarm() { clearTimeout(this.timer); this.alarmAt = null; }
}

class DurableObjectState {
  constructor(object, id) { this.id = id; this.storage = new DurableObjectStorage(object); }
  waitUntil(promise) {
    if (promise?.type !== undefined) throw new TypeError("waitUntil needs a Promise (unpatched context got a Python object)");
    tracked.add(promise); promise.finally?.(() => tracked.delete(promise)); }
  blockConcurrencyWhile(fn) { return fn(); }
}

class LiveObject {  // one Durable Object instance with its input gate
  constructor(namespace, name) {
    this.namespace = namespace; this.name = name; this.queue = Promise.resolve();
    this.state = new DurableObjectState(this, { name, toString: () => name });
    this.alarmRuns = 0; this.alarmFailures = 0;
  }
  instance() {
    if (!this.py) this.py = bridge.make_object(entry[this.namespace.className], this.state, env);
    return this.py;
  }
  serialize(work) {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }
  call(method, argList) {
    const cloned = structuredClone(argList);  // what crosses real RPC
    return this.serialize(async () => {
      const proxy = await bridge.invoke(this.instance(), method, pyodide.toPy(cloned, { depth: 1 }));
      const result = proxy?.toJs ? proxy.toJs({ dict_converter: Object.fromEntries }) : proxy;
      return structuredClone(result);
    });
  }
  fireAlarm(retryCount) {
    const storage = this.state.storage;
    storage.alarmAt = null;
    return this.serialize(async () => {
      this.alarmRuns += 1;
      try {
        await bridge.run_alarm(this.instance(), retryCount);
      } catch (error) {
        this.alarmFailures += 1;
        if (retryCount < 6) {  // at-least-once: retried with exponential backoff from 2 s
          storage.timer = setTimeout(() => this.fireAlarm(retryCount + 1), 2000 * 2 ** retryCount * timeScale);
        }
      }
    });
  }
}

class DurableObjectNamespace {
  constructor(className) { this.className = className; this.objects = new Map(); this.failing = false; }
  idFromName(name) { return { name: String(name), toString() { return this.name; } }; }
  get(id) {
    const name = String(id.name ?? id);
    if (!this.objects.has(name)) this.objects.set(name, new LiveObject(this, name));
    const live = this.objects.get(name);
    return new Proxy({}, {
      get(_, method) {
        if (method === "then") return undefined;  // a stub is not a promise
        if (typeof method !== "string") return undefined;
        return (...callArgs) => live.namespace.failing
          ? Promise.reject(new Error("Durable Object is overloaded (simulated fault)"))
          : live.call(method, callArgs);
      },
    });
  }
}

// An ExecutionContext belongs to one request: once its response is sent and its waitUntil work
// is done, workerd has torn its I/O context down, and waitUntil on it throws. Such calls (work
// deferred under another request's context) are counted in /__miniworkerd/violations.
const violations = { late_wait_until: 0 };
class ExecutionContext {
  constructor() { this.passThrough = false; this.pending = new Set(); this.finished = false; }
  waitUntil(promise) {
    if (promise?.type !== undefined) throw new TypeError("waitUntil needs a Promise (unpatched context got a Python object)");
    if (this.finished) {
      violations.late_wait_until += 1;
      throw new Error("waitUntil() on the context of a request that has finished");
    }
    const kept = Promise.resolve(promise).catch((e) => console.error("waitUntil failed:", e));
    tracked.add(promise); this.pending.add(kept);
    kept.finally(() => { tracked.delete(promise); this.pending.delete(kept); }); }
  passThroughOnException() { this.passThrough = true; }
  async finish() { while (this.pending.size) await Promise.allSettled([...this.pending]); this.finished = true; }
}

const tracked = new Set();
async function settle() { while (tracked.size) await Promise.allSettled([...tracked]); }

// ---------------------------------------------------------------- Pyodide and the Worker
globalThis.caches = { default: new Cache() };
globalThis.HTMLRewriter = HTMLRewriter; // real lol-html (html-rewriter-wasm), Cloudflare's API
class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
class RpcTarget {}
class WorkflowEntrypoint {}
const { pyodide, bridge, entry } = await loadBundledWorker({
  dist: args.dist,
  standIns: args["stand-ins"],
  harness: {
    workersModule: { WorkerEntrypoint, DurableObject, RpcTarget, WorkflowEntrypoint, env: {}, waitUntil: (p) => tracked.add(p) },
    doAnImport: async (name) => { throw new Error(`module ${name} is not available in miniworkerd`); },
  },
  pyodideOptions: { stdout: (s) => console.error(s), stderr: (s) => console.error(s) },
});
const entryNames = pyodide.runPython("import entry; sorted(getattr(entry, '__all__', []))").toJs();

const kv = new KvNamespace();
if (args.config) await kv.put("config.json", fs.readFileSync(args.config, "utf8"));
const queue = new DurableObjectNamespace("QueueShard");
const counters = new DurableObjectNamespace("Counters");
globalThis._miniworkerd_queue = queue;
let env = {
  EDGESPLIT_CONFIG: kv, QUEUE: queue, COUNTERS: counters, EDGESPLIT_CONFIG_KEY: "config.json", EDGESPLIT_CONFIG_TTL: "1",
  EDGESPLIT_QUEUE_SHARDS: "4", EDGESPLIT_ORIGIN_TIMEOUT: "1",
  ...(args.origin ? { EDGESPLIT_ORIGIN: args.origin } : {}),
  ...(args.keys ? { EDGESPLIT_KEYS: fs.readFileSync(args.keys, "utf8") } : {}),
  ...(args.vendor ? { EDGESPLIT_VENDOR_URL: args.vendor } : {}),
  EDGESPLIT_DRAIN_PACE: "0.05", EDGESPLIT_DRAIN_BACKOFF: "0.05", EDGESPLIT_DRAIN_TIMEOUT: "2",
};
globalThis._miniworkerd_env = env;

// ---------------------------------------------------------------- HTTP in front
async function controls(req, url, body) {
  const route = url.pathname.slice("/__miniworkerd".length);
  if (route === "/exports") return { exports: entryNames };
  if (route === "/settle") { await settle(); return { settled: true }; }
  if (route === "/violations") { await settle(); return violations; }
  if (route === "/queue") {
    await settle();
    const shards = {};
    for (const [name, live] of queue.objects) shards[name] = await live.call("stats", []);
    return { shards, alarms: [...queue.objects.values()].map((o) => ({ name: o.name, runs: o.alarmRuns, failures: o.alarmFailures })) };
  }
  if (route === "/cache") return { keys: [...caches.default.entries.keys()], puts: caches.default.puts, refused: caches.default.refused };
  if (route === "/kv" && req.method === "PUT") { await kv.put(url.searchParams.get("key"), body); return { ok: true }; }
  if (route === "/kv") return { value: kv.values.get(url.searchParams.get("key")) ?? null };
  if (route === "/kv-failing") { kv.failing = url.searchParams.get("on") === "1"; return { failing: kv.failing }; }
  if (route === "/fault") {  // cache | queue | counters | kv: the platform part fails until switched off
    const part = { cache: caches.default, queue, counters, kv }[url.searchParams.get("part")];
    if (!part) return null;
    part.failing = url.searchParams.get("on") === "1";
    return { failing: part.failing };
  }
  if (route === "/env") {  // a new deployment's variables: workerd hands isolates a new env object
    env = { ...env, [url.searchParams.get("name")]: url.searchParams.get("value") };
    globalThis._miniworkerd_env = env;
    for (const namespace of [queue, counters]) {  // and restarts Durable Objects (storage stays)
      for (const live of namespace.objects.values()) live.py = undefined;
    }
    return { ok: true };
  }
  if (route === "/scheduled") {
    await settle();  // counts sent by earlier requests' waitUntil arrive first
    const ctx = new ExecutionContext();
    await bridge.call_scheduled(entry.Default, env, ctx);
    await settle();
    return { ok: true };
  }
  if (route === "/python") {  // run a snippet in the Worker's interpreter (contract tests)
    const result = await pyodide.runPythonAsync(body);
    return { result: result?.toJs ? result.toJs({ dict_converter: Object.fromEntries }) : result };
  }
  return null;
}

const server = http.createServer(async (req, res) => {
  try {
    const host = req.headers.host || "localhost";
    const url = new URL(req.url, `http://${host}`);
    if (url.pathname.startsWith("/__miniworkerd/")) {
      const chunks = []; for await (const c of req) chunks.push(c);
      const out = await controls(req, url, Buffer.concat(chunks).toString("utf8"));
      res.writeHead(out ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify(out ?? { error: "unknown control" }));
      return;
    }
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    headers.set("cf-connecting-ip", req.socket.remoteAddress || "127.0.0.1");
    const hasBody = !["GET", "HEAD"].includes(req.method);
    const request = new Request(url.href, { method: req.method, headers, body: hasBody ? Readable.toWeb(req) : undefined, duplex: "half" });
    const ctx = new ExecutionContext();
    let response;
    try {
      response = await bridge.call_fetch(entry.Default, request, env, ctx);
    } catch (error) {
      if (!ctx.passThrough || !args.origin) throw error;
      console.error("worker raised; passing through to the origin:", String(error).split("\n").slice(-2).join(" "));
      response = await fetch(args.origin + url.pathname + url.search, { method: req.method, headers, redirect: "manual" });
    }
    const outHeaders = {};
    for (const [name, value] of response.headers) if (name !== "set-cookie") outHeaders[name] = value;
    const cookies = response.headers.getSetCookie();
    if (cookies.length) outHeaders["set-cookie"] = cookies;
    res.writeHead(response.status, outHeaders);
    res.on("close", () => ctx.finish());
    if (response.body && req.method !== "HEAD") Readable.fromWeb(response.body).pipe(res);
    else res.end();
  } catch (error) {
    console.error("miniworkerd: unhandled", error);
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(`miniworkerd: the Worker raised: ${error}`);
  }
});
server.listen(Number(args.port), "127.0.0.1", () => console.log(`READY ${server.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => { server.close(); process.exit(0); });
