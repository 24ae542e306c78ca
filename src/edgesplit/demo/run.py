"""``edgesplit demo``: origin, vendor simulator and proxy on loopback, with the bundled config."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import tempfile

from aiohttp import web

from .. import load_config
from ..core import HmacKey, Keyring
from ..local.service import ProxyOptions, ProxyService
from ..local.vendor_sim import VendorSimulator
from . import DEMO_CONFIG_PATH
from .origin_app import make_origin_app

__all__ = ["run_demo"]

log = logging.getLogger("edgesplit.demo")


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001


async def run_demo(
    keyring: Keyring | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    origin_port: int = 8081,
    vendor_port: int = 8082,
    config_path: str = DEMO_CONFIG_PATH,
) -> None:
    config = load_config(config_path)
    # A fresh key for this run unless one is given: the demo origin verifies with the keyring
    # the proxy signs with.
    keyring = keyring or Keyring((HmacKey("demo", secrets.token_bytes(32)),))
    vendor = VendorSimulator()
    origin_runner, origin_port = await _start(
        make_origin_app(keyring, config.settings.decision.header), host, origin_port
    )
    vendor_runner, vendor_port = await _start(vendor.app(), host, vendor_port)
    queue_dir = tempfile.mkdtemp(
        prefix="edgesplit-demo-queue-"
    )  # the demo's durable queue, thrown away after
    options = ProxyOptions(
        origin=f"http://{host}:{origin_port}",
        host=host,
        port=port,
        config_path=config_path,
        vendor_url=f"http://{host}:{vendor_port}/batch",
        queue_dir=queue_dir,
    )
    service = ProxyService(options, config, keyring)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    proxy = f"http://{host}:{service.port}"
    print(
        f"""
edgesplit demo is running.

  Open {proxy}/            the home page, through the proxy (experiment hero-headline)
       {proxy}/pricing     three-way GrowthBook-compatible experiment
       {proxy}/checkout/   uncacheable page; 80% coverage
       {proxy}/?edgesplit_force=hero-headline:bold   force a variant (QA overrides are on in the demo)
       {proxy}/__edgesplit/metrics   Prometheus metrics
       http://{host}:{vendor_port}/stats   events the demo vendor received

  origin  http://{host}:{origin_port}  (renders the variant it is told, verifies the signature)
  vendor  http://{host}:{vendor_port}  (counts events, deduplicated by idempotency key)
  config  {config_path}

Ctrl-C stops everything.
""",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await service.stop()
        await origin_runner.cleanup()
        await vendor_runner.cleanup()
        print("edgesplit demo stopped.", flush=True)
