// Cloudflare's HTMLRewriter API (`new HTMLRewriter().on(selector, handlers).transform(response)`)
// over npm's html-rewriter-wasm: lol-html, the engine behind workerd's HTMLRewriter, compiled to
// WebAssembly. The same shape Miniflare 2 gave it: a bad selector throws from `.on()`, the body
// streams through lol-html chunk by chunk, and the new response has no Content-Length.
import { HTMLRewriter as LolHtml } from "html-rewriter-wasm";

const encoder = new TextEncoder();

export class HTMLRewriter {
  constructor() { this.elementHandlers = []; this.documentHandlers = []; }

  on(selector, handlers) {
    const probe = new LolHtml(() => {});
    try {
      probe.on(selector, {}); // throws on a selector lol-html does not support, as workerd does
    } finally {
      probe.free();
    }
    this.elementHandlers.push([selector, handlers]);
    return this;
  }

  onDocument(handlers) { this.documentHandlers.push(handlers); return this; }

  transform(response) {
    const { elementHandlers, documentHandlers } = this;
    const source = response.body;
    const body = new ReadableStream({
      async start(controller) {
        const rewriter = new LolHtml((chunk) => { if (chunk.length) controller.enqueue(chunk.slice()); });
        for (const [selector, handlers] of elementHandlers) rewriter.on(selector, handlers);
        for (const handlers of documentHandlers) rewriter.onDocument(handlers);
        try {
          if (source) {
            for await (const chunk of source) {
              await rewriter.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
            }
          }
          await rewriter.end();
          controller.close();
        } catch (error) {
          controller.error(error);
        } finally {
          rewriter.free();
        }
      },
    });
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  }
}
