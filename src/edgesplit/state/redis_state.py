"""The shared state on Redis 7 (or Valkey), through redis-py's asyncio client.

Layout under a prefix (default ``edgesplit``), standalone Redis (the scripts name keys they
build, which Redis Cluster does not allow):

- ``P:totals:E`` hash ``variant|field`` -> all-time sum, for experiment E;
- ``P:hours:E:D`` hash ``hour|variant|field`` -> sum (exposures and conversions, day D; expires);
- ``P:applied:PROXY`` the last batch seq applied for a proxy (a resent batch is not counted twice);
- ``P:state:E`` hash and ``P:history:E`` list (newest first): the guardrail state and actions;
- ``P:lease`` (owner, PX) and ``P:fence`` (the fencing token, INCR per new holder);
- ``P:config`` hash ``version``, ``text``: the published config document;
- ``P:proxies`` sorted set proxy -> last seen, ``P:proxy:ID`` its report (PX).

Every write that must be whole is one Lua script (atomic: a proxy killed mid-update leaves the
previous state or the next, never half)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from ..guardrails.counts import DAY, HISTORY_KEEP, HOUR
from ..guardrails.updater import COUNTS_META
from .port import Changes, ClusterCounts, CountBatch, Lease, StateUnavailable
from .snapshot import HOURLY_FIELDS

__all__ = ["RedisState"]

T = TypeVar("T")
INTEGER_FIELDS = ("exposures", "conversions", "requests", "errors")
HOURS_KEPT_SECONDS = 3 * DAY
"""Hourly keys live this long (the status page charts the last 48 hours)."""
HISTORY_SHOWN = 50

ADD_COUNTS = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last >= tonumber(ARGV[1]) then return 0 end
local prefix = ARGV[2]
for i = 4, #ARGV, 6 do
  local experiment, variant, day, bucket, name, amount = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5]
  if name == 'latency_ms' then
    redis.call('HINCRBYFLOAT', prefix .. ':totals:' .. experiment, variant .. '|' .. name, amount)
  else
    redis.call('HINCRBY', prefix .. ':totals:' .. experiment, variant .. '|' .. name, amount)
  end
  if day ~= '' then
    local key = prefix .. ':hours:' .. experiment .. ':' .. day
    redis.call('HINCRBY', key, bucket .. '|' .. variant .. '|' .. name, amount)
    redis.call('EXPIRE', key, ARGV[3])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
return 1
"""

ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local version = tonumber(redis.call('HGET', KEYS[3], 'version') or '0')
if version ~= tonumber(ARGV[3]) then return 0 end
local prefix = ARGV[4]
local changes = cjson.decode(ARGV[5])
local function usable(key, kind)
  local found = redis.call('TYPE', key).ok
  return found == 'none' or found == kind
end
-- check every key before the first write: a script that fails midway keeps what it wrote
if not usable(KEYS[3], 'hash') then return -1 end
for experiment, _ in pairs(changes.state) do
  if not usable(prefix .. ':state:' .. experiment, 'hash') then return -1 end
end
for experiment, _ in pairs(changes.history) do
  if not usable(prefix .. ':history:' .. experiment, 'list') then return -1 end
end
for experiment, values in pairs(changes.state) do
  for name, value in pairs(values) do
    redis.call('HSET', prefix .. ':state:' .. experiment, name, value)
  end
end
for experiment, items in pairs(changes.history) do
  local key = prefix .. ':history:' .. experiment
  for _, item in ipairs(items) do redis.call('LPUSH', key, item) end
  redis.call('LTRIM', key, 0, tonumber(ARGV[6]) - 1)
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[3], 'version', version + 1, 'text', ARGV[7])
end
return 1
"""

SEED = """
if redis.call('HEXISTS', KEYS[1], 'version') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', 1, 'text', ARGV[1])
return 1
"""

PUSH = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') + 1
redis.call('HSET', KEYS[1], 'version', version, 'text', ARGV[1])
return version
"""


class RedisState:
    def __init__(self, url: str, *, prefix: str = "edgesplit", timeout: float = 1.0) -> None:
        self.prefix = prefix
        self.timeout = timeout
        self.redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
        )
        self._add = self.redis.register_script(ADD_COUNTS)
        self._acquire = self.redis.register_script(ACQUIRE)
        self._commit = self.redis.register_script(COMMIT)
        self._seed = self.redis.register_script(SEED)
        self._push = self.redis.register_script(PUSH)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """Every round trip is bounded: a slow Redis is a down Redis."""
        try:
            return await asyncio.wait_for(awaitable, self.timeout * 2)
        except (RedisError, OSError, TimeoutError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc

    async def add_counts(self, batch: CountBatch) -> None:
        args: list[Any] = [batch.seq, self.prefix, HOURS_KEPT_SECONDS]
        for experiment, variant, when, amounts in batch.rows:
            bucket = int(when // HOUR) * HOUR
            for name, amount in amounts.items():
                if not amount:
                    continue
                hourly = name in HOURLY_FIELDS
                value = int(amount) if name in INTEGER_FIELDS else repr(float(amount))
                args += [experiment, variant, str(bucket // DAY) if hourly else "", bucket, name, value]
        await self._call(self._add(keys=[self.key("applied", batch.proxy)], args=args))

    async def read(self, experiments: list[str], now: float) -> ClusterCounts:
        today = int(now // DAY)
        days = [str(day) for day in range(today - HOURS_KEPT_SECONDS // DAY + 1, today + 1)]
        pipe = self.redis.pipeline(transaction=True)  # MULTI/EXEC: one point in time
        for experiment in experiments:
            pipe.hgetall(self.key("totals", experiment))
            for day in days:
                pipe.hgetall(self.key("hours", experiment, day))
            pipe.hgetall(self.key("state", experiment))
            pipe.lrange(self.key("history", experiment), 0, HISTORY_SHOWN - 1)
        pipe.hgetall(self.key("state", COUNTS_META))
        replies = iter(await self._call(pipe.execute()))
        counts = ClusterCounts()
        for experiment in experiments:
            totals: dict[str, dict[str, float]] = {}
            for field, value in next(replies).items():
                variant, name = field.rsplit("|", 1)
                totals.setdefault(variant, {})[name] = float(value)
            counts.totals[experiment] = totals
            hours: dict[tuple[int, str], dict[str, float]] = {}
            for _ in days:
                for field, value in next(replies).items():
                    bucket, rest = field.split("|", 1)
                    variant, name = rest.rsplit("|", 1)
                    hours.setdefault((int(bucket), variant), {})[name] = float(value)
            counts.hours[experiment] = [
                (bucket, variant, amounts) for (bucket, variant), amounts in hours.items()
            ]
            counts.state[experiment] = {name: float(value) for name, value in next(replies).items()}
            counts.history[experiment] = [json.loads(item) for item in next(replies)]
        counts.state[COUNTS_META] = {name: float(value) for name, value in next(replies).items()}
        return counts

    async def acquire_lease(self, owner: str, ttl_seconds: float) -> Lease | None:
        token = await self._call(
            self._acquire(
                keys=[self.key("lease"), self.key("fence")], args=[owner, max(1, int(ttl_seconds * 1000))]
            )
        )
        return Lease(owner, int(token)) if token else None

    async def commit(
        self, lease: Lease, changes: Changes, config_text: str | None, config_version: int
    ) -> bool:
        payload = {
            "state": {
                key: {name: repr(value) for name, value in values.items()}
                for key, values in changes.state.items()
            },
            "history": {
                key: [json.dumps(item, sort_keys=True, allow_nan=False) for item in items]
                for key, items in changes.history.items()
            },
        }
        done = await self._call(
            self._commit(
                keys=[self.key("lease"), self.key("fence"), self.key("config")],
                args=[
                    lease.owner,
                    lease.token,
                    config_version,
                    self.prefix,
                    json.dumps(payload, allow_nan=False),
                    HISTORY_KEEP,
                    config_text or "",
                ],
            )
        )
        if done == -1:
            raise StateUnavailable("redis: a shared-state key holds another type; nothing was written")
        return bool(done)

    async def config(self) -> tuple[int, str] | None:
        version, text = await self._call(self.redis.hmget(self.key("config"), ["version", "text"]))
        return (int(version), str(text)) if version is not None and text is not None else None

    async def config_version(self) -> int:
        version = await self._call(self.redis.hget(self.key("config"), "version"))
        return int(version) if version is not None else 0

    async def seed_config(self, text: str) -> bool:
        return bool(await self._call(self._seed(keys=[self.key("config")], args=[text])))

    async def push_config(self, text: str) -> int:
        return int(await self._call(self._push(keys=[self.key("config")], args=[text])))

    async def report(self, proxy: str, report: dict[str, Any], now: float, ttl_seconds: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(
            self.key("proxy", proxy), json.dumps(report, allow_nan=False), px=max(1, int(ttl_seconds * 1000))
        )
        pipe.zadd(self.key("proxies"), {proxy: now})
        await self._call(pipe.execute())

    async def reports(self, now: float, forget_after: float) -> dict[str, dict[str, Any] | None]:
        members = self.key("proxies")
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(members, "-inf", now - forget_after)
        pipe.zrange(members, 0, -1)
        _, proxies = await self._call(pipe.execute())
        if not proxies:
            return {}
        values = await self._call(self.redis.mget([self.key("proxy", proxy) for proxy in proxies]))
        return {
            proxy: (json.loads(value) if value else None)
            for proxy, value in zip(proxies, values, strict=True)
        }

    async def leave(self, proxy: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.key("proxies"), proxy)
        pipe.delete(self.key("proxy", proxy))
        await self._call(pipe.execute())

    async def close(self) -> None:
        await self.redis.aclose()
