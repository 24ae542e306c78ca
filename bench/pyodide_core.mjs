// Runs bench/core_timing.py inside Pyodide 0.28.2 (Cloudflare's Python) and prints its JSON.
import { loadPyodide } from "pyodide";
import path from "node:path";

const root = path.resolve(process.argv[2] ?? ".");
const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/repo");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, "/repo");
const out = pyodide.runPython(`
import sys
sys.path[:0] = ["/repo/src", "/repo/bench"]
import json, core_timing
json.dumps(core_timing.measure())
`);
console.log(out);
