#!/usr/bin/env bash
# Every benchmark, one run each, printing ratios measured side by side (docs/benchmarks.md).
#   bash bench/run_all.sh            (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
echo "== decision time against GrowthBook.run()";   $py bench/bench_core.py
echo "== the core on Pyodide 0.28.2 against CPython"; $py bench/bench_runtimes.py
echo "== cache-hit throughput against a bare aiohttp handler"; $py bench/bench_throughput.py
echo "== request latency with the vendor down, queue rates"; $py bench/bench_events.py
echo "== HTML changes: a 100 KB page with ten changes, self-hosted"; $py bench/bench_html.py
echo "== proxy against direct origin at 1000 req/s (artillery, 60 s each)"; $py scripts/loadrun.py steady
echo "== edgesplit's own work per request, no HTTP (1/3/20 experiments)"; $py bench/bench_pipeline_work.py
echo "== the realistic mix: direct, bare proxy, edgesplit with/without vendor (docs/performance.md)"; $py bench/bench_mix.py
echo "== CPU per request by flow, bare proxy vs edgesplit"; $py bench/bench_mix.py --flows
