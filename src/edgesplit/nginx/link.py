"""Keeps nginx's decision cache from outliving a config: every config the service starts running
gets a fresh epoch, written to a file nginx includes (``$edgesplit_config_epoch``, part of the
decision cache key) and nginx is told to reload (SIGHUP to the pid in its pid file). Cached
decisions of an earlier config are then unreachable: their key names an epoch nginx no longer has.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from pathlib import Path

from ..core import Config, ConfigHolder

__all__ = ["NginxLink", "epoch_include"]

log = logging.getLogger("edgesplit.nginx")


def epoch_include(epoch: str) -> str:
    return (
        "# Written by edgesplit decide: changes with every config it runs (the decision cache key).\n"
        f'map $host $edgesplit_config_epoch {{ default "{epoch}"; }}\n'
    )


class NginxLink:
    def __init__(
        self, epoch_file: str, pid_file: str | None, holder: ConfigHolder, *, interval: float = 0.2
    ) -> None:
        self.epoch_file = Path(epoch_file)
        self.pid_file = Path(pid_file) if pid_file else None
        self.holder = holder
        self.interval = interval
        self.published: Config | None = None
        self.epoch = ""
        self._task: asyncio.Task[None] | None = None

    def publish(self) -> None:
        """A fresh epoch for the running config (a restarted service starts a fresh one too: the
        cached decisions of its previous life are never reused)."""
        self.published = self.holder.current
        self.epoch = f"{self.published.version[:32]}-{secrets.token_hex(8)}"
        self.epoch = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.epoch)
        temporary = self.epoch_file.with_name(self.epoch_file.name + ".tmp")
        temporary.write_text(epoch_include(self.epoch), encoding="utf-8")
        os.replace(temporary, self.epoch_file)
        self._reload_nginx()

    def _reload_nginx(self) -> None:
        if self.pid_file is None or not self.pid_file.exists():
            return  # no nginx running yet: it reads the file when it starts
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            log.warning(
                "could not tell nginx to reload (%s: %s); it keeps the old epoch until it does",
                self.pid_file,
                exc,
            )
            return
        log.info(
            "config %r: nginx told to reload (decision cache epoch %s)",
            self.published.version if self.published else "",
            self.epoch,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.holder.current is not self.published:
                try:
                    self.publish()
                except OSError as exc:
                    log.error("could not write %s: %s", self.epoch_file, exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
