"""The HTTP side of operations: ``/healthz`` for the container runtime, ``/metrics`` for Prometheus.

The server knows nothing of Discord or SQLite: the bot passes in a callable telling whether the
gateway is connected and a coroutine function pinging the database. Health requests arrive every
few seconds, so there is no access log; only changes of the health state are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Self

from aiohttp import web

from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

DB_PING_TIMEOUT_S: Final = 5.0
GATEWAY_DOWN: Final = "gateway not connected"
DATABASE_DOWN: Final = "database not answering"
CLUSTER_CUT_OFF: Final = "cut off from the database: not taking jobs"
_NO_STORE: Final = {"Cache-Control": "no-store"}


class HealthServer:
    """Serves ``GET /healthz`` and ``GET /metrics``; ``start()``/``stop()`` or ``async with``."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        is_gateway_connected: Callable[[], bool],
        db_ping: Callable[[], Awaitable[bool]],
        metrics: Metrics,
        shards: Callable[[], list[dict[str, object]]] | None = None,
        is_cluster_connected: Callable[[], bool] | None = None,
    ) -> None:
        self._requested_port = port
        self._host = host
        self._is_gateway_connected = is_gateway_connected
        self._db_ping = db_ping
        self._metrics = metrics
        # Sharded processes also report each shard and the database's state in the body.
        self._shards = shards
        self._is_cluster_connected = is_cluster_connected
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._last_reasons: tuple[str, ...] | None = None

    @property
    def port(self) -> int:
        """The port actually listened on (the kernel's choice when 0 was asked)."""
        if self._bound_port is None:
            raise RuntimeError("the health server is not started")
        return self._bound_port

    @property
    def host(self) -> str:
        """The address actually listened on, as the socket reports it."""
        if self._runner is None:
            raise RuntimeError("the health server is not started")
        return str(self._runner.addresses[0][0])

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_view)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the health server is already started")
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._bound_port = int(address[1])
        shown = f"[{self._host}]" if ":" in self._host else self._host
        log.info("health and metrics endpoints on http://%s:%d", shown, self._bound_port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._bound_port = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- checks -------------------------------------------------------------------------------

    async def check(self) -> tuple[str, ...]:
        """The reasons the bot is unhealthy; empty when it is healthy."""
        reasons: list[str] = []
        try:
            connected = bool(self._is_gateway_connected())
        except Exception:
            log.exception("health: the gateway check raised")
            connected = False
        if not connected:
            reasons.append(GATEWAY_DOWN)
        try:
            answered = await asyncio.wait_for(self._db_ping(), timeout=DB_PING_TIMEOUT_S)
        except TimeoutError:
            log.warning("health: the database ping took over %.0f s", DB_PING_TIMEOUT_S)
            answered = False
        except Exception:
            log.exception("health: the database ping raised")
            answered = False
        if not answered:
            reasons.append(DATABASE_DOWN)
        if self._is_cluster_connected is not None and not self._is_cluster_connected():
            reasons.append(CLUSTER_CUT_OFF)
        self._note(tuple(reasons))
        return tuple(reasons)

    def _note(self, reasons: tuple[str, ...]) -> None:
        """Log when the state changes, not on every probe."""
        if reasons == self._last_reasons:
            return
        if reasons:
            log.warning("health: unhealthy (%s)", "; ".join(reasons))
        elif self._last_reasons is not None:
            log.info("health: healthy again")
        self._last_reasons = reasons

    # -- views --------------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        reasons = await self.check()
        details: dict[str, object] = {}
        if self._shards is not None:
            database_ok = DATABASE_DOWN not in reasons and CLUSTER_CUT_OFF not in reasons
            details = {"database": "ok" if database_ok else "unavailable", "shards": self._shards()}
        if reasons:
            return web.json_response(
                {
                    "status": "unavailable",
                    "reason": "; ".join(reasons),
                    "reasons": list(reasons),
                    **details,
                },
                status=503,
                headers=_NO_STORE,
            )
        return web.json_response({"status": "ok", **details}, headers=_NO_STORE)

    async def _metrics_view(self, request: web.Request) -> web.Response:
        body = self._metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, **_NO_STORE})
