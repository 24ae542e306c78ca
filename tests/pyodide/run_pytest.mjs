// Runs pytest inside Pyodide 0.28 (the interpreter Cloudflare's Python Workers run) under Node.
//
//   node tests/pyodide/run_pytest.mjs <repo root> <site-packages dir> [pytest args...]
//
// The repository is mounted read-write at /repo and the unpacked pure-Python test
// dependencies at /deps; pytest's exit code becomes this process's exit code.
import { loadPyodide } from "pyodide";
import path from "node:path";

const [repoRoot, depsDir, ...pytestArgs] = process.argv.slice(2);
if (!repoRoot || !depsDir) {
  console.error("usage: run_pytest.mjs <repo root> <site-packages dir> [pytest args...]");
  process.exit(2);
}

const pyodide = await loadPyodide({ stdout: (s) => console.log(s), stderr: (s) => console.error(s) });
const FS = pyodide.FS;
for (const [host, mountPoint] of [[repoRoot, "/repo"], [depsDir, "/deps"]]) {
  FS.mkdirTree(mountPoint);
  FS.mount(FS.filesystems.NODEFS, { root: path.resolve(host) }, mountPoint);
}
pyodide.globals.set("pytest_args", pyodide.toPy(pytestArgs));
const code = await pyodide.runPythonAsync(`
import os, sys
sys.path[:0] = ["/repo/src", "/deps"]
os.chdir("/repo")
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True
import pytest
print(f"pyodide {sys.version.split()[0]} on {sys.platform}", flush=True)
int(pytest.main(["-c", "/repo/tests/pyodide/pytest.ini", "--rootdir", "/repo", "-p", "no:cacheprovider", "-s", *pytest_args]))
`);
process.exit(code);
