// The edge side of bench/bench_html.py: the same 100 KB page and ten changes through lol-html
// (npm html-rewriter-wasm, the engine of Cloudflare's HTMLRewriter, as WebAssembly) in Node,
// with JavaScript handlers. A lower bound for the Worker (whose handlers are Python, called
// through Pyodide), in CPU milliseconds per page (process.cpuUsage).
//   node bench/html_edge.mjs PAGE.html [rounds]
import { readFileSync } from "node:fs";
import { HTMLRewriter } from "../tests/edge/html_rewriter_shim.mjs";

const [pagePath, roundsText = "200"] = process.argv.slice(2);
const page = readFileSync(pagePath);
const html = { html: true };
const handlers = [
  ["h1.hero", (e) => e.setInnerContent("Save 20% this week")],
  ["a.cta", (e) => e.setAttribute("class", `${e.getAttribute("class") || ""} cta-b`.trim())],
  ["a.cta", (e) => e.setAttribute("href", "/signup?plan=b")],
  ["#promo", (e) => e.replace('<section id="promo-b"><h2>New offer</h2><p>Limited time.</p></section>', html)],
  ["nav > ul", (e) => e.append('<li><a href="/deals">Deals</a></li>', html)],
  ["header", (e) => e.after('<div class="banner">Free shipping over $50</div>', html)],
  [".card:first-child .price", (e) => e.setInnerContent("$19")],
  ["footer .legal", (e) => e.remove()],
  ["[data-track=old]", (e) => e.removeAttribute("data-track")],
  ["main", (e) => e.prepend('<p class="notice">Prices include VAT.</p>', html)],
];

async function once() {
  let rewriter = new HTMLRewriter();
  for (const [selector, element] of handlers) rewriter = rewriter.on(selector, { element });
  return rewriter.transform(new Response(page, { headers: { "content-type": "text/html" } })).arrayBuffer();
}

const rounds = Number(roundsText);
for (let i = 0; i < 20; i++) await once();
const cpu = [];
for (let i = 0; i < rounds; i++) {
  const started = process.cpuUsage();
  await once();
  const used = process.cpuUsage(started);
  cpu.push((used.user + used.system) / 1000);
}
cpu.sort((a, b) => a - b);
const out = Buffer.from(await once()).toString();
if (!out.includes("Save 20% this week") || out.includes("Legal text")) throw new Error("changes not applied");
console.log(JSON.stringify({ rounds, cpu_p50_ms: cpu[Math.floor(rounds / 2)], cpu_p90_ms: cpu[Math.floor(rounds * 0.9)] }));
