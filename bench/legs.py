"""Where an interaction's acknowledgement time goes inside a bot process.

``python -m bench.legs MODULE [ARGS]`` runs ``python -m MODULE [ARGS]`` (the bot or the bare
bot) with four timestamps taken for every interaction on its way through the process:

- ``frame``: the gateway frame that carried it starts being handled (discord.py's
  ``DiscordWebSocket.received_message``);
- ``handler``: the app command tree takes it (``CommandTree._from_interaction``), after
  discord.py has parsed it into an ``Interaction``;
- ``request``: the callback request is made (``AsyncWebhookAdapter.request`` on
  ``.../callback``), after the command's own code has run;
- ``written``: aiohttp starts writing the request's body to the socket
  (``ClientRequest.write_bytes``; Python 3.11 runs it as a task of its own).

The hooks (on those internals, plus ``ConnectionState.parse_interaction_create``, which ties
the frame's time to the interaction's id) do no more than read the clock into a dict; a
``gc.callbacks`` entry also notes each garbage collection of generation 1 or 2 (start, seconds).
On SIGUSR1 the process writes ``{"interactions": {id: {event: time}}, "collections": [[gen,
start, seconds], ...]}`` as JSON to the path in ``BENCH_LEGS``.
The clock is ``time.perf_counter`` (CLOCK_MONOTONIC on Linux), the clock the fake Discord stamps
its frames and callbacks with, so the legs of the two processes line up. Internals can move
between discord.py or aiohttp releases: a hook whose target is missing is left out, and its
legs show as missing in the report.
"""

from __future__ import annotations

import cProfile
import functools
import gc
import json
import os
import runpy
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

LEGS_ENV = "BENCH_LEGS"
# With this set to a path, SIGUSR2 starts cProfile and the next SIGUSR2 stops it and writes the
# stats there (bench/profile_ack.py reads them).
PROFILE_ENV = "BENCH_PROFILE"
# (name, from, to): "sent" and "callback" are the fake Discord's own stamps.
LEGS = (
    ("gateway to bot", "sent", "frame"),
    ("discord.py: frame to command", "frame", "handler"),
    ("the command's code", "handler", "request"),
    ("request to socket", "request", "written"),
    ("socket to fake Discord", "written", "callback"),
)

Times = dict[str, dict[str, float]]


def _interaction_id(url: str) -> str | None:
    """The interaction id in an interaction callback's URL, else None."""
    path = url.partition("?")[0]
    _, found, rest = path.partition("/interactions/")
    return rest.split("/", 1)[0] if found and path.endswith("/callback") else None


def install(times: Times) -> list[str]:
    """Wrap the internals above; returns the events that could not be hooked."""
    clock = time.perf_counter
    missing: list[str] = []
    last_frame = [0.0]

    def stamp(event: str, interaction_id: Any) -> None:
        times.setdefault(str(interaction_id), {})[event] = clock()

    def wrap(owner: Any, name: str, event: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name, None)
        if original is None:
            missing.append(event)
            return
        setattr(owner, name, functools.wraps(original)(make(original)))

    import aiohttp.client_reqrep
    import discord.app_commands.tree
    import discord.gateway
    import discord.state
    import discord.webhook.async_

    def on_frame(original: Any) -> Any:
        async def received_message(self: Any, msg: Any, /) -> Any:
            last_frame[0] = clock()
            return await original(self, msg)

        return received_message

    def on_parse(original: Any) -> Any:
        def parse_interaction_create(self: Any, data: Any) -> Any:
            times.setdefault(str(data.get("id")), {})["frame"] = last_frame[0]
            return original(self, data)

        return parse_interaction_create

    def on_handler(original: Any) -> Any:
        def from_interaction(self: Any, interaction: Any) -> Any:
            stamp("handler", interaction.id)
            return original(self, interaction)

        return from_interaction

    def on_request(original: Any) -> Any:
        async def request(self: Any, route: Any, *args: Any, **kwargs: Any) -> Any:
            found = _interaction_id(str(getattr(route, "url", "")))
            if found is not None:
                stamp("request", found)
            return await original(self, route, *args, **kwargs)

        return request

    def on_write(original: Any) -> Any:
        async def write_bytes(self: Any, *args: Any, **kwargs: Any) -> Any:
            found = _interaction_id(str(self.url))
            if found is not None:
                stamp("written", found)
            return await original(self, *args, **kwargs)

        return write_bytes

    wrap(discord.gateway.DiscordWebSocket, "received_message", "frame", on_frame)
    wrap(discord.state.ConnectionState, "parse_interaction_create", "frame", on_parse)
    wrap(discord.app_commands.tree.CommandTree, "_from_interaction", "handler", on_handler)
    wrap(discord.webhook.async_.AsyncWebhookAdapter, "request", "request", on_request)
    wrap(aiohttp.client_reqrep.ClientRequest, "write_bytes", "written", on_write)
    return missing


def legs_of(
    times: Mapping[str, Mapping[str, float]], stamps: Sequence[tuple[str, float, float]]
) -> dict[str, list[float]]:
    """Each leg's durations (seconds) over the interactions ``stamps`` lists as (id, sent at,
    callback at); an interaction missing either end of a leg is left out of that leg."""
    out: dict[str, list[float]] = {name: [] for name, _, _ in LEGS}
    for interaction_id, sent, callback in stamps:
        seen = {**times.get(interaction_id, {}), "sent": sent, "callback": callback}
        for name, start, end in LEGS:
            if start in seen and end in seen:
                out[name].append(seen[end] - seen[start])
    return out


def install_profiler(path: Path) -> None:
    """cProfile between two SIGUSR2, on the main thread (the event loop's); the stats of the
    span go to ``path`` in pstats format, replaced in one step so a reader never sees half.

    Timed by the thread's CPU clock, not the wall clock: time in epoll, or waiting for the GIL
    while another thread holds it, is not this thread's work and would swamp it."""
    profiler = cProfile.Profile(time.thread_time)
    running = [False]

    def toggle(signum: int, frame: FrameType | None) -> None:
        if running[0]:
            profiler.disable()
            partial = path.with_suffix(".partial")
            profiler.dump_stats(partial)
            partial.replace(path)
        else:
            profiler.enable()
        running[0] = not running[0]

    signal.signal(signal.SIGUSR2, toggle)


def main(argv: Sequence[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m bench.legs MODULE [ARGS...]")
    path = Path(os.environ[LEGS_ENV])
    if os.environ.get(PROFILE_ENV):
        install_profiler(Path(os.environ[PROFILE_ENV]))
    times: Times = {}
    missing = install(times)
    if missing:
        print(f"bench.legs: could not hook {', '.join(sorted(set(missing)))}", file=sys.stderr)

    collections: list[tuple[int, float, float]] = []
    started = [0.0]

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 0:  # a fraction of a millisecond, every few hundred objects
            return
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collections.append((info["generation"], started[0], time.perf_counter() - started[0]))

    def dump(signum: int, frame: FrameType | None) -> None:
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps({"interactions": times, "collections": collections}))
        partial.replace(path)

    gc.callbacks.append(on_collection)
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = list(argv)  # run_module puts the module's path in argv[0]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
