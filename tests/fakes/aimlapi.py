"""A fake AI/ML API on 127.0.0.1: real HTTP, real PNGs, every request checked against the contract.

Tests talk to it through the real client. Every request body is validated with jsonschema
against tests/data/aimlapi_contract.json (derived from the upstream OpenAPI files and seeds), so a
client bug that sends a parameter a model does not take shows up in ``contract_violations`` instead
of in production. Usage is reported at the contract's published price per model, never the bot
catalogue's, so a wrong price in the catalogue cannot agree with itself in a test. Faults are
queued with ``inject``; images are served from ``/files/<name>``.

Standalone, for trying the bot by hand (point AIMLAPI_BASE_URL at it and set
ALLOW_PRIVATE_IMAGE_HOSTS=true):

    python -m tests.fakes.aimlapi --port 8089 --key test
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import io
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, cast, get_args

import jsonschema
from aiohttp import web
from PIL import Image

log = logging.getLogger(__name__)

CONTRACT_PATH: Final = Path(__file__).resolve().parents[1] / "data" / "aimlapi_contract.json"
GENERATIONS_PATH: Final = "/v1/images/generations"

Shape = Literal["data_url", "data_b64", "data_tokens_used", "images", "output_choices"]
SHAPES: Final[tuple[str, ...]] = get_args(Shape)
ImageFault = Literal["404", "oversize", "oversize_chunked", "not_image", "redirect"]

SIZES: Final[dict[str, tuple[int, int]]] = {
    "1:1": (1024, 1024),
    "16:9": (1408, 768),
    "9:16": (768, 1408),
    "4:3": (1280, 896),
    "3:4": (896, 1280),
}
_PALETTE: Final = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
]
_DEFAULT_MESSAGES: Final[dict[int, str]] = {
    400: "Body validation error!",
    401: "Unauthorized: invalid or missing API key",
    403: "Insufficient credits: top up your balance to continue",
    404: "Model not found",
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}
# Shared by every fake in the process: encoding a 1408x768 PNG costs ~10 ms, tests make hundreds.
_PNG_CACHE: dict[tuple[int, int, int], bytes] = {}

SAFETY_MESSAGE: Final = (
    "Body validation error! The prompt was blocked by the provider's safety filter "
    "(Responsible AI practices)."
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour for the next generation call; fields combine (delay, then the rest)."""

    status: int | None = None  # answer this status with the API's error body
    message: str | None = None  # the error body's message (default: what the API says)
    retry_after: str | None = None  # Retry-After header value (seconds or an HTTP date)
    delay: float = 0.0  # seconds before answering
    hang: bool = False  # never answer (until the client gives up or the fake closes)
    malformed_json: bool = False  # success status, a body that is not JSON
    payload: Mapping[str, Any] | None = None  # success status, exactly this JSON body
    shape: Shape | None = None  # answer in this shape instead of the fake's
    images: int | None = None  # return this many images whatever num_images says
    image_fault: ImageFault | None = None  # what GET /files/<name> does for this call's images
    faulty_images: int | None = None  # how many of them get image_fault (None: all)
    oversize_bytes: int = 0  # body size for the oversize image faults
    redirect_to: str | None = None  # Location for "redirect" (None: back to itself, forever)

    @classmethod
    def http(cls, status: int, message: str | None = None, retry_after: str | None = None) -> Fault:
        return cls(status=status, message=message, retry_after=retry_after)

    @classmethod
    def safety(cls) -> Fault:
        return cls(status=400, message=SAFETY_MESSAGE)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A generation request as the fake saw it."""

    body: Any
    headers: dict[str, str]
    time: float


@dataclass(slots=True)
class _File:
    data: bytes
    content_type: str
    fault: ImageFault | None = None
    oversize_bytes: int = 0
    redirect_to: str | None = None


@dataclass(slots=True)
class _State:
    in_flight: int = 0
    max_in_flight: int = 0
    calls: int = 0


class FakeAimlApi:
    """The fake server: ``async with FakeAimlApi() as fake``, then point the client at base_url."""

    def __init__(
        self,
        key: str = "test-key",
        *,
        shape: Shape = "data_url",
        latency: float = 0.0,
        usage_headers: bool = True,
        port: int = 0,
        host: str = "127.0.0.1",
        contract_path: Path = CONTRACT_PATH,
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; one of {SHAPES}")
        self.key = key
        self.shape: Shape = shape
        self.latency = latency
        self.usage_headers = usage_headers
        self.requests: list[RecordedRequest] = []
        self.contract_violations: list[str] = []
        self.file_requests: list[str] = []
        self.probes = 0
        contract = json.loads(contract_path.read_text(encoding="utf-8"))
        self._models: dict[str, dict[str, Any]] = contract["models"]
        self._credits_per_usd = int(contract["credits_per_usd"])
        self._validators = {
            model_id: jsonschema.Draft202012Validator(entry["request_schema"])
            for model_id, entry in self._models.items()
        }
        self._faults: collections.deque[Fault] = collections.deque()
        self._files: dict[str, _File] = {}
        self._state = _State()
        self._port = port
        self.host = host  # the address it listens on and puts in its URLs
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(GENERATIONS_PATH, self._generate)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeAimlApi is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def in_flight(self) -> int:
        return self._state.in_flight

    @property
    def max_in_flight(self) -> int:
        return self._state.max_in_flight

    # -- test controls ---------------------------------------------------------------------------

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` generation calls that pass validation."""
        self._faults.extend([fault] * times)

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    def file_url(self, name: str) -> str:
        return f"{self.base_url}/files/{name}"

    def add_file(
        self,
        data: bytes,
        *,
        content_type: str = "image/png",
        fault: ImageFault | None = None,
        oversize_bytes: int = 0,
        redirect_to: str | None = None,
    ) -> str:
        """Serve ``data`` (or a fault) at a new /files URL, for download tests; returns the URL."""
        name = f"{uuid.uuid4().hex}.png"
        self._files[name] = _File(data, content_type, fault, oversize_bytes, redirect_to)
        return self.file_url(name)

    def png(self, aspect_ratio: str = "1:1", colour_index: int = 0) -> bytes:
        """A real PNG of the size Imagen answers for ``aspect_ratio`` (cached: encoding is slow)."""
        width, height = SIZES[aspect_ratio]
        key = (width, height, colour_index % len(_PALETTE))
        cached = _PNG_CACHE.get(key)
        if cached is None:
            buf = io.BytesIO()
            Image.new("RGB", (width, height), _PALETTE[key[2]]).save(buf, "PNG", compress_level=1)
            cached = _PNG_CACHE[key] = buf.getvalue()
        return cached

    # -- handlers --------------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep, but return at once when the fake closes so tests never wait on a hung handler."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    def _error(
        self, status: int, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        body = {
            "message": message or _DEFAULT_MESSAGES.get(status, "Error"),
            "path": GENERATIONS_PATH,
            "requestId": str(uuid.uuid4()),
            "statusCode": status,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        return web.json_response(body, status=status, headers=headers)

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error(404, f"Cannot {request.method} {request.path}")

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        state = self._state
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await self._handle_generate(request)
        finally:
            state.in_flight -= 1

    async def _handle_generate(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = raw.decode("utf-8", "replace")
        self.requests.append(RecordedRequest(body, dict(request.headers), time.monotonic()))
        await self._pause(self.latency)

        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return self._error(401)
        if not isinstance(body, dict):
            self.contract_violations.append(f"body is not a JSON object: {body!r:.200}")
            return self._error(400, "Body validation error! Expected object")
        model_id = body.get("model")
        if not isinstance(model_id, str) or model_id not in self._models:
            self.contract_violations.append(f"unknown model {model_id!r}")
            return self._error(404, f"Model {model_id!r} not found")
        if body == {"model": model_id}:
            # The client's key probe: rejected by validation, so it costs nothing. An injected
            # status still applies (a 403 for an account out of credits, say).
            self.probes += 1
            probe_fault = self._faults.popleft() if self._faults else Fault()
            if probe_fault.status is not None:
                return self._error(probe_fault.status, probe_fault.message)
            return self._error(400, "Body validation error! Expected string, received undefined")
        errors = sorted(
            self._validators[model_id].iter_errors(body), key=lambda e: str(list(e.path))
        )
        if errors:
            why = "; ".join(f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}" for e in errors)
            self.contract_violations.append(f"{model_id}: {why}")
            return self._error(400, f"Body validation error! {why}")

        fault = self._faults.popleft() if self._faults else Fault()
        await self._pause(fault.delay)
        if fault.hang:
            await self._closing.wait()
            return self._error(503, "fake closing")
        if fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            return self._error(fault.status, fault.message, headers)
        status = int(self._models[model_id]["success_status"])
        if fault.malformed_json:
            return web.Response(
                status=status, text='{"data": [{"url": ', content_type="application/json"
            )
        if fault.payload is not None:
            return web.json_response(dict(fault.payload), status=status)
        return self._success(body, status, fault)

    def _success(self, body: dict[str, Any], status: int, fault: Fault) -> web.Response:
        model_id: str = body["model"]
        count = fault.images if fault.images is not None else int(body.get("num_images", 1))
        aspect = str(body.get("aspect_ratio", "1:1"))
        shape = fault.shape or self.shape
        if shape == "data_url" and body.get("convert_base64_to_url") is False:
            shape = "data_b64"
        schema_props = self._models[model_id]["request_schema"]["properties"]
        enhanced = None
        if "enhance_prompt" in schema_props and body.get("enhance_prompt", True):
            enhanced = f"{body['prompt']}, rendered in rich detail with soft cinematic light"

        pngs = []
        for _ in range(count):
            self._state.calls += 1
            pngs.append(self.png(aspect, self._state.calls))
        names: list[str] = []
        if shape in ("data_url", "data_tokens_used", "images"):
            faulty = count if fault.faulty_images is None else fault.faulty_images
            names = [
                self._register(png, fault if i < faulty else Fault()) for i, png in enumerate(pngs)
            ]

        credits = int(self._models[model_id]["api_credits_per_image"]) * count
        payload: dict[str, Any]
        if shape in ("data_url", "data_tokens_used"):
            items: list[dict[str, Any]] = []
            for name in names:
                item: dict[str, Any] = {"url": self.file_url(name), "b64_json": None}
                item["mime_type"] = "image/png"
                if enhanced is not None:
                    item["prompt"] = enhanced
                items.append(item)
            key = "credits_used" if shape == "data_url" else "tokens_used"
            payload = {"data": items, "meta": {"usage": {key: credits}}}
        elif shape == "data_b64":
            items = []
            for png in pngs:
                item = {"url": None, "b64_json": base64.b64encode(png).decode("ascii")}
                item["mime_type"] = "image/png"
                if enhanced is not None:
                    item["prompt"] = enhanced
                items.append(item)
            payload = {"data": items, "meta": {"usage": {"credits_used": credits}}}
        elif shape == "images":
            payload = {
                "images": [
                    {
                        "url": self.file_url(name),
                        "content_type": "image/png",
                        "file_name": name,
                        "file_size": len(png),
                    }
                    for name, png in zip(names, pngs, strict=True)
                ],
                "seed": body.get("seed", 1234567),
            }
        else:
            payload = {
                "status": "completed",
                "prompt": [body["prompt"]],
                "model": model_id,
                "model_owner": "google",
                "tags": {},
                "num_returns": count,
                "args": {"model": model_id, "prompt": body["prompt"], "n": count},
                "subjobs": [],
                "output": {
                    "choices": [
                        {"image_base64": base64.b64encode(png).decode("ascii")} for png in pngs
                    ]
                },
            }
        headers = {"x-inference-id": str(uuid.uuid4())}
        if self.usage_headers:
            headers["x-aimlapi-credits-used"] = str(credits)
            headers["x-aimlapi-usd-spent"] = f"{credits / self._credits_per_usd:.6f}"
        return web.json_response(payload, status=status, headers=headers)

    def _register(self, png: bytes, fault: Fault) -> str:
        name = f"{int(time.time() * 1000)}-{uuid.uuid4()}.png"
        self._files[name] = _File(
            png, "image/png", fault.image_fault, fault.oversize_bytes, fault.redirect_to
        )
        return name

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.file_requests.append(request.path_qs)
        entry = self._files.get(name)
        if entry is None or entry.fault == "404":
            return web.Response(status=404, text="Not Found")
        if entry.fault == "redirect":
            hop = int(request.query.get("hop", "0")) + 1
            target = entry.redirect_to or f"{self.file_url(name)}?hop={hop}"
            return web.Response(status=302, headers={"Location": target})
        if entry.fault == "not_image":
            return web.Response(
                body=b"<html><body>502 Bad Gateway</body></html>", content_type="image/png"
            )
        if entry.fault == "oversize":
            padding = max(0, entry.oversize_bytes - len(entry.data))
            return web.Response(body=entry.data + bytes(padding), content_type=entry.content_type)
        if entry.fault == "oversize_chunked":
            return await self._stream_oversize(request, entry)
        return web.Response(body=entry.data, content_type=entry.content_type)

    async def _stream_oversize(self, request: web.Request, entry: _File) -> web.StreamResponse:
        """A chunked body with no Content-Length that grows past the limit: the client must stop."""
        response = web.StreamResponse(headers={"Content-Type": entry.content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        chunk = bytes(64 * 1024)
        try:
            await response.write(entry.data)
            while sent < entry.oversize_bytes:
                await response.write(chunk)
                sent += len(chunk)
            await response.write_eof()
        except (ConnectionResetError, ConnectionError) as exc:
            log.debug("client stopped reading the oversize stream after %d bytes: %s", sent, exc)
        return response


async def _serve(port: int, key: str, shape: Shape, latency: float) -> None:
    async with FakeAimlApi(key, shape=shape, latency=latency, port=port) as fake:
        print(f"fake AI/ML API on {fake.base_url} (key {key!r}, shape {shape}); Ctrl-C stops it")
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake AI/ML API for manual testing.")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--key", default="test")
    parser.add_argument("--shape", choices=SHAPES, default="data_url")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per generation")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.key, cast(Shape, args.shape), args.latency))


if __name__ == "__main__":
    main()
