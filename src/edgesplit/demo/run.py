"""``edgesplit demo``: origin, vendor simulator and proxy on loopback, with the bundled config."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import signal
import tempfile
from dataclasses import dataclass, field

from aiohttp import web

from .. import load_config
from ..core import HmacKey, Keyring, Manifest, ManifestBook, browser_keys
from ..proxy.service import ProxyOptions, ProxyService
from ..proxy.vendor_sim import VendorSimulator
from . import DEMO_CONFIG_PATH
from .origin_app import client_tag, make_origin_app

__all__ = ["DemoStack", "demo_keyring", "run_demo"]

log = logging.getLogger("edgesplit.demo")


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001


def demo_keyring() -> Keyring:
    """A fresh key for this run: Ed25519 when ``cryptography`` is there (so the browser can
    verify its own assignments), HMAC otherwise."""
    try:
        from ..ed25519 import ed25519_key
    except ImportError:
        return Keyring((HmacKey("demo", secrets.token_bytes(32)),))
    return Keyring((ed25519_key("demo", secrets.token_bytes(32), None, None),))


@dataclass
class DemoStack:
    """Origin, vendor simulator and proxy on loopback (``edgesplit demo``, and the browser tests)."""

    keyring: Keyring = field(default_factory=demo_keyring)
    host: str = "127.0.0.1"
    port: int = 8080
    origin_port: int = 8081
    vendor_port: int = 8082
    config_path: str = DEMO_CONFIG_PATH
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    guardrail_interval: float = 10.0
    vendor: VendorSimulator = field(default_factory=VendorSimulator)
    service: ProxyService | None = None
    _runners: list[web.AppRunner] = field(default_factory=list)

    @property
    def proxy_url(self) -> str:
        assert self.service is not None
        return f"http://{self.host}:{self.service.port}"

    async def start(self) -> None:
        config = load_config(self.config_path)
        prefix = config.settings.admin.path_prefix
        head = client_tag(prefix, browser_keys(self.keyring))
        manifests = ManifestBook([Manifest.from_config(config)])
        origin_app = make_origin_app(self.keyring, config.settings.decision.header, head, manifests)
        origin_runner, self.origin_port = await _start(origin_app, self.host, self.origin_port)
        vendor_runner, self.vendor_port = await _start(self.vendor.app(), self.host, self.vendor_port)
        self._runners = [origin_runner, vendor_runner]
        options = ProxyOptions(
            origin=f"http://{self.host}:{self.origin_port}",
            host=self.host,
            port=self.port,
            config_path=self.config_path,
            vendor_url=f"http://{self.host}:{self.vendor_port}/batch",
            queue_dir=tempfile.mkdtemp(prefix="edgesplit-demo-queue-"),  # thrown away after
            admin_token=self.admin_token,
            guardrail_interval=self.guardrail_interval,
        )
        self.service = ProxyService(options, config, self.keyring)
        await self.service.start()

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            shutil.rmtree(self.service.options.queue_dir, ignore_errors=True)
        for runner in self._runners:
            await runner.cleanup()


async def run_demo(
    keyring: Keyring | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    origin_port: int = 8081,
    vendor_port: int = 8082,
    config_path: str = DEMO_CONFIG_PATH,
) -> None:
    stack = DemoStack(
        host=host, port=port, origin_port=origin_port, vendor_port=vendor_port, config_path=config_path
    )
    if keyring is not None:
        stack.keyring = keyring
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stack.start()
    proxy = stack.proxy_url
    print(
        f"""
edgesplit demo is running.

  Open {proxy}/            the home page, through the proxy (experiment hero-headline)
       {proxy}/pricing     three-way GrowthBook-compatible experiment
       {proxy}/checkout/   uncacheable page; 80% coverage
       {proxy}/?edgesplit_force=hero-headline:bold   force a variant (QA overrides are on in the demo)
       {proxy}/__edgesplit/status    status page; admin token: {stack.admin_token}
       {proxy}/__edgesplit/metrics   Prometheus metrics (same token, as a bearer token)
       http://{host}:{stack.vendor_port}/stats   events the demo vendor received

  origin  http://{host}:{stack.origin_port}  (renders the variant it is told, verifies the signature)
  vendor  http://{host}:{stack.vendor_port}  (counts events, deduplicated by idempotency key)
  config  {config_path}
  keys    {", ".join(f"{k.id} ({k.alg})" for k in stack.keyring.keys)}: the browser verifies its cookie

Ctrl-C stops everything.
""",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await stack.stop()
        print("edgesplit demo stopped.", flush=True)
