// The bundled Worker (wrangler's dry-run tree) loaded into Pyodide 0.28.2 the way workerd loads
// it: the SDK's two workerd-internal modules answered from `harness` (tests/edge/stand_ins reads
// globalThis._miniworkerd), the tree and the stand-ins mounted, the main module imported with
// randomness and the clock made to raise. Shared by miniworkerd.mjs and bench/edge_cost.mjs.
import path from "node:path";
import { loadPyodide } from "pyodide";

// Like workerd's: a Python awaitable handed to waitUntil is kept alive and awaited. The
// argument is a borrowed proxy that dies when the call returns, so it is copied first.
export function patchWaitUntil(ctx) {
  const original = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (work) => {
    if (work && typeof work.copy === "function" && work.type !== undefined) {
      const kept = work.copy();
      original(Promise.resolve(kept).finally(() => kept.destroy()));
    } else {
      original(work);
    }
  };
}

export async function loadBundledWorker({ dist, standIns, harness, pyodideOptions = {} }) {
  globalThis._miniworkerd = { patchWaitUntil, ...harness };
  const pyodide = await loadPyodide(pyodideOptions);
  for (const [host, mountPoint] of [[dist, "/session/metadata"], [standIns, "/session/stand_ins"]]) {
    pyodide.FS.mkdirTree(mountPoint);
    pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: path.resolve(host) }, mountPoint);
  }
  pyodide.runPython(`
import sys
sys.path[:0] = ["/session/metadata", "/session/metadata/python_modules", "/session/stand_ins"]
sys.dont_write_bytecode = True
`);
  const bridge = pyodide.pyimport("_miniworkerd_bridge");
  const entry = bridge.import_entry_with_entropy_forbidden("entry");  // every edge module, no entropy
  return { pyodide, bridge, entry };
}
