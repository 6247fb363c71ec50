"""A fake Discord (REST API v10 + gateway) served on 127.0.0.1 for tests.

The real, unmodified discord.py client talks to it over the wire once the caller sets::

    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

All state lives in this server, so a bot running in a separate process (pointed at it through
DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL) can be driven by the test that owns the
:class:`FakeDiscord`. This module never imports discord.py.

Typical use::

    async with FakeDiscord() as fake:          # one guild, #general, a member and an admin
        ...start the bot, let it sync its commands...
        await fake.wait_ready()
        it = await fake.slash("imagine", {"prompt": "a cat"}, user=fake.admin)
        response = await it.wait_response()    # InteractionCallback(type, data, files, message)
        followup = await it.wait_followup()    # the stored Message JSON
        click = await fake.click(followup["id"], "retry:1")

Paths used by the recording / injection helpers are REST paths *without* the ``/api/v10``
prefix (for example ``/channels/123/messages``) and are matched with :func:`re.fullmatch`;
a method of ``None`` or ``"*"`` matches any method.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as _dt
import functools
import hashlib
import itertools
import json
import mimetypes
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

import jsonschema
from aiohttp import WSMsgType, web
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "ADMIN_PERMISSIONS",
    "CONTRACT_PATH",
    "DEFAULT_ADMIN_ID",
    "DEFAULT_ADMIN_ROLE_ID",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_APP_PERMISSIONS",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_GUILD_ID",
    "DEFAULT_MEMBER_ID",
    "DEFAULT_MEMBER_PERMISSIONS",
    "EXTRA_CHANNEL_BASE_ID",
    "EXTRA_GUILD_BASE_ID",
    "ContractViolation",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeUpload",
    "FakeUser",
    "InjectedFault",
    "InteractionCallback",
    "RecordedCall",
    "RecordedFile",
    "default_guild",
    "extra_guild_id",
]

JSON = dict[str, Any]
T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (see the Discord permissions documentation).
P_MANAGE_GUILD = 1 << 5
P_ADD_REACTIONS = 1 << 6
P_VIEW_CHANNEL = 1 << 10
P_SEND_MESSAGES = 1 << 11
P_EMBED_LINKS = 1 << 14
P_ATTACH_FILES = 1 << 15
P_READ_MESSAGE_HISTORY = 1 << 16
P_USE_EXTERNAL_EMOJIS = 1 << 18
P_USE_APPLICATION_COMMANDS = 1 << 31
P_SEND_MESSAGES_IN_THREADS = 1 << 38

DEFAULT_MEMBER_PERMISSIONS = (
    P_VIEW_CHANNEL
    | P_SEND_MESSAGES
    | P_EMBED_LINKS
    | P_ATTACH_FILES
    | P_READ_MESSAGE_HISTORY
    | P_ADD_REACTIONS
    | P_USE_EXTERNAL_EMOJIS
    | P_USE_APPLICATION_COMMANDS
)
ADMIN_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS | P_MANAGE_GUILD
DEFAULT_APP_PERMISSIONS = (
    P_VIEW_CHANNEL
    | P_SEND_MESSAGES
    | P_EMBED_LINKS
    | P_ATTACH_FILES
    | P_READ_MESSAGE_HISTORY
    | P_SEND_MESSAGES_IN_THREADS
)

DEFAULT_APPLICATION_ID = 1_300_000_000_000_000_001
DEFAULT_BOT_USER_ID = 1_300_000_000_000_000_001
DEFAULT_GUILD_ID = 1_100_000_000_000_000_001
DEFAULT_CHANNEL_ID = 1_100_000_000_000_000_101
DEFAULT_ADMIN_ROLE_ID = 1_100_000_000_000_000_201
DEFAULT_MEMBER_ID = 1_200_000_000_000_000_001
DEFAULT_ADMIN_ID = 1_200_000_000_000_000_002
# Extra guild ``i`` has id extra_guild_id(i) and one text channel EXTRA_CHANNEL_BASE_ID + i. The
# guild ids step by 1 << 22 (a millisecond of a snowflake's time), so that they spread over
# shards by Discord's ``(guild_id >> 22) % shard_count`` as real guilds do.
EXTRA_GUILD_BASE_ID = 2_000_000_000_000_000_000
EXTRA_CHANNEL_BASE_ID = 3_000_000_000_000_000_000


def extra_guild_id(index: int) -> int:
    return EXTRA_GUILD_BASE_ID + (index << 22)


MESSAGE_FLAG_EPHEMERAL = 64
MESSAGE_FLAG_LOADING = 128

JOINED_AT = "2024-01-01T00:00:00.000000+00:00"

# Discord error bodies used by the fake.
ERR_UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
ERR_UNKNOWN_GUILD = (404, 10004, "Unknown Guild")
ERR_UNKNOWN_MEMBER = (404, 10007, "Unknown Member")
ERR_UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
ERR_UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
ERR_UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
ERR_UNKNOWN_APPLICATION = (404, 10002, "Unknown Application")
ERR_INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
ERR_ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
ERR_UNAUTHORIZED = (401, 0, "401: Unauthorized")
ERR_CANNOT_DM = (403, 50007, "Cannot send messages to this user")

_DEFAULT_FAULT_BODIES: dict[int, JSON] = {
    400: {"message": "Invalid Form Body", "code": 50035, "errors": {}},
    401: {"message": "401: Unauthorized", "code": 0},
    403: {"message": "Missing Permissions", "code": 50013},
    404: {"message": "Unknown Message", "code": 10008},
    500: {"message": "500: Internal Server Error", "code": 0},
    502: {"message": "502: Bad Gateway", "code": 0},
    503: {"message": "503: Service Unavailable", "code": 0},
}


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def _error_body(code: int, message: str) -> JSON:
    return {"message": message, "code": code}


# --------------------------------------------------------------------------------------------
# Model data classes
# --------------------------------------------------------------------------------------------


@dataclass
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = 0  # 0 = GUILD_TEXT
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False

    def to_payload(self, guild_id: int | None) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "type": self.type,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": str(self.parent_id) if self.parent_id is not None else None,
            "nsfw": self.nsfw,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        if self.type == 2:  # voice
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int] = field(default_factory=list)
    permissions: int = DEFAULT_MEMBER_PERMISSIONS
    nick: str | None = None
    joined_at: str = JOINED_AT

    def to_payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        data: JSON = {
            "roles": [str(r) for r in self.roles],
            "flags": 0,
            "joined_at": self.joined_at,
            "deaf": False,
            "mute": False,
            "avatar": None,
            "banner": None,
            "nick": self.nick,
            "premium_since": None,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    preferred_locale: str = "en-US"

    def __post_init__(self) -> None:
        if not any(r.id == self.id for r in self.roles):
            self.roles.insert(0, FakeRole(self.id, "@everyone", DEFAULT_MEMBER_PERMISSIONS, 0))

    def get_member(self, user_id: int) -> FakeMember | None:
        for m in self.members:
            if m.user.id == user_id:
                return m
        return None

    def get_channel(self, channel_id: int) -> FakeChannel | None:
        for c in self.channels:
            if c.id == channel_id:
                return c
        return None

    def get_role(self, role_id: int) -> FakeRole | None:
        for r in self.roles:
            if r.id == role_id:
                return r
        return None

    @property
    def first_text_channel(self) -> FakeChannel | None:
        for c in self.channels:
            if c.type in (0, 5):
                return c
        return None

    def to_rest_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "widget_enabled": False,
            "features": list(self.features),
            "roles": [r.to_payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
        }

    def to_gateway_payload(self, bot: FakeUser) -> JSON:
        data = self.to_rest_payload()
        members = [m.to_payload() for m in self.members]
        if self.get_member(bot.id) is None:
            members.append(FakeMember(bot, permissions=0).to_payload())
        data.update(
            unavailable=False,
            joined_at=JOINED_AT,
            large=len(members) > 250,
            member_count=len(members),
            channels=[c.to_payload(None) for c in self.channels],
            members=members,
            voice_states=[],
            presences=[],
            threads=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return data


@dataclass
class FakeUpload:
    """A file a user attaches to an ATTACHMENT (type 11) command option."""

    filename: str
    data: bytes
    content_type: str | None = None


def default_guild(
    *,
    guild_id: int = DEFAULT_GUILD_ID,
    channel_id: int = DEFAULT_CHANNEL_ID,
    member_id: int = DEFAULT_MEMBER_ID,
    admin_id: int = DEFAULT_ADMIN_ID,
    name: str = "Fake Guild",
) -> FakeGuild:
    """One guild with a text channel ``#general``, a plain member and an admin (MANAGE_GUILD)."""
    member = FakeMember(
        FakeUser(member_id, "member", "Regular Member"),
        roles=[],
        permissions=DEFAULT_MEMBER_PERMISSIONS,
    )
    admin_role = FakeRole(
        DEFAULT_ADMIN_ROLE_ID if guild_id == DEFAULT_GUILD_ID else guild_id + 200,
        "Admin",
        ADMIN_PERMISSIONS,
        1,
    )
    admin = FakeMember(
        FakeUser(admin_id, "admin", "Guild Admin"),
        roles=[admin_role.id],
        permissions=ADMIN_PERMISSIONS,
    )
    return FakeGuild(
        id=guild_id,
        name=name,
        owner_id=admin_id,
        roles=[FakeRole(guild_id, "@everyone", DEFAULT_MEMBER_PERMISSIONS, 0), admin_role],
        channels=[FakeChannel(channel_id, "general", 0, 0)],
        members=[member, admin],
    )


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedCall:
    method: str
    path: str
    """Path without the ``/api/v10`` prefix."""
    query: dict[str, str]
    headers: dict[str, str]
    """Request headers, keys lower-cased."""
    json: Any
    """The JSON body, or the parsed ``payload_json`` of a multipart body, else ``None``."""
    files: list[RecordedFile]
    time: float
    """``time.perf_counter()`` when the request arrived."""
    status: int = 0
    """Status the fake answered with (0 while still being handled)."""
    response: Any = None
    """The JSON the fake answered with (``None`` for empty bodies)."""


@dataclass
class InjectedFault:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    times: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    hits: int = 0


@dataclass
class InteractionCallback:
    """What the bot answered to ``POST /interactions/{id}/{token}/callback``."""

    type: int
    data: JSON
    files: list[RecordedFile]
    message: JSON | None
    """A snapshot (at callback time) of the message the callback created or updated, if any.

    Use :meth:`FakeDiscord.get_message` for its current state.
    """


# --------------------------------------------------------------------------------------------
# Waiting helper
# --------------------------------------------------------------------------------------------


class _Notifier:
    def __init__(self) -> None:
        self._futures: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        futures, self._futures = self._futures, []
        for fut in futures:
            if not fut.done():
                fut.set_result(None)

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"FakeDiscord: timed out after {timeout}s waiting for {what}")
            fut: asyncio.Future[None] = loop.create_future()
            self._futures.append(fut)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, remaining)


# --------------------------------------------------------------------------------------------
# Interactions
# --------------------------------------------------------------------------------------------


class FakeInteraction:
    """An interaction the fake dispatched, and what the bot did with it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        token: str,
        type: int,
        payload: JSON,
        channel_id: int,
        guild_id: int | None,
        user: FakeUser,
        message_id: int | None = None,
    ) -> None:
        self._fake = fake
        self.id = id
        self.token = token
        self.type = type
        self.payload = payload
        self.channel_id = channel_id
        self.guild_id = guild_id
        self.user = user
        self.message_id = message_id
        """For component / modal interactions: the message the interaction came from."""
        self.sent_at: float | None = None
        self.callback_at: float | None = None
        self.response: InteractionCallback | None = None
        self.followups: list[JSON] = []
        self.original_message_id: int | None = None
        self.expired = False

    def __repr__(self) -> str:
        return (
            f"<FakeInteraction id={self.id} type={self.type} responded={self.response is not None}>"
        )

    @property
    def data(self) -> JSON:
        data: JSON = self.payload.get("data", {})
        return data

    @property
    def ack_latency(self) -> float | None:
        """Seconds from sending INTERACTION_CREATE to receiving the callback (perf_counter)."""
        if self.sent_at is None or self.callback_at is None:
            return None
        return self.callback_at - self.sent_at

    async def wait_response(self, timeout: float = 5.0) -> InteractionCallback:
        return await self._fake._notifier.wait_until(
            lambda: self.response, timeout, f"the callback of interaction {self.id}"
        )

    async def wait_followup(self, timeout: float = 5.0, count: int = 1) -> JSON:
        """Wait until at least ``count`` followups exist; return the ``count``-th one."""

        def check() -> JSON | None:
            return self.followups[count - 1] if len(self.followups) >= count else None

        return await self._fake._notifier.wait_until(
            check, timeout, f"{count} followup(s) of interaction {self.id}"
        )

    async def wait_original_message(self, timeout: float = 5.0, *, loaded: bool = True) -> JSON:
        """Wait for the original response message (if ``loaded``, one no longer 'thinking')."""

        def check() -> JSON | None:
            msg = self.original_message()
            if msg is None:
                return None
            if loaded and msg.get("flags", 0) & MESSAGE_FLAG_LOADING:
                return None
            return msg

        return await self._fake._notifier.wait_until(
            check, timeout, f"the original message of interaction {self.id}"
        )

    def original_message(self) -> JSON | None:
        if self.original_message_id is None:
            return None
        return self._fake.get_message(self.original_message_id)

    def _mark_sent(self) -> None:
        if self.sent_at is None:
            self.sent_at = time.perf_counter()


# --------------------------------------------------------------------------------------------
# Gateway internals
# --------------------------------------------------------------------------------------------


@dataclass
class _LogEntry:
    seq: int
    frame: str
    on_sent: Callable[[], None] | None


class _GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, number: int) -> None:
        self.ws = ws
        self.number = number
        self.session: _GatewaySession | None = None
        self.ready = False
        self.lock = asyncio.Lock()

    async def send_raw(self, frame: str, on_sent: Callable[[], None] | None = None) -> None:
        """Send one frame; ``on_sent`` runs as it is handed to the socket (not after: the bot
        may have read it before ``send_str`` returns)."""
        async with self.lock:
            if not self.ws.closed:
                if on_sent is not None:
                    on_sent()
                await self.ws.send_str(frame)


class _GatewaySession:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.seq = 0
        self.log: list[_LogEntry] = []
        self.conn: _GatewayConnection | None = None

    def append(self, event: str, data: Any, on_sent: Callable[[], None] | None = None) -> _LogEntry:
        self.seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self.seq, "d": data})
        entry = _LogEntry(self.seq, frame, on_sent)
        self.log.append(entry)
        return entry

    def append_template(self, template: str, values: dict[str, int]) -> _LogEntry:
        """Log a pre-serialised %-template frame; ``seq`` is filled in here."""
        self.seq += 1
        entry = _LogEntry(self.seq, template % {**values, "seq": self.seq}, None)
        self.log.append(entry)
        return entry


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _HTTPError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def of(cls, err: tuple[int, int, str]) -> _HTTPError:
        return cls(*err)


@dataclass
class _Request:
    call: RecordedCall
    match: re.Match[str]
    text: str | None

    @property
    def body(self) -> Any:
        return self.call.json

    @property
    def files(self) -> list[RecordedFile]:
        return self.call.files

    def int_param(self, name: str) -> int:
        return int(self.match.group(name))

    def param(self, name: str) -> str:
        return self.match.group(name)


_Handler = Callable[[_Request], Awaitable[_Reply]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: _Handler
    auth: bool
    template: str


# --------------------------------------------------------------------------------------------
# Discord's published contract
# --------------------------------------------------------------------------------------------

CONTRACT_PATH: Final = Path(__file__).resolve().parents[1] / "data" / "discord_contract.json"
"""Derived from Discord's OpenAPI description by tests/data/derive_discord_contract.py."""

_CONTRACT_URI = "urn:imagen-bot:discord-contract"

# A validator keyword -> Discord's error code and message for it (``{v}`` is the keyword's value).
_DISCORD_ERRORS: dict[str, tuple[str, str]] = {
    "maxLength": ("BASE_TYPE_MAX_LENGTH", "Must be {v} or fewer in length."),
    "minLength": ("BASE_TYPE_MIN_LENGTH", "Must be {v} or more in length."),
    "maxItems": ("BASE_TYPE_MAX_LENGTH", "Must be {v} or fewer in length."),
    "minItems": ("BASE_TYPE_MIN_LENGTH", "Must be {v} or more in length."),
    "maxProperties": ("BASE_TYPE_MAX_LENGTH", "Must be {v} or fewer in length."),
    "maximum": ("NUMBER_TYPE_MAX", "int value should be less than or equal to {v}."),
    "minimum": ("NUMBER_TYPE_MIN", "int value should be greater than or equal to {v}."),
    "enum": ("BASE_TYPE_CHOICES", "Value must be one of {v}."),
    "const": ("BASE_TYPE_CHOICES", "Value must be one of ({v},)."),
    "required": ("BASE_TYPE_REQUIRED", "This field is required"),
    "oneOf": ("UNION_TYPE_CHOICES", "Value matches none of the {n} forms allowed here."),
    "anyOf": ("UNION_TYPE_CHOICES", "Value matches none of the {n} forms allowed here."),
}


@dataclass(frozen=True)
class ContractViolation:
    """A request the bot sent that Discord's published description refuses."""

    route: str
    """The operation as the description names it, e.g. ``POST /channels/{channel_id}/messages``."""
    field: str
    """Where in the JSON body, dotted as in Discord's error body (``data.embeds.0.title``)."""
    reason: str
    code: str = "BASE_TYPE_INVALID"

    def __str__(self) -> str:
        return f"{self.route}: {self.field or '(body)'}: {self.reason}"


@dataclass(frozen=True)
class _Operation:
    id: str
    method: str
    path: str
    body: JSON | None
    """``{"required": bool, "schema": ...}``, or None for an operation without a JSON body."""
    discriminator: JSON | None

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


class _Contract:
    """The derived description: finds a request's operation and checks its JSON body."""

    def __init__(self, document: JSON) -> None:
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_CONTRACT_URI, resource)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}
        ops: list[tuple[tuple[int, ...], re.Pattern[str], _Operation]] = []
        for op_id, op in document["operations"].items():
            segments = op["path"].split("/")
            params = tuple(int(seg.startswith("{")) for seg in segments)
            regex = "/".join("[^/]+" if seg[:1] == "{" else re.escape(seg) for seg in segments)
            operation = _Operation(
                op_id, op["method"], op["path"], op["request_body"], op.get("discriminator")
            )
            ops.append((params, re.compile(regex), operation))
        # Literal segments (``@original``, ``@me``) win over templated ones, as on Discord.
        self._operations = [o for _, _, o in sorted(ops, key=lambda o: o[0])]
        self._patterns = {o.id: pattern for _, pattern, o in ops}

    def operation(self, method: str, path: str) -> _Operation | None:
        for op in self._operations:
            if op.method == method and self._patterns[op.id].fullmatch(path):
                return op
        return None

    def _validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                {"$ref": f"{_CONTRACT_URI}#{pointer}"}, registry=self._registry
            )
            self._validators[pointer] = validator
        return validator

    def check(self, op: _Operation, body: Any) -> list[ContractViolation]:
        if op.body is None:
            return []
        if body is None:
            if not op.body["required"]:
                return []
            return [_violation(op.route, [], "required", None)]
        pointer = f"/operations/{op.id}/request_body/schema"
        if op.discriminator is not None and isinstance(body, dict):
            key = op.discriminator["property"]
            choices: dict[str, str] = op.discriminator["mapping"]
            value = body.get(key)
            chosen = choices.get(str(value)) if isinstance(value, int) else None
            if chosen is None:
                allowed = tuple(sorted(int(k) for k in choices))
                return [_violation(op.route, [key], "enum", allowed)]
            pointer = chosen.removeprefix("#")
        errors = self._validator(pointer).iter_errors(body)
        found = {_to_violation(op.route, leaf) for error in errors for leaf in _leaves(error)}
        return sorted(found, key=lambda v: (v.field, v.reason))


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors that say what is wrong, under a failed ``oneOf`` / ``anyOf``.

    Members of a union whose own type or ``type`` field does not fit the value are for another
    kind of value; of the members left, report what one says, or what all of them say.
    """
    if not error.context:
        return [error]
    depth = len(error.absolute_path)
    members: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        members.setdefault(sub.relative_schema_path[0], []).append(sub)

    def other_kind(sub: jsonschema.ValidationError) -> bool:
        path = list(sub.absolute_path)
        at_value = len(path) == depth
        at_type_field = len(path) == depth + 1 and path[-1] == "type"
        return sub.validator in ("type", "enum", "const") and (at_value or at_type_field)

    fitting = [subs for subs in members.values() if not any(other_kind(s) for s in subs)]
    said = [[leaf for sub in subs for leaf in _leaves(sub)] for subs in fitting]
    if len(said) == 1:
        return said[0]

    def key(e: jsonschema.ValidationError) -> tuple[Any, ...]:
        return (*e.absolute_path, e.validator)

    common = set.intersection(*({key(e) for e in leaves} for leaves in said)) if said else set()
    return [e for e in said[0] if key(e) in common] if common else [error]


def _violation(route: str, path: list[Any], keyword: str, value: Any) -> ContractViolation:
    code, message = _DISCORD_ERRORS[keyword]
    size = len(value) if isinstance(value, list | tuple) else 0
    text = message.format(v=value, n=size)
    return ContractViolation(route, ".".join(map(str, path)), text, code)


def _to_violation(route: str, error: jsonschema.ValidationError) -> ContractViolation:
    path = list(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, dict):
        required: list[str] = (
            list(error.schema.get("required", [])) if isinstance(error.schema, dict) else []
        )
        missing = [p for p in required if p not in error.instance]
        return _violation(route, [*path, *missing[:1]], keyword, None)
    if keyword in _DISCORD_ERRORS:
        return _violation(route, path, keyword, error.validator_value)
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return ContractViolation(route, ".".join(map(str, path)), message)


def _form_errors(violations: Iterable[ContractViolation]) -> JSON:
    """Discord's nested ``errors`` object of a 50035 Invalid Form Body answer."""
    tree: JSON = {}
    for v in violations:
        node = tree
        for key in v.field.split(".") if v.field else []:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": v.code, "message": v.reason})
    return tree


_CONST_KEYS = {"const", "title", "description"}


def _consts_as_enum(node: Any) -> Any:
    """``oneOf`` distinct ``const`` members, as the description spells its enums, as ``enum``.

    The same meaning; jsonschema checks an ``enum`` many times faster than a ``oneOf``, and the
    fake checks every message body.
    """
    if isinstance(node, list):
        return [_consts_as_enum(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _consts_as_enum(value) for key, value in node.items()}
    members = out.get("oneOf")
    if not isinstance(members, list) or not members:
        return out
    if all(isinstance(m, dict) and "const" in m and m.keys() <= _CONST_KEYS for m in members):
        values = [m["const"] for m in members]
        if len({json.dumps(v) for v in values}) == len(values):
            del out["oneOf"]
            out["enum"] = values
    return out


@functools.cache
def _load_contract(path: Path) -> _Contract:
    return _Contract(_consts_as_enum(json.loads(path.read_text(encoding="utf-8"))))


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------

_COMMAND_OPTION_CONTAINER_TYPES = (1, 2)


class FakeDiscord:
    """Discord REST v10 + gateway on 127.0.0.1 for tests. See the module docstring."""

    def __init__(
        self,
        *,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        guilds: list[FakeGuild] | None = None,
        token: str = "fake-token",
        bot_name: str = "Imagen Bot",
        extra_guilds: int = 0,
        heartbeat_interval_ms: int = 41250,
        attachment_size_limit: int = 10 * 1024 * 1024,
        app_permissions: int = DEFAULT_APP_PERMISSIONS,
        ratelimit_headers: bool = True,
        dispatch_timeout: float = 10.0,
        contract_path: Path = CONTRACT_PATH,
        shards: int = 1,
        max_concurrency: int = 1,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host  # the address it listens on and puts in its URLs
        self.application_id = application_id
        self.token = token
        self.bot_user = FakeUser(
            bot_user_id, bot_name.lower().replace(" ", "-"), bot_name, bot=True
        )
        self.guilds: list[FakeGuild] = [default_guild()] if guilds is None else list(guilds)
        self.extra_guilds = extra_guilds
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.attachment_size_limit = attachment_size_limit
        self.app_permissions = app_permissions
        self.ratelimit_headers = ratelimit_headers
        self.dispatch_timeout = dispatch_timeout
        self.extra_users: dict[int, FakeUser] = {}
        self.interaction_age_s = 0.0
        """Seconds before now that new interactions were created (their ids carry that time), so a
        test can reach the end of a token's 15 minutes without waiting them out."""
        self._aged_seq = itertools.count()
        # Sharding: the count GET /gateway/bot recommends and its IDENTIFY buckets.
        self.shards = shards
        self.max_concurrency = max_concurrency

        # recording
        self.calls: list[RecordedCall] = []
        self.unhandled_calls: list[RecordedCall] = []
        self.contract_violations: list[ContractViolation] = []
        """Every request body Discord's description refuses (see :meth:`assert_contract_kept`)."""
        self._contract = _load_contract(contract_path)
        self.identify_payloads: list[JSON] = []
        self.identify_times: list[tuple[float, int | None]] = []
        """(time.monotonic(), shard id or None) of every IDENTIFY, in order."""
        self.resume_payloads: list[JSON] = []
        self.gateway_connects = 0
        self.resumes = 0
        self.ready_count = 0
        self.gateway_received: list[JSON] = []

        # application commands
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self.command_syncs: list[tuple[int | None, list[JSON]]] = []
        self._command_ids: dict[tuple[int | None, str, int], int] = {}

        # messages
        self._messages: dict[int, JSON] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._deleted_messages: set[int] = set()
        self._deleted_channels: set[int] = set()
        self._attachments: dict[int, RecordedFile] = {}
        self._dm_channels: dict[int, int] = {}  # user id -> dm channel id
        self._dm_channel_users: dict[int, int] = {}  # dm channel id -> user id
        self._closed_dms: set[int] = set()  # users who don't take DMs from the bot

        # interactions
        self.interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._modals: list[JSON] = []

        # faults
        self._faults: list[InjectedFault] = []

        # gateway
        self._sessions: dict[str, _GatewaySession] = {}
        self._session: _GatewaySession | None = None
        # Sharded clients: the latest session of each shard, and the count they identified with.
        self._shard_sessions: dict[int, _GatewaySession] = {}
        self._shard_count = 1
        self._connections: list[_GatewayConnection] = []
        self._conn_counter = itertools.count(1)

        # server
        self._notifier = _Notifier()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._snowflake_last = 0
        self._closing = False
        self._routes: list[_Route] = []
        self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def default(cls, **kwargs: Any) -> FakeDiscord:
        """A fake with :func:`default_guild` (same as ``FakeDiscord()``)."""
        kwargs.setdefault("guilds", [default_guild()])
        return cls(**kwargs)

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self._gateway_handler)
        app.router.add_route(
            "GET", "/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment_handler
        )
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest_handler)
        app.router.add_route("*", "/{tail:.*}", self._fallback_handler)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._port = int(sock.getsockname()[1])
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    async def close(self) -> None:
        if self._runner is None:
            return
        self._closing = True
        for conn in list(self._connections):
            if not conn.ws.closed:
                with contextlib.suppress(TimeoutError, ConnectionError):
                    await asyncio.wait_for(
                        conn.ws.close(code=1001, message=b"fake shutting down"), 2.0
                    )
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._notifier.notify()

    async def __aenter__(self) -> FakeDiscord:
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
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # ------------------------------------------------------------------ model helpers

    @property
    def default_guild(self) -> FakeGuild:
        if not self.guilds:
            raise LookupError("FakeDiscord has no guilds")
        return self.guilds[0]

    @property
    def default_channel(self) -> FakeChannel:
        channel = self.default_guild.first_text_channel
        if channel is None:
            raise LookupError("the default guild has no text channel")
        return channel

    @property
    def member(self) -> FakeMember:
        """The first guild member without MANAGE_GUILD (the default invoker)."""
        for m in self.default_guild.members:
            if not m.permissions & P_MANAGE_GUILD and not m.user.bot:
                return m
        raise LookupError("the default guild has no plain member")

    @property
    def admin(self) -> FakeMember:
        """The first guild member with MANAGE_GUILD."""
        for m in self.default_guild.members:
            if m.permissions & P_MANAGE_GUILD and not m.user.bot:
                return m
        raise LookupError("the default guild has no admin member")

    @property
    def user(self) -> FakeUser:
        return self.member.user

    def add_user(self, user: FakeUser) -> FakeUser:
        """Register a user that is not a member of any guild (e.g. for DMs)."""
        self.extra_users[user.id] = user
        return user

    def get_guild(self, guild_id: int) -> FakeGuild | None:
        for g in self.guilds:
            if g.id == guild_id:
                return g
        index, step = divmod(guild_id - EXTRA_GUILD_BASE_ID, 1 << 22)
        if step == 0 and 0 <= index < self.extra_guilds:
            return self._extra_guild(index)
        return None

    def _extra_guild(self, index: int) -> FakeGuild:
        gid = extra_guild_id(index)
        channel = FakeChannel(EXTRA_CHANNEL_BASE_ID + index, "general")
        return FakeGuild(
            id=gid, name=f"Extra Guild {index}", owner_id=DEFAULT_ADMIN_ID, channels=[channel]
        )

    def find_channel(self, channel_id: int) -> tuple[FakeGuild | None, FakeChannel | None]:
        if channel_id in self._deleted_channels:
            return None, None
        for g in self.guilds:
            c = g.get_channel(channel_id)
            if c is not None:
                return g, c
        index = channel_id - EXTRA_CHANNEL_BASE_ID
        if 0 <= index < self.extra_guilds:
            g = self._extra_guild(index)
            return g, g.channels[0]
        return None, None

    def find_user(self, user_id: int) -> FakeUser | None:
        if user_id == self.bot_user.id:
            return self.bot_user
        for g in self.guilds:
            m = g.get_member(user_id)
            if m is not None:
                return m.user
        return self.extra_users.get(user_id)

    def _resolve_user(self, user: FakeUser | FakeMember | int | None) -> FakeUser:
        if user is None:
            return self.user
        if isinstance(user, FakeMember):
            return user.user
        if isinstance(user, FakeUser):
            return user
        found = self.find_user(user)
        if found is None:
            raise LookupError(f"unknown user id {user}")
        return found

    def dm_channel_id(self, user: FakeUser | int) -> int:
        user_id = user.id if isinstance(user, FakeUser) else user
        if user_id not in self._dm_channels:
            cid = self.snowflake()
            self._dm_channels[user_id] = cid
            self._dm_channel_users[cid] = user_id
        return self._dm_channels[user_id]

    def close_dms(self, user: FakeUser | int, closed: bool = True) -> None:
        """The user's privacy settings refuse the bot's DMs: opening the DM channel still works,
        as on Discord, but sending in it answers 403 Cannot send messages to this user (50007)."""
        user_id = user.id if isinstance(user, FakeUser) else user
        if closed:
            self._closed_dms.add(user_id)
        else:
            self._closed_dms.discard(user_id)

    def _dm_channel_payload(self, channel_id: int) -> JSON:
        user = self.find_user(self._dm_channel_users[channel_id])
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user.to_payload()] if user is not None else [],
        }

    def snowflake(self, *, age_s: float = 0.0) -> int:
        """A new id; with ``age_s``, one made that long ago (unique by its low bits)."""
        if age_s:
            then_ms = int((time.time() - age_s) * 1000) - DISCORD_EPOCH_MS
            return (then_ms << 22) | (next(self._aged_seq) & 0x3FFFFF)
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = max(now_ms << 22, self._snowflake_last + 1)
        self._snowflake_last = value
        return value

    # ------------------------------------------------------------------ message store

    def get_message(self, message_id: int) -> JSON | None:
        if message_id in self._deleted_messages:
            return None
        return self._messages.get(message_id)

    def messages_in(self, channel_id: int) -> list[JSON]:
        """Messages stored in a channel (oldest first), ephemeral ones included."""
        return [
            self._messages[m]
            for m in self._channel_messages.get(channel_id, [])
            if m not in self._deleted_messages
        ]

    @property
    def all_messages(self) -> list[JSON]:
        return [m for mid, m in self._messages.items() if mid not in self._deleted_messages]

    def attachment_bytes(self, attachment_id: int) -> bytes:
        return self._attachments[attachment_id].data

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a stored message: later calls about it answer 404 Unknown Message (10008)."""
        self._deleted_messages.add(message_id)
        ids = self._channel_messages.get(channel_id)
        if ids is not None and message_id in ids:
            ids.remove(message_id)

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel: later calls about it answer 404 Unknown Channel (10003)."""
        self._deleted_channels.add(channel_id)
        for g in self.guilds:
            g.channels = [c for c in g.channels if c.id != channel_id]

    def expire_token(self, token: str) -> None:
        """Expire an interaction token.

        Later webhook/callback calls with it answer 401 Invalid Webhook Token (50027).
        """
        it = self._interactions_by_token.get(token)
        if it is None:
            raise LookupError(f"unknown interaction token {token!r}")
        it.expired = True

    def _channel_exists(self, channel_id: int) -> bool:
        if channel_id in self._deleted_channels:
            return False
        if channel_id in self._dm_channel_users:
            return True
        return self.find_channel(channel_id)[1] is not None

    def _guild_id_of_channel(self, channel_id: int) -> int | None:
        guild, _ = self.find_channel(channel_id)
        return guild.id if guild is not None else None

    def _build_attachments(
        self, channel_id: int, payload: JSON, files: list[RecordedFile]
    ) -> list[JSON]:
        described: dict[int, JSON] = {}
        for entry in payload.get("attachments") or []:
            try:
                described[int(entry["id"])] = entry
            except (KeyError, TypeError, ValueError):
                continue
        result: list[JSON] = []
        for rf in files:
            m = re.fullmatch(r"files\[(\d+)\]", rf.field) or re.fullmatch(r"file(\d*)", rf.field)
            if m is None:
                continue
            index = int(m.group(1) or 0)
            desc = described.get(index, {})
            filename = str(desc.get("filename") or rf.filename or f"file{index}")
            result.append(
                self._store_attachment(
                    channel_id, filename, rf.data, rf.content_type, desc.get("description")
                )
            )
        return result

    def _store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        content_type: str | None,
        description: Any = None,
    ) -> JSON:
        att_id = self.snowflake()
        guessed = mimetypes.guess_type(filename)[0]
        if guessed is None and content_type not in (None, "application/octet-stream"):
            guessed = content_type
        ctype = guessed or "application/octet-stream"
        self._attachments[att_id] = RecordedFile("attachment", filename, ctype, bytes(data))
        url = f"{self.base_url}/attachments/{channel_id}/{att_id}/{filename}"
        att: JSON = {
            "id": str(att_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
        }
        if description is not None:
            att["description"] = description
        return att

    def _create_message(
        self,
        channel_id: int,
        payload: JSON,
        files: list[RecordedFile],
        *,
        webhook: bool = False,
        interaction: FakeInteraction | None = None,
        message_type: int | None = None,
        flags: int | None = None,
    ) -> JSON:
        msg_id = self.snowflake()
        guild_id = self._guild_id_of_channel(channel_id)
        if flags is None:
            flags = int(payload.get("flags") or 0)
        if message_type is None:
            if interaction is not None and interaction.type in (2, 4):
                message_type = 20
            elif payload.get("message_reference"):
                message_type = 19
            else:
                message_type = 0
        msg: JSON = {
            "id": str(msg_id),
            "type": message_type,
            "channel_id": str(channel_id),
            "content": payload.get("content") or "",
            "author": self.bot_user.to_payload(),
            "attachments": self._build_attachments(channel_id, payload, files),
            "embeds": list(payload.get("embeds") or []),
            "components": list(payload.get("components") or []),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": flags,
        }
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        if "allowed_mentions" in payload:
            msg["allowed_mentions"] = payload["allowed_mentions"]
        if payload.get("nonce") is not None:
            msg["nonce"] = payload["nonce"]
        if payload.get("poll"):
            msg["poll_request"] = payload["poll"]
        ref = payload.get("message_reference")
        if ref:
            ref = {
                k: (str(v) if k.endswith("_id") and v is not None else v) for k, v in ref.items()
            }
            ref.setdefault("channel_id", str(channel_id))
            if guild_id is not None:
                ref.setdefault("guild_id", str(guild_id))
            msg["message_reference"] = ref
        if webhook:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
        if interaction is not None:
            meta: JSON = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.to_payload(),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
            if interaction.original_message_id is not None:
                meta["original_response_message_id"] = str(interaction.original_message_id)
            if interaction.type == 3 and interaction.message_id is not None:
                meta["interacted_message_id"] = str(interaction.message_id)
            msg["interaction_metadata"] = meta
        self._messages[msg_id] = msg
        self._channel_messages.setdefault(channel_id, []).append(msg_id)
        self._notifier.notify()
        return msg

    def _edit_message(self, msg: JSON, payload: JSON, files: list[RecordedFile]) -> JSON:
        channel_id = int(msg["channel_id"])
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in payload:
                value = payload[key]
                if value is None:
                    value = "" if key == "content" else []
                msg[key] = value
        new_attachments = self._build_attachments(channel_id, payload, files)
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload.get("attachments") or []}
            kept = [a for a in msg["attachments"] if a["id"] in keep]
            msg["attachments"] = kept + new_attachments
        else:
            msg["attachments"] = msg["attachments"] + new_attachments
        flags = int(msg.get("flags", 0)) & ~MESSAGE_FLAG_LOADING
        if "flags" in payload and payload["flags"] is not None:
            flags = (flags & MESSAGE_FLAG_EPHEMERAL) | (
                int(payload["flags"]) & ~MESSAGE_FLAG_EPHEMERAL
            )
        msg["flags"] = flags
        msg["edited_timestamp"] = _now_iso()
        self._notifier.notify()
        return msg

    # ------------------------------------------------------------------ recording helpers

    def calls_to(self, method: str | None, path_regex: str) -> list[RecordedCall]:
        """Recorded calls whose method matches (``None``/``"*"`` = any) and path fullmatches."""
        pattern = re.compile(path_regex)
        return [
            c for c in self.calls if _method_matches(method, c.method) and pattern.fullmatch(c.path)
        ]

    async def wait_for_call(
        self,
        method: str | None,
        path_regex: str,
        *,
        timeout: float = 5.0,
        count: int = 1,
    ) -> RecordedCall:
        """Wait until ``count`` matching calls have been answered; return the ``count``-th."""

        def check() -> RecordedCall | None:
            answered = [c for c in self.calls_to(method, path_regex) if c.status]
            return answered[count - 1] if len(answered) >= count else None

        return await self._notifier.wait_until(
            check, timeout, f"{count} call(s) to {method} {path_regex}"
        )

    @property
    def sync_count(self) -> int:
        return len(self.command_syncs)

    @property
    def served_routes(self) -> list[tuple[str, str]]:
        """(method, path regex) of every REST route the fake answers."""
        return [(r.method, r.template) for r in self._routes]

    # ------------------------------------------------------------------ fault injection

    def inject(
        self,
        method: str | None,
        path_regex: str,
        status: int | None,
        *,
        times: int | None = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        retry_after: float = 0.1,
        global_: bool = False,
    ) -> InjectedFault:
        """Answer the next ``times`` matching calls (``None`` = forever) with ``status``.

        ``status=None`` with a ``delay`` only delays the call and then handles it normally.
        429 answers get ``Retry-After`` + ``Via`` headers and a ``retry_after`` body by default,
        so discord.py retries them. Default bodies: 403 Missing Permissions (50013), 404 Unknown
        Message (10008), 500 Internal Server Error.
        """
        hdrs = dict(headers or {})
        if status == 429:
            if body is None:
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": global_,
                }
            hdrs.setdefault("Retry-After", str(max(1, int(retry_after + 0.999))))
            hdrs.setdefault("Via", "1.1 google")
            hdrs.setdefault("X-RateLimit-Scope", "global" if global_ else "user")
            if global_:
                hdrs.setdefault("X-RateLimit-Global", "true")
        elif status is not None and body is None:
            body = _DEFAULT_FAULT_BODIES.get(status, {"message": f"{status}: Error", "code": 0})
        fault = InjectedFault(
            (method or "*").upper(), re.compile(path_regex), status, times, body, hdrs, delay
        )
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str, path: str) -> InjectedFault | None:
        for fault in self._faults:
            if fault.times is not None and fault.hits >= fault.times:
                continue
            if _method_matches(fault.method, method) and fault.pattern.fullmatch(path):
                fault.hits += 1
                return fault
        return None

    # ------------------------------------------------------------------ HTTP server

    def _build_routes(self) -> None:
        app = r"(?P<app>\d+)"
        tok = r"(?P<token>[^/]+)"
        msg = r"(?P<mid>@original|\d+)"
        table: list[tuple[str, str, _Handler, bool]] = [
            ("GET", r"/users/@me", self._h_me, True),
            ("GET", r"/users/(?P<uid>\d+)", self._h_get_user, True),
            ("POST", r"/users/@me/channels", self._h_create_dm, True),
            ("GET", r"/oauth2/applications/@me", self._h_app_info, True),
            ("GET", r"/applications/@me", self._h_app_info, True),
            ("GET", r"/gateway", self._h_gateway, False),
            ("GET", r"/gateway/bot", self._h_gateway_bot, True),
            ("GET", rf"/applications/{app}/commands", self._h_get_commands, True),
            ("PUT", rf"/applications/{app}/commands", self._h_put_commands, True),
            (
                "GET",
                rf"/applications/{app}/guilds/(?P<gid>\d+)/commands",
                self._h_get_commands,
                True,
            ),
            (
                "PUT",
                rf"/applications/{app}/guilds/(?P<gid>\d+)/commands",
                self._h_put_commands,
                True,
            ),
            ("POST", rf"/interactions/(?P<iid>\d+)/{tok}/callback", self._h_callback, False),
            ("POST", rf"/webhooks/{app}/{tok}", self._h_webhook_execute, False),
            ("GET", rf"/webhooks/{app}/{tok}/messages/{msg}", self._h_webhook_get, False),
            ("PATCH", rf"/webhooks/{app}/{tok}/messages/{msg}", self._h_webhook_edit, False),
            ("DELETE", rf"/webhooks/{app}/{tok}/messages/{msg}", self._h_webhook_delete, False),
            ("GET", r"/channels/(?P<cid>\d+)", self._h_get_channel, True),
            ("GET", r"/channels/(?P<cid>\d+)/messages", self._h_list_messages, True),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._h_create_message, True),
            ("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._h_get_message, True),
            ("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._h_edit_message, True),
            (
                "DELETE",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)",
                self._h_delete_message,
                True,
            ),
            ("POST", r"/channels/(?P<cid>\d+)/typing", self._h_typing, True),
            ("GET", r"/guilds/(?P<gid>\d+)", self._h_get_guild, True),
            ("GET", r"/guilds/(?P<gid>\d+)/roles", self._h_get_roles, True),
            ("GET", r"/guilds/(?P<gid>\d+)/channels", self._h_get_guild_channels, True),
            ("GET", r"/guilds/(?P<gid>\d+)/members/(?P<uid>\d+)", self._h_get_member, True),
        ]
        for method, template, handler, auth in table:
            self._routes.append(_Route(method, re.compile(template), handler, auth, template))

    def _json_response(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        hdrs = dict(headers or {})
        if body is None:
            return web.Response(status=204 if status == 200 else status, headers=hdrs)
        # Exactly this value: discord.py compares the header verbatim (no "; charset=...").
        hdrs["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=hdrs)

    def _ratelimit_headers(self, route: _Route | None) -> dict[str, str]:
        if not self.ratelimit_headers or route is None:
            return {}
        bucket = hashlib.sha1(f"{route.method} {route.template}".encode()).hexdigest()[:16]
        return {
            "X-RateLimit-Limit": "10000",
            "X-RateLimit-Remaining": "9999",
            "X-RateLimit-Reset": f"{time.time() + 60:.3f}",
            "X-RateLimit-Reset-After": "60.000",
            "X-RateLimit-Bucket": bucket,
        }

    async def _read_body(self, request: web.Request) -> tuple[Any, list[RecordedFile], str | None]:
        ctype = request.content_type
        files: list[RecordedFile] = []
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, _BodyPartReader):
                    continue
                data = bytes(await part.read(decode=False))
                name = part.name or ""
                if name == "payload_json":
                    payload = json.loads(data.decode() or "null")
                else:
                    files.append(
                        RecordedFile(name, part.filename, part.headers.get("Content-Type"), data)
                    )
            return payload, files, None
        raw = await request.read()
        if not raw:
            return None, files, None
        text = raw.decode("utf-8", errors="replace")
        if ctype == "application/json" or text[:1] in ("{", "["):
            try:
                return json.loads(text), files, text
            except ValueError:
                return None, files, text
        return None, files, text

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files, text = await self._read_body(request)
        call = RecordedCall(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
            files=files,
            time=time.perf_counter(),
        )
        self.calls.append(call)
        self._notifier.notify()
        try:
            reply = await self._dispatch_rest(request, call, text)
        except _HTTPError as exc:
            reply = _Reply(exc.status, _error_body(exc.code, exc.message))
        except Exception as exc:  # a bug in the fake: answer 500 and keep the record
            reply = _Reply(500, {"message": f"fake internal error: {exc!r}", "code": 0})
        call.status = reply.status
        call.response = reply.body
        self._notifier.notify()
        return self._json_response(reply.status, reply.body, reply.headers)

    async def _dispatch_rest(
        self, request: web.Request, call: RecordedCall, text: str | None
    ) -> _Reply:
        route: _Route | None = None
        match: re.Match[str] | None = None
        for r in self._routes:
            if r.method == call.method:
                match = r.pattern.fullmatch(call.path)
                if match is not None:
                    route = r
                    break
        rejected = self._check_contract(call, route, text)
        if rejected is not None:
            return rejected
        fault = self._take_fault(call.method, call.path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return _Reply(fault.status, fault.body, dict(fault.headers))
        if route is None or match is None:
            self.unhandled_calls.append(call)
            return _Reply(404, {"message": "404: Not Found", "code": 0})
        if route.auth and not self._authorized(call):
            return _Reply(
                *ERR_UNAUTHORIZED[:1], _error_body(ERR_UNAUTHORIZED[1], ERR_UNAUTHORIZED[2])
            )
        reply = await route.handler(_Request(call, match, text))
        if 200 <= reply.status < 300:
            for k, v in self._ratelimit_headers(route).items():
                reply.headers.setdefault(k, v)
        return reply

    def _authorized(self, call: RecordedCall) -> bool:
        return call.headers.get("authorization") == f"Bot {self.token}"

    def _check_contract(
        self, call: RecordedCall, route: _Route | None, text: str | None
    ) -> _Reply | None:
        """Record, and answer 400 Invalid Form Body as Discord does, a body its description refuses.

        Unknown routes (404) and unauthenticated calls (401) are answered before the body counts.
        """
        if route is None or (route.auth and not self._authorized(call)):
            return None
        op = self._contract.operation(call.method, call.path)
        if op is None:
            self.contract_violations.append(
                ContractViolation(
                    f"{call.method} {route.template}",
                    "",
                    "the fake serves this route but the contract has no operation for it: "
                    "add it to BOT_ROUTES in tests/data/derive_discord_contract.py",
                )
            )
            return None
        if call.json is None and call.files:
            return None  # files without a payload_json part: no JSON to check
        if call.json is None and text is not None:  # a body, but not JSON
            found = [] if op.body is None else [ContractViolation(op.route, "", "not JSON")]
        else:
            found = self._contract.check(op, call.json)
        if not found:
            return None
        self.contract_violations.extend(found)
        errors = _form_errors(found)
        return _Reply(400, {"code": 50035, "message": "Invalid Form Body", "errors": errors})

    def contract_route(self, method: str, path: str) -> str | None:
        """The description's name of the operation a request goes to (None: not in the contract)."""
        op = self._contract.operation(method, path)
        return None if op is None else op.route

    def assert_contract_kept(self) -> None:
        """Raise AssertionError naming route, field and reason of every refused request."""
        if not self.contract_violations:
            return
        shown = [f"  {v}" for v in self.contract_violations[:20]]
        if len(self.contract_violations) > len(shown):
            shown.append(f"  ... and {len(self.contract_violations) - len(shown)} more")
        raise AssertionError(
            "FakeDiscord saw requests that Discord's published API description refuses:\n"
            + "\n".join(shown)
        )

    async def _fallback_handler(self, request: web.Request) -> web.StreamResponse:
        return self._json_response(404, {"message": "404: Not Found", "code": 0})

    async def _attachment_handler(self, request: web.Request) -> web.StreamResponse:
        try:
            rf = self._attachments[int(request.match_info["attachment_id"])]
        except (KeyError, ValueError):
            return web.Response(status=404, text="not found")
        return web.Response(
            body=rf.data, headers={"Content-Type": rf.content_type or "application/octet-stream"}
        )

    # ------------------------------------------------------------------ REST handlers

    async def _h_me(self, req: _Request) -> _Reply:
        data = self.bot_user.to_payload()
        data.update(verified=True, mfa_enabled=False, flags=0, locale="en-US")
        return _Reply(200, data)

    async def _h_get_user(self, req: _Request) -> _Reply:
        user = self.find_user(req.int_param("uid"))
        if user is None:
            raise _HTTPError(404, 10013, "Unknown User")
        return _Reply(200, user.to_payload())

    async def _h_create_dm(self, req: _Request) -> _Reply:
        body = req.body or {}
        user_id = int(body.get("recipient_id", 0))
        if self.find_user(user_id) is None:
            raise _HTTPError(404, 10013, "Unknown User")
        return _Reply(200, self._dm_channel_payload(self.dm_channel_id(user_id)))

    async def _h_app_info(self, req: _Request) -> _Reply:
        try:
            owner = self.admin.user
        except LookupError:
            owner = self.bot_user
        return _Reply(
            200,
            {
                "id": str(self.application_id),
                "name": self.bot_user.global_name or self.bot_user.username,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": owner.to_payload(),
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user.to_payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds) + self.extra_guilds,
            },
        )

    async def _h_gateway(self, req: _Request) -> _Reply:
        return _Reply(200, {"url": self.gateway_url})

    async def _h_gateway_bot(self, req: _Request) -> _Reply:
        return _Reply(
            200,
            {
                "url": self.gateway_url,
                "shards": self.shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": self.max_concurrency,
                },
            },
        )

    def _check_app(self, req: _Request) -> None:
        if req.int_param("app") != self.application_id:
            raise _HTTPError.of(ERR_UNKNOWN_APPLICATION)

    async def _h_get_commands(self, req: _Request) -> _Reply:
        self._check_app(req)
        gid = req.match.groupdict().get("gid")
        if gid is None:
            return _Reply(200, self.global_commands)
        return _Reply(200, self.guild_commands.get(int(gid), []))

    async def _h_put_commands(self, req: _Request) -> _Reply:
        self._check_app(req)
        gid_s = req.match.groupdict().get("gid")
        guild_id = int(gid_s) if gid_s is not None else None
        if guild_id is not None and self.get_guild(guild_id) is None:
            raise _HTTPError(403, 50001, "Missing Access")
        body = req.body
        if not isinstance(body, list):
            raise _HTTPError(400, 50035, "Invalid Form Body")
        echoed: list[JSON] = []
        for cmd in body:
            ctype = int(cmd.get("type", 1))
            key = (guild_id, str(cmd["name"]), ctype)
            if key not in self._command_ids:
                self._command_ids[key] = self.snowflake()
            out: JSON = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "dm_permission": True,
                **cmd,
                "id": str(self._command_ids[key]),
                "application_id": str(self.application_id),
                "type": ctype,
                "version": str(self.snowflake()),
            }
            if guild_id is not None:
                out["guild_id"] = str(guild_id)
            echoed.append(out)
        if guild_id is None:
            self.global_commands = echoed
        else:
            self.guild_commands[guild_id] = echoed
        self.command_syncs.append((guild_id, echoed))
        self._notifier.notify()
        return _Reply(200, echoed)

    # interactions ---------------------------------------------------------------------

    def _interaction_for_token(self, token: str) -> FakeInteraction:
        it = self._interactions_by_token.get(token)
        if it is None:
            raise _HTTPError.of(ERR_UNKNOWN_WEBHOOK)
        if it.expired:
            raise _HTTPError.of(ERR_INVALID_WEBHOOK_TOKEN)
        return it

    async def _h_callback(self, req: _Request) -> _Reply:
        token = req.param("token")
        it = self._interactions_by_token.get(token)
        if it is None or it.id != req.int_param("iid"):
            raise _HTTPError.of(ERR_UNKNOWN_INTERACTION)
        if it.expired:
            raise _HTTPError.of(ERR_INVALID_WEBHOOK_TOKEN)
        if it.response is not None:
            raise _HTTPError.of(ERR_ALREADY_ACKNOWLEDGED)
        body = req.body
        if not isinstance(body, dict) or "type" not in body:
            raise _HTTPError(400, 50035, "Invalid Form Body")
        received_at = req.call.time
        rtype = int(body["type"])
        data: JSON = body.get("data") or {}
        message: JSON | None = None
        if rtype in (4, 5) and not self._channel_exists(it.channel_id):
            raise _HTTPError.of(ERR_UNKNOWN_CHANNEL)
        if rtype == 4:
            message = self._create_message(
                it.channel_id, data, req.files, webhook=True, interaction=it
            )
            it.original_message_id = int(message["id"])
        elif rtype == 5:
            flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            message = self._create_message(
                it.channel_id, {}, [], webhook=True, interaction=it, flags=flags
            )
            it.original_message_id = int(message["id"])
        elif rtype in (6, 7):
            if it.message_id is None:
                raise _HTTPError(
                    400,
                    40004,
                    "Interaction response type only valid for component-based interactions",
                )
            target = self.get_message(it.message_id)
            if target is None:
                raise _HTTPError.of(ERR_UNKNOWN_MESSAGE)
            if rtype == 7:
                self._edit_message(target, data, req.files)
            message = target
            it.original_message_id = it.message_id
        elif rtype == 9:
            self._modals.append(data)
        it.callback_at = received_at
        snapshot = copy.deepcopy(message) if message is not None else None
        it.response = InteractionCallback(rtype, data, list(req.files), snapshot)
        self._notifier.notify()
        if req.call.query.get("with_response") not in ("1", "true", "True"):
            return _Reply(204)
        interaction_part: JSON = {"id": str(it.id), "type": it.type}
        resource: JSON = {"type": rtype}
        if message is not None:
            interaction_part["response_message_id"] = message["id"]
            interaction_part["response_message_loading"] = bool(
                message.get("flags", 0) & MESSAGE_FLAG_LOADING
            )
            interaction_part["response_message_ephemeral"] = bool(
                message.get("flags", 0) & MESSAGE_FLAG_EPHEMERAL
            )
            resource["message"] = message
        return _Reply(200, {"interaction": interaction_part, "resource": resource})

    async def _h_webhook_execute(self, req: _Request) -> _Reply:
        if req.int_param("app") != self.application_id:
            raise _HTTPError.of(ERR_UNKNOWN_WEBHOOK)
        it = self._interaction_for_token(req.param("token"))
        if it.response is None:
            raise _HTTPError.of(ERR_UNKNOWN_WEBHOOK)
        if not self._channel_exists(it.channel_id):
            raise _HTTPError.of(ERR_UNKNOWN_CHANNEL)
        payload: JSON = req.body if isinstance(req.body, dict) else {}
        msg = self._create_message(it.channel_id, payload, req.files, webhook=True, interaction=it)
        it.followups.append(msg)
        self._notifier.notify()
        if req.call.query.get("wait", "false").lower() in ("true", "1"):
            return _Reply(200, msg)
        return _Reply(204)

    def _webhook_message(self, req: _Request) -> tuple[FakeInteraction, JSON]:
        if req.int_param("app") != self.application_id:
            raise _HTTPError.of(ERR_UNKNOWN_WEBHOOK)
        it = self._interaction_for_token(req.param("token"))
        mid_s = req.param("mid")
        if mid_s == "@original":
            if it.original_message_id is None:
                raise _HTTPError.of(ERR_UNKNOWN_MESSAGE)
            mid = it.original_message_id
        else:
            mid = int(mid_s)
        msg = self.get_message(mid)
        if msg is None:
            raise _HTTPError.of(ERR_UNKNOWN_MESSAGE)
        if not self._channel_exists(int(msg["channel_id"])):
            raise _HTTPError.of(ERR_UNKNOWN_CHANNEL)
        return it, msg

    async def _h_webhook_get(self, req: _Request) -> _Reply:
        _, msg = self._webhook_message(req)
        return _Reply(200, msg)

    async def _h_webhook_edit(self, req: _Request) -> _Reply:
        _, msg = self._webhook_message(req)
        payload: JSON = req.body if isinstance(req.body, dict) else {}
        return _Reply(200, self._edit_message(msg, payload, req.files))

    async def _h_webhook_delete(self, req: _Request) -> _Reply:
        _, msg = self._webhook_message(req)
        self.delete_message(int(msg["channel_id"]), int(msg["id"]))
        self._notifier.notify()
        return _Reply(204)

    # channels ---------------------------------------------------------------------------

    def _require_channel(self, req: _Request) -> int:
        cid = req.int_param("cid")
        if not self._channel_exists(cid):
            raise _HTTPError.of(ERR_UNKNOWN_CHANNEL)
        return cid

    def _require_message(self, req: _Request) -> JSON:
        cid = self._require_channel(req)
        msg = self.get_message(req.int_param("mid"))
        if msg is None or int(msg["channel_id"]) != cid:
            raise _HTTPError.of(ERR_UNKNOWN_MESSAGE)
        return msg

    async def _h_get_channel(self, req: _Request) -> _Reply:
        cid = self._require_channel(req)
        if cid in self._dm_channel_users:
            return _Reply(200, self._dm_channel_payload(cid))
        guild, channel = self.find_channel(cid)
        assert guild is not None and channel is not None
        return _Reply(200, channel.to_payload(guild.id))

    async def _h_list_messages(self, req: _Request) -> _Reply:
        cid = self._require_channel(req)
        limit = int(req.call.query.get("limit", "50"))
        msgs = [m for m in self.messages_in(cid) if not m.get("flags", 0) & MESSAGE_FLAG_EPHEMERAL]
        return _Reply(200, list(reversed(msgs))[:limit])

    async def _h_create_message(self, req: _Request) -> _Reply:
        cid = self._require_channel(req)
        if self._dm_channel_users.get(cid) in self._closed_dms:
            raise _HTTPError.of(ERR_CANNOT_DM)
        payload: JSON = req.body if isinstance(req.body, dict) else {}
        return _Reply(200, self._create_message(cid, payload, req.files))

    async def _h_get_message(self, req: _Request) -> _Reply:
        return _Reply(200, self._require_message(req))

    async def _h_edit_message(self, req: _Request) -> _Reply:
        msg = self._require_message(req)
        payload: JSON = req.body if isinstance(req.body, dict) else {}
        return _Reply(200, self._edit_message(msg, payload, req.files))

    async def _h_delete_message(self, req: _Request) -> _Reply:
        msg = self._require_message(req)
        self.delete_message(int(msg["channel_id"]), int(msg["id"]))
        self._notifier.notify()
        return _Reply(204)

    async def _h_typing(self, req: _Request) -> _Reply:
        self._require_channel(req)
        return _Reply(204)

    # guilds -----------------------------------------------------------------------------

    def _require_guild(self, req: _Request) -> FakeGuild:
        guild = self.get_guild(req.int_param("gid"))
        if guild is None:
            raise _HTTPError.of(ERR_UNKNOWN_GUILD)
        return guild

    async def _h_get_guild(self, req: _Request) -> _Reply:
        guild = self._require_guild(req)
        data = guild.to_rest_payload()
        if req.call.query.get("with_counts") in ("true", "1"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return _Reply(200, data)

    async def _h_get_roles(self, req: _Request) -> _Reply:
        return _Reply(200, [r.to_payload() for r in self._require_guild(req).roles])

    async def _h_get_guild_channels(self, req: _Request) -> _Reply:
        guild = self._require_guild(req)
        return _Reply(200, [c.to_payload(guild.id) for c in guild.channels])

    async def _h_get_member(self, req: _Request) -> _Reply:
        guild = self._require_guild(req)
        member = guild.get_member(req.int_param("uid"))
        if member is None:
            if req.int_param("uid") == self.bot_user.id:
                member = FakeMember(self.bot_user, permissions=0)
            else:
                raise _HTTPError.of(ERR_UNKNOWN_MEMBER)
        return _Reply(200, member.to_payload())

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, timeout=2.0)
        await ws.prepare(request)
        conn = _GatewayConnection(ws, next(self._conn_counter))
        self._connections.append(conn)
        self.gateway_connects += 1
        self._notifier.notify()
        try:
            await conn.send_raw(
                json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._gateway_message(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await self._gateway_message(conn, json.loads(bytes(msg.data).decode()))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            conn.ready = False
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            if conn in self._connections:
                self._connections.remove(conn)
            self._notifier.notify()
        return ws

    async def _gateway_message(self, conn: _GatewayConnection, msg: JSON) -> None:
        self.gateway_received.append(msg)
        op = msg.get("op")
        data = msg.get("d")
        if op == 1:
            await conn.send_raw(json.dumps({"op": 11}))
        elif op == 2:
            await self._identify(conn, data if isinstance(data, dict) else {})
        elif op == 6:
            await self._resume(conn, data if isinstance(data, dict) else {})
        elif op == 8:
            await self._request_members(conn, data if isinstance(data, dict) else {})
        # op 3 (presence) / 4 (voice state) and others are accepted silently.

    def shard_of(self, guild_id: int) -> int:
        """The shard a guild's events go to: Discord's ``(guild_id >> 22) % shard_count``."""
        return (guild_id >> 22) % self._shard_count

    async def _identify(self, conn: _GatewayConnection, data: JSON) -> None:
        self.identify_payloads.append(data)
        shard = data.get("shard")
        shard_id: int | None = None
        if isinstance(shard, list) and len(shard) == 2:
            shard_id, self._shard_count = int(shard[0]), int(shard[1])
        self.identify_times.append((time.monotonic(), shard_id))
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _GatewaySession(uuid.uuid4().hex)
        self._sessions[session.session_id] = session
        conn.session = session
        session.conn = conn
        guilds = self.guilds
        extra: Sequence[int] = range(self.extra_guilds)
        if shard_id is not None:
            self._shard_sessions[shard_id] = session
            guilds = [g for g in guilds if self.shard_of(g.id) == shard_id]
            extra = [i for i in extra if self.shard_of(extra_guild_id(i)) == shard_id]
        guild_stubs: list[JSON] = [{"id": str(g.id), "unavailable": True} for g in guilds]
        guild_stubs.extend({"id": str(extra_guild_id(i)), "unavailable": True} for i in extra)
        ready: JSON = {
            "v": 10,
            "user": {
                **self.bot_user.to_payload(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
            },
            "guilds": guild_stubs,
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
        }
        shard = data.get("shard")
        if shard is not None:
            ready["shard"] = shard
        session.append("READY", ready, self._count_ready)
        for g in guilds:
            session.append("GUILD_CREATE", g.to_gateway_payload(self.bot_user))
        if extra:
            template = self._extra_guild_frame_template()
            for i in extra:
                values = {
                    "gid": extra_guild_id(i),
                    "cid": EXTRA_CHANNEL_BASE_ID + i,
                    "idx": i,
                }
                session.append_template(template, values)
        self._session = session
        await self._drain(conn, session, 0)

    def _count_ready(self) -> None:
        self.ready_count += 1

    def _extra_guild_frame_template(self) -> str:
        """A %-template (keys seq, gid, idx) of a minimal GUILD_CREATE frame, serialised once."""
        guild = self._extra_guild(0)
        payload = guild.to_gateway_payload(self.bot_user)
        payload["id"] = "__GID__"
        payload["name"] = "__NAME__"
        payload["roles"][0]["id"] = "__GID__"
        payload["channels"][0]["id"] = "__CID__"
        frame = json.dumps({"op": 0, "t": "GUILD_CREATE", "s": "__SEQ__", "d": payload}).replace(
            "%", "%%"
        )
        frame = frame.replace('"__SEQ__"', "%(seq)d").replace('"__GID__"', '"%(gid)d"')
        frame = frame.replace('"__CID__"', '"%(cid)d"')
        return frame.replace('"__NAME__"', '"Extra Guild %(idx)d"')

    async def _drain(
        self, conn: _GatewayConnection, session: _GatewaySession, after_seq: int
    ) -> None:
        """Send every logged event with seq > after_seq, then mark the connection live."""
        conn.ready = False
        last = after_seq
        while True:
            pending = [e for e in session.log if e.seq > last]
            if not pending:
                break
            for entry in pending:
                if conn.ws.closed:
                    return
                await conn.send_raw(entry.frame, entry.on_sent)
                last = entry.seq
        conn.ready = True
        self._notifier.notify()

    async def _resume(self, conn: _GatewayConnection, data: JSON) -> None:
        self.resume_payloads.append(data)
        session = self._sessions.get(str(data.get("session_id")))
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if session is None:
            await conn.send_raw(json.dumps({"op": 9, "d": False}))
            return
        old = session.conn
        if old is not None and old is not conn and not old.ws.closed:
            old.ready = False
            await old.ws.close(code=4000)
        conn.session = session
        session.conn = conn
        self.resumes += 1
        session.append("RESUMED", {})
        seq = data.get("seq")
        await self._drain(conn, session, int(seq) if isinstance(seq, int) else 0)

    async def _request_members(self, conn: _GatewayConnection, data: JSON) -> None:
        session = conn.session
        if session is None:
            return
        guild = self.get_guild(int(data.get("guild_id", 0)))
        if guild is None:
            return
        members = [m.to_payload() for m in guild.members]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send_event(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_event(
        self,
        session: _GatewaySession,
        event: str,
        data: Any,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        entry = session.append(event, data, on_sent)
        conn = session.conn
        if conn is not None and conn.ready and not conn.ws.closed:
            await conn.send_raw(entry.frame, on_sent)

    async def wait_ready(self, timeout: float = 10.0, *, count: int = 1) -> None:
        """Wait until READY has been sent ``count`` times (on any connection)."""
        await self._notifier.wait_until(lambda: self.ready_count >= count, timeout, "gateway READY")

    async def wait_live(self, timeout: float = 10.0) -> None:
        """Wait until the current gateway session has a connection that is identified/resumed."""

        def check() -> bool:
            s = self._session
            return s is not None and s.conn is not None and s.conn.ready

        await self._notifier.wait_until(check, timeout, "a live gateway connection")

    async def wait_resumed(self, timeout: float = 10.0, *, count: int = 1) -> None:
        await self._notifier.wait_until(
            lambda: self.resumes >= count and self._is_live(), timeout, "a gateway RESUME"
        )

    async def wait_gateway_connects(self, count: int, timeout: float = 10.0) -> None:
        await self._notifier.wait_until(
            lambda: self.gateway_connects >= count, timeout, f"{count} gateway connects"
        )

    def _is_live(self) -> bool:
        s = self._session
        return s is not None and s.conn is not None and s.conn.ready

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the live gateway socket (default 4000, which clients resume after)."""
        s = self._session
        if s is None or s.conn is None:
            raise RuntimeError("no live gateway connection to drop")
        conn = s.conn
        conn.ready = False
        s.conn = None
        await conn.ws.close(code=code, message=b"dropped by FakeDiscord")

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION on the live connection."""
        s = self._session
        if s is None or s.conn is None:
            raise RuntimeError("no live gateway connection")
        await s.conn.send_raw(json.dumps({"op": 9, "d": resumable}))

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT on the live connection (the client then resumes)."""
        s = self._session
        if s is None or s.conn is None:
            raise RuntimeError("no live gateway connection")
        await s.conn.send_raw(json.dumps({"op": 7, "d": None}))

    async def dispatch(
        self,
        event: str,
        data: Any,
        *,
        on_sent: Callable[[], None] | None = None,
        guild_id: int | None = None,
    ) -> None:
        """Dispatch a gateway event (op 0) on the current session, or for a sharded client on
        the session of the shard that ``guild_id`` belongs to (shard 0 without a guild).

        If the session has no live connection the event is kept and replayed on RESUME.
        """
        if self._shard_sessions:
            shard_id = 0 if guild_id is None else self.shard_of(guild_id)
            await self._notifier.wait_until(
                lambda: shard_id in self._shard_sessions,
                self.dispatch_timeout,
                f"a gateway session for shard {shard_id}",
            )
            await self._send_event(self._shard_sessions[shard_id], event, data, on_sent)
            return
        if self._session is None:
            await self._notifier.wait_until(
                lambda: self._session is not None, self.dispatch_timeout, "a gateway session"
            )
        session = self._session
        assert session is not None
        await self._send_event(session, event, data, on_sent)

    # ------------------------------------------------------------------ interactions

    def _find_command(self, name: str, guild_id: int | None, command_type: int = 1) -> JSON:
        candidates: list[JSON] = []
        if guild_id is not None:
            candidates.extend(self.guild_commands.get(guild_id, []))
        candidates.extend(self.global_commands)
        for cmd in candidates:
            if cmd["name"] == name and int(cmd.get("type", 1)) == command_type:
                return cmd
        known = sorted({c["name"] for c in candidates})
        raise LookupError(f"command {name!r} has not been synced (known: {known})")

    def _new_interaction(
        self,
        itype: int,
        data: JSON,
        *,
        user: FakeUser | FakeMember | int | None,
        guild_id: int | None,
        channel_id: int | None,
        dm: bool,
        member_permissions: int | None,
        roles: Sequence[int] | None,
        message: JSON | None = None,
        locale: str = "en-US",
        app_permissions: int | None = None,
        user_install: bool = False,
    ) -> FakeInteraction:
        invoker = self._resolve_user(user)
        iid = self.snowflake(age_s=self.interaction_age_s)
        token = f"fake-interaction-{uuid.uuid4().hex}"
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
            "app_permissions": str(
                self.app_permissions if app_permissions is None else app_permissions
            ),
        }
        if dm:
            cid = self.dm_channel_id(invoker) if channel_id is None else channel_id
            if cid not in self._dm_channel_users:
                self._dm_channel_users[cid] = invoker.id
            payload["channel_id"] = str(cid)
            payload["channel"] = self._dm_channel_payload(cid)
            payload["user"] = invoker.to_payload()
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": "0"}
            gid: int | None = None
        else:
            guild = self.default_guild if guild_id is None else self.get_guild(guild_id)
            if guild is None:
                raise LookupError(f"unknown guild {guild_id}")
            gid = guild.id
            if channel_id is None:
                first = guild.first_text_channel
                if first is None:
                    raise LookupError(f"guild {gid} has no text channel")
                cid = first.id
            else:
                cid = channel_id
            channel = guild.get_channel(cid)
            member = guild.get_member(invoker.id) or FakeMember(invoker)
            perms = member.permissions if member_permissions is None else member_permissions
            role_ids = list(member.roles if roles is None else roles)
            member_payload = FakeMember(
                member.user, role_ids, perms, member.nick, member.joined_at
            ).to_payload(permissions=perms)
            channel_payload = (
                channel.to_payload(gid)
                if channel is not None
                else FakeChannel(cid, "deleted-channel").to_payload(gid)
            )
            channel_payload["permissions"] = str(perms)
            payload.update(
                guild_id=str(gid),
                guild={
                    "id": str(gid),
                    "locale": guild.preferred_locale,
                    "features": list(guild.features),
                },
                guild_locale=guild.preferred_locale,
                channel_id=str(cid),
                channel=channel_payload,
                member=member_payload,
                context=0,
                # A user install is authorised by its user, not by the server (which may not
                # have the bot at all).
                authorizing_integration_owners=(
                    {"1": str(invoker.id)} if user_install else {"0": str(gid)}
                ),
            )
        if message is not None:
            payload["message"] = message
        it = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            channel_id=cid,
            guild_id=gid,
            user=invoker,
            message_id=int(message["id"]) if message is not None else None,
        )
        self.interactions[iid] = it
        self._interactions_by_token[token] = it
        return it

    async def _send_interaction(self, it: FakeInteraction) -> FakeInteraction:
        guild_id = it.payload.get("guild_id")
        await self.dispatch(
            "INTERACTION_CREATE",
            it.payload,
            on_sent=it._mark_sent,
            guild_id=None if guild_id is None else int(guild_id),
        )
        return it

    def _command_options(
        self,
        command: JSON,
        options: Mapping[str, Any] | None,
        subcommand: str | Sequence[str] | None,
        guild_id: int | None,
        focused: str | None = None,
    ) -> tuple[list[JSON], JSON]:
        path: list[str]
        if subcommand is None:
            path = []
        elif isinstance(subcommand, str):
            path = subcommand.split()
        else:
            path = list(subcommand)
        resolved: JSON = {}
        schema: list[JSON] = list(command.get("options") or [])
        containers: list[JSON] = []
        for part in path:
            found = next(
                (
                    o
                    for o in schema
                    if o["name"] == part and o["type"] in _COMMAND_OPTION_CONTAINER_TYPES
                ),
                None,
            )
            if found is None:
                raise LookupError(f"{command['name']!r} has no subcommand/group {part!r}")
            containers.append(found)
            schema = list(found.get("options") or [])
        if schema and any(o["type"] in _COMMAND_OPTION_CONTAINER_TYPES for o in schema):
            raise LookupError(
                f"{command['name']!r} needs a subcommand (one of {[o['name'] for o in schema]})"
            )
        leaf: list[JSON] = []
        for name, value in (options or {}).items():
            opt = next((o for o in schema if o["name"] == name), None)
            if opt is None:
                raise LookupError(
                    f"option {name!r} not in the synced schema ({[o['name'] for o in schema]})"
                )
            otype = int(opt["type"])
            entry: JSON = {"name": name, "type": otype}
            if focused is not None and name == focused:
                entry["value"] = value if isinstance(value, str) else str(value)
                entry["focused"] = True
            else:
                entry["value"] = self._option_value(otype, value, resolved, guild_id)
            leaf.append(entry)
        if focused is not None and focused not in (options or {}):
            opt = next((o for o in schema if o["name"] == focused), None)
            if opt is None:
                raise LookupError(f"focused option {focused!r} not in the synced schema")
            leaf.append({"name": focused, "type": int(opt["type"]), "value": "", "focused": True})
        result = leaf
        for container in reversed(containers):
            result = [{"name": container["name"], "type": container["type"], "options": result}]
        return result, resolved

    def _option_value(self, otype: int, value: Any, resolved: JSON, guild_id: int | None) -> Any:
        guild = self.get_guild(guild_id) if guild_id is not None else None
        if otype == 3:
            return str(value)
        if otype == 4:
            return int(value)
        if otype == 5:
            return bool(value)
        if otype == 10:
            return float(value)
        if otype in (6, 9) and not isinstance(value, FakeRole):
            if (
                otype == 9
                and isinstance(value, int)
                and guild is not None
                and guild.get_role(value)
            ):
                return self._option_value(8, value, resolved, guild_id)
            user = self._resolve_user(value)
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            member = guild.get_member(user.id) if guild is not None else None
            if member is not None:
                resolved.setdefault("members", {})[str(user.id)] = member.to_payload(
                    with_user=False, permissions=member.permissions
                )
            return str(user.id)
        if otype in (8, 9):
            role = (
                value
                if isinstance(value, FakeRole)
                else (guild.get_role(int(value)) if guild is not None else None)
            )
            if role is None:
                raise LookupError(f"unknown role {value!r}")
            resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        if otype == 7:
            cid = value.id if isinstance(value, FakeChannel) else int(value)
            g, channel = self.find_channel(cid)
            if channel is None:
                raise LookupError(f"unknown channel {cid}")
            data = channel.to_payload(g.id if g is not None else None)
            data["permissions"] = str(DEFAULT_MEMBER_PERMISSIONS)
            resolved.setdefault("channels", {})[str(cid)] = data
            return str(cid)
        if otype == 11:
            if not isinstance(value, FakeUpload):
                raise TypeError("attachment options take a FakeUpload")
            att = self._store_attachment(0, value.filename, value.data, value.content_type)
            att["ephemeral"] = True
            resolved.setdefault("attachments", {})[att["id"]] = att
            return att["id"]
        return value

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: FakeUser | FakeMember | int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        subcommand: str | Sequence[str] | None = None,
        member_permissions: int | None = None,
        roles: Sequence[int] | None = None,
        dm: bool = False,
        locale: str = "en-US",
        app_permissions: int | None = None,
        user_install: bool = False,
    ) -> FakeInteraction:
        """Dispatch a CHAT_INPUT application command (interaction type 2).

        ``name`` may contain the subcommand path (``"imagine-admin budget role"``), or pass it
        as ``subcommand``. The command must have been synced (guild commands win over global).
        ``user_install`` sends it as authorised by the user's own install of the app.
        """
        parts = name.split()
        if len(parts) > 1:
            name = parts[0]
            extra = parts[1:]
            if subcommand is not None:
                extra += subcommand.split() if isinstance(subcommand, str) else list(subcommand)
            subcommand = extra
        gid = None if dm else (guild_id if guild_id is not None else self.default_guild.id)
        command = self._find_command(name, gid)
        opts, resolved = self._command_options(command, options, subcommand, gid)
        data: JSON = {"id": command["id"], "name": command["name"], "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id") is not None:
            data["guild_id"] = command["guild_id"]
        it = self._new_interaction(
            2,
            data,
            user=user,
            guild_id=gid,
            channel_id=channel_id,
            dm=dm,
            member_permissions=member_permissions,
            roles=roles,
            locale=locale,
            app_permissions=app_permissions,
            user_install=user_install,
        )
        return await self._send_interaction(it)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        *,
        user: FakeUser | FakeMember | int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        subcommand: str | Sequence[str] | None = None,
        dm: bool = False,
        timeout: float = 5.0,
    ) -> list[JSON]:
        """Dispatch an autocomplete interaction (type 4) and return the choices the bot sent."""
        it = await self.autocomplete_interaction(
            name,
            options,
            focused,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            subcommand=subcommand,
            dm=dm,
        )
        response = await it.wait_response(timeout)
        if response.type != 8:
            raise AssertionError(
                f"expected an autocomplete result (type 8), got type {response.type}"
            )
        choices: list[JSON] = list(response.data.get("choices") or [])
        return choices

    async def autocomplete_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        *,
        user: FakeUser | FakeMember | int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        subcommand: str | Sequence[str] | None = None,
        dm: bool = False,
    ) -> FakeInteraction:
        parts = name.split()
        if len(parts) > 1:
            name, subcommand = parts[0], parts[1:]
        gid = None if dm else (guild_id if guild_id is not None else self.default_guild.id)
        command = self._find_command(name, gid)
        opts, resolved = self._command_options(command, options, subcommand, gid, focused=focused)
        data: JSON = {"id": command["id"], "name": command["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id") is not None:
            data["guild_id"] = command["guild_id"]
        it = self._new_interaction(
            4,
            data,
            user=user,
            guild_id=gid,
            channel_id=channel_id,
            dm=dm,
            member_permissions=None,
            roles=None,
        )
        return await self._send_interaction(it)

    async def click(
        self,
        message_id: int | str,
        custom_id: str,
        *,
        user: FakeUser | FakeMember | int | None = None,
        channel_id: int | None = None,
        values: Sequence[str] | None = None,
        component_type: int | None = None,
        member_permissions: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Dispatch a component interaction (type 3) on a stored message (button by default)."""
        message = self.get_message(int(message_id))
        if message is None:
            raise LookupError(f"message {message_id} is not stored (or was deleted)")
        cid = int(message["channel_id"]) if channel_id is None else channel_id
        if component_type is None:
            component_type = _find_component_type(message.get("components") or [], custom_id)
            if component_type is None:
                component_type = 3 if values is not None else 2
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        dm = message.get("guild_id") is None
        it = self._new_interaction(
            3,
            data,
            user=user,
            guild_id=None if dm else int(message["guild_id"]),
            channel_id=cid,
            dm=dm,
            member_permissions=member_permissions,
            roles=None,
            message=message,
            locale=locale,
        )
        return await self._send_interaction(it)

    def _last_modal(self, custom_id: str) -> JSON | None:
        for modal in reversed(self._modals):
            if modal.get("custom_id") == custom_id:
                return modal
        return None

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        *,
        user: FakeUser | FakeMember | int | None = None,
        message_id: int | str | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Dispatch a modal submit (type 5).

        If the bot opened a modal with this ``custom_id`` the submitted components mirror its
        layout (label components (type 18) or legacy action rows); otherwise action rows.
        ``values`` maps component custom ids to text (or lists of strings for selects).
        """
        message = self.get_message(int(message_id)) if message_id is not None else None
        modal = self._last_modal(custom_id)
        remaining = dict(values)
        components: list[JSON] = []
        if modal is not None:
            for comp in modal.get("components") or []:
                built = _modal_submit_component(comp, remaining)
                if built is not None:
                    components.append(built)
        for cid_, value in remaining.items():
            components.append(
                {"type": 1, "components": [_submitted_value({"type": 4, "custom_id": cid_}, value)]}
            )
        data: JSON = {"custom_id": custom_id, "components": components}
        if message is not None and message.get("guild_id") is not None and guild_id is None:
            guild_id = int(message["guild_id"])
        if message is not None and channel_id is None:
            channel_id = int(message["channel_id"])
        it = self._new_interaction(
            5,
            data,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            dm=dm,
            member_permissions=None,
            roles=None,
            message=message,
            locale=locale,
        )
        return await self._send_interaction(it)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

try:  # aiohttp's concrete multipart part type
    from aiohttp import BodyPartReader as _BodyPartReader
except ImportError:  # pragma: no cover
    from aiohttp.multipart import BodyPartReader as _BodyPartReader


def _method_matches(pattern: str | None, method: str) -> bool:
    return pattern is None or pattern == "*" or pattern.upper() == method.upper()


def _iter_components(components: Iterable[Any]) -> Iterable[JSON]:
    for comp in components:
        if not isinstance(comp, dict):
            continue
        yield comp
        children = comp.get("components")
        if isinstance(children, list):
            yield from _iter_components(children)
        for key in ("component", "accessory"):
            child = comp.get(key)
            if isinstance(child, dict):
                yield from _iter_components([child])


def _find_component_type(components: Iterable[Any], custom_id: str) -> int | None:
    for comp in _iter_components(components):
        if comp.get("custom_id") == custom_id:
            return int(comp["type"])
    return None


def _submitted_value(component: JSON, value: str | Sequence[str]) -> JSON:
    ctype = int(component.get("type", 4))
    out: JSON = {"type": ctype, "custom_id": component["custom_id"]}
    if "id" in component:
        out["id"] = component["id"]
    if ctype == 4:
        out["value"] = value if isinstance(value, str) else "".join(value)
    elif ctype == 23:  # checkbox
        out["value"] = bool(value) and value not in ("false", "0")
    elif ctype == 21:  # radio group
        out["value"] = value if isinstance(value, str) else (next(iter(value), None))
    else:
        out["values"] = [value] if isinstance(value, str) else list(value)
    return out


def _modal_submit_component(comp: JSON, remaining: dict[str, str | Sequence[str]]) -> JSON | None:
    ctype = comp.get("type")
    if ctype == 1:
        children: list[JSON] = []
        for child in comp.get("components") or []:
            cid = child.get("custom_id")
            if cid in remaining:
                children.append(_submitted_value(child, remaining.pop(cid)))
            elif cid is not None and int(child.get("type", 0)) == 4:
                children.append(_submitted_value(child, ""))
        return {"type": 1, "components": children} if children else None
    if ctype == 18:
        child = comp.get("component") or {}
        cid = child.get("custom_id")
        if cid is None:
            return None
        if cid in remaining:
            value = remaining.pop(cid)
        elif int(child.get("type", 0)) == 4:
            value = ""
        else:
            value = []
        out: JSON = {"type": 18, "component": _submitted_value(child, value)}
        if "id" in comp:
            out["id"] = comp["id"]
        return out
    if ctype == 10:
        out = {"type": 10, "content": comp.get("content", "")}
        if "id" in comp:
            out["id"] = comp["id"]
        return out
    return None
