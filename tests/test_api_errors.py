"""Every status and fault becomes its typed error, never with upstream text; retries are bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from bot.api import AimlApiClient, GenerationRequest
from bot.api.response import parse_retry_after
from bot.catalogue import MODELS, ModelSpec
from bot.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    GenerationTimeoutError,
    ImageDownloadError,
    MalformedResponseError,
    ModelUnavailableError,
    NoImagesError,
    OutOfCreditsError,
    RateLimitedError,
    SafetyBlockedError,
    UpstreamError,
)
from tests.fakes.aimlapi import FakeAimlApi, Fault
from tests.harness import AIMLAPI_KEY
from tests.messages_en import API_FAILURES, FAST_UNAVAILABLE

KEY = AIMLAPI_KEY
MARK = "UPSTREAM-TEXT-7f3a"  # planted in every upstream message: must never reach a user
FAST = MODELS[0]
DEPRECATED = next(m for m in MODELS if m.deprecated)
ATTEMPTS = 3


class RecordingSleep:
    """Stands in for asyncio.sleep so retry tests record delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


def make_client(
    session: aiohttp.ClientSession,
    fake: FakeAimlApi,
    sleep: RecordingSleep,
    *,
    key: str = KEY,
    timeout_s: float = 5,
    backoff_max_s: float = 20,
) -> AimlApiClient:
    return AimlApiClient(
        session,
        base_url=fake.base_url,
        api_key=key,
        timeout_s=timeout_s,
        image_max_bytes=5_000_000,
        allow_private_hosts=True,
        max_attempts=ATTEMPTS,
        backoff_base_s=0.5,
        backoff_max_s=backoff_max_s,
        sleep=sleep,
    )


@pytest.fixture
def client(
    session: aiohttp.ClientSession, fake: FakeAimlApi, sleep: RecordingSleep
) -> AimlApiClient:
    return make_client(session, fake, sleep)


def req(model: ModelSpec = FAST) -> GenerationRequest:
    return GenerationRequest(model=model, prompt="a cat")


def assert_clean(exc: ApiError) -> None:
    """The user sees our words only; the detail keeps upstream's for the log, never the key."""
    assert MARK not in exc.user_message
    assert KEY not in exc.user_message
    assert KEY not in exc.detail
    assert KEY not in str(exc)
    assert KEY not in repr(exc)
    assert len(exc.user_message) < 200


SAFETY = API_FAILURES["safety_blocked"]
STATUS_CASES = [
    (400, f"Body validation error! {MARK}", BadRequestError, 1, API_FAILURES["bad_request"]),
    (400, f"Prompt blocked by safety filter {MARK}", SafetyBlockedError, 1, SAFETY),
    (400, f"Request violates Responsible AI practices {MARK}", SafetyBlockedError, 1, SAFETY),
    (400, f"Prohibited content detected {MARK}", SafetyBlockedError, 1, SAFETY),
    (401, f"Invalid key {MARK}", AuthError, 1, API_FAILURES["auth"]),
    (403, f"Not enough credits {MARK}", OutOfCreditsError, 1, API_FAILURES["out_of_credits"]),
    (404, f"Model not found {MARK}", ModelUnavailableError, 1, FAST_UNAVAILABLE),
    (429, f"Too Many Requests {MARK}", RateLimitedError, ATTEMPTS, API_FAILURES["rate_limited"]),
    (500, f"Internal {MARK}", UpstreamError, ATTEMPTS, API_FAILURES["upstream"]),
    (502, f"Bad gateway {MARK}", UpstreamError, ATTEMPTS, API_FAILURES["upstream"]),
    (503, f"Unavailable {MARK}", UpstreamError, ATTEMPTS, API_FAILURES["upstream"]),
    (504, f"Generation timeout {MARK}", GenerationTimeoutError, ATTEMPTS, API_FAILURES["timeout"]),
]


@pytest.mark.parametrize(
    ("status", "message", "error", "calls", "user_text"),
    STATUS_CASES,
    ids=[f"{c[0]}-{c[2].__name__}" for c in STATUS_CASES],
)
async def test_status_maps_to_typed_error(
    fake: FakeAimlApi,
    client: AimlApiClient,
    sleep: RecordingSleep,
    status: int,
    message: str,
    error: type[ApiError],
    calls: int,
    user_text: str,
) -> None:
    fake.inject(Fault.http(status, message), times=ATTEMPTS)
    with pytest.raises(ApiError) as info:
        await client.generate(req())
    exc = info.value
    assert type(exc) is error
    assert exc.status == status
    assert MARK in exc.detail  # kept for the log
    assert_clean(exc)
    assert exc.user_message == user_text
    assert len(fake.requests) == calls
    assert len(sleep.delays) == calls - 1
    assert fake.contract_violations == []


async def test_404_names_the_model_and_says_deprecated(
    fake: FakeAimlApi, client: AimlApiClient
) -> None:
    fake.inject(Fault.http(404, MARK))
    with pytest.raises(ModelUnavailableError) as info:
        await client.generate(req(DEPRECATED))
    assert info.value.user_message == (
        "Imagen 4 Ultra Preview is not available (it may be deprecated upstream). "
        "Pick another model."
    )
    assert_clean(info.value)


async def test_wrong_key_is_an_auth_error(
    fake: FakeAimlApi, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(session, fake, sleep, key="sk-wrong-key-999")
    with pytest.raises(AuthError) as info:
        await client.generate(req())
    assert "sk-wrong-key-999" not in info.value.detail + info.value.user_message
    assert info.value.user_message == API_FAILURES["auth"]
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-wrong-key-999"


async def test_key_echoed_by_upstream_is_redacted(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault.http(401, f"key {KEY} revoked"))
    with pytest.raises(AuthError) as info:
        await client.generate(req())
    assert "revoked" in info.value.detail
    assert_clean(info.value)


def test_repr_hides_the_key(client: AimlApiClient) -> None:
    assert KEY not in repr(client)
    assert KEY not in str(client)


# -- retries -------------------------------------------------------------------------------------


async def test_retry_after_seconds_is_honoured(
    fake: FakeAimlApi, client: AimlApiClient, sleep: RecordingSleep
) -> None:
    fake.inject(Fault.http(429, retry_after="2"))
    result = await client.generate(req())
    assert result.attempts == 2
    assert sleep.delays == [2.0]
    assert len(fake.requests) == 2


async def test_retry_after_http_date_is_honoured(
    fake: FakeAimlApi, client: AimlApiClient, sleep: RecordingSleep
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=6)
    fake.inject(Fault.http(503, retry_after=format_datetime(when, usegmt=True)))
    result = await client.generate(req())
    assert result.attempts == 2
    assert len(sleep.delays) == 1
    assert 3.0 <= sleep.delays[0] <= 6.0


async def test_retry_after_is_capped(
    fake: FakeAimlApi, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(session, fake, sleep, backoff_max_s=3)
    fake.inject(Fault.http(429, retry_after="3600"))
    await client.generate(req())
    assert sleep.delays == [3.0]


async def test_rate_limit_error_carries_retry_after(
    fake: FakeAimlApi, client: AimlApiClient
) -> None:
    fake.inject(Fault.http(429, retry_after="7"), times=ATTEMPTS)
    with pytest.raises(RateLimitedError) as info:
        await client.generate(req())
    assert info.value.retry_after == 7.0


async def test_backoff_grows_with_jitter_and_is_bounded(
    fake: FakeAimlApi, client: AimlApiClient, sleep: RecordingSleep
) -> None:
    fake.inject(Fault.http(500), times=10)
    with pytest.raises(UpstreamError):
        await client.generate(req())
    assert len(fake.requests) == ATTEMPTS
    assert fake.pending_faults == 10 - ATTEMPTS
    assert len(sleep.delays) == ATTEMPTS - 1
    first, second = sleep.delays
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


async def test_recovery_after_server_errors(
    fake: FakeAimlApi, client: AimlApiClient, sleep: RecordingSleep
) -> None:
    fake.inject(Fault.http(502))
    fake.inject(Fault.http(503))
    result = await client.generate(req())
    assert result.attempts == 3
    assert len(result.images) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retried(
    fake: FakeAimlApi, client: AimlApiClient, sleep: RecordingSleep, status: int
) -> None:
    fake.inject(Fault.http(status), times=ATTEMPTS)
    with pytest.raises(ApiError):
        await client.generate(req())
    assert len(fake.requests) == 1
    assert sleep.delays == []


async def test_real_backoff_sleeps_stay_short(
    fake: FakeAimlApi, session: aiohttp.ClientSession
) -> None:
    """With the default asyncio.sleep the backoff really waits: at least its jittered base."""
    client = AimlApiClient(
        session,
        base_url=fake.base_url,
        api_key=KEY,
        timeout_s=5,
        image_max_bytes=5_000_000,
        allow_private_hosts=True,
        backoff_base_s=0.02,
        backoff_max_s=0.05,
    )
    fake.inject(Fault.http(503), times=2)
    result = await client.generate(req())
    assert result.attempts == 3
    gap = fake.requests[1].time - fake.requests[0].time
    assert gap >= 0.01


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 0 ", 0.0), ("-3", 0.0), ("1.5", 1.5), (None, None), ("", None), ("soon", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_date_in_the_past_is_zero() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now=now) == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0


# -- timeouts and broken answers -----------------------------------------------------------------


async def test_hang_times_out_without_retry(
    fake: FakeAimlApi, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(session, fake, sleep, timeout_s=0.3)
    fake.inject(Fault(hang=True), times=ATTEMPTS)
    with pytest.raises(GenerationTimeoutError) as info:
        await client.generate(req())
    # The hang would last until the fake closes: only the client's timeout ended the wait.
    assert len(fake.requests) == 1
    assert info.value.status is None
    assert_clean(info.value)


async def test_latency_below_the_timeout_is_fine(
    fake: FakeAimlApi, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(session, fake, sleep, timeout_s=60)
    fake.inject(Fault(delay=0.2))
    result = await client.generate(req())
    assert len(result.images) == 1


async def test_global_latency_past_the_timeout(
    fake: FakeAimlApi, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(session, fake, sleep, timeout_s=0.2)
    fake.latency = 1.0
    with pytest.raises(GenerationTimeoutError):
        await client.generate(req())


async def test_malformed_json(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault(malformed_json=True))
    with pytest.raises(MalformedResponseError) as info:
        await client.generate(req())
    assert_clean(info.value)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "payload", [{"data": None, "meta": None}, {"data": [], "meta": {"usage": {"credits_used": 0}}}]
)
async def test_no_data(
    fake: FakeAimlApi, client: AimlApiClient, payload: dict[str, object]
) -> None:
    fake.inject(Fault(payload=payload))
    with pytest.raises(NoImagesError):
        await client.generate(req())


async def test_wrong_shape(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault(payload={"result": "done", "detail": MARK}))
    with pytest.raises(MalformedResponseError) as info:
        await client.generate(req())
    assert_clean(info.value)


async def test_connection_refused_is_upstream_and_retried(
    session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    server = FakeAimlApi(KEY)
    await server.start()
    client = make_client(session, server, sleep)
    await server.close()  # nothing listens on that port any more
    with pytest.raises(UpstreamError) as info:
        await client.generate(req())
    assert len(sleep.delays) == ATTEMPTS - 1
    assert_clean(info.value)


async def test_every_image_failing_fails_the_job(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault(image_fault="404"))
    with pytest.raises(ImageDownloadError) as info:
        await client.generate(GenerationRequest(model=FAST, prompt="x", count=2))
    assert "404" in info.value.detail
    assert_clean(info.value)


async def test_one_image_failing_keeps_the_others(fake: FakeAimlApi, client: AimlApiClient) -> None:
    """The job delivers what arrived; the caller refunds the missing image."""
    fake.inject(Fault(image_fault="not_image", faulty_images=1))
    result = await client.generate(GenerationRequest(model=FAST, prompt="x", count=3))
    assert len(result.images) == 2
    assert result.missing == 1


# -- the key probe -------------------------------------------------------------------------------


async def test_verify_key_ok_costs_nothing(fake: FakeAimlApi, client: AimlApiClient) -> None:
    assert await client.verify_key() == "ok"
    assert fake.probes == 1
    assert "prompt" not in fake.requests[0].body
    assert fake.contract_violations == []


async def test_verify_key_bad_key(
    fake: FakeAimlApi, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(session, fake, sleep, key="sk-nope")
    with pytest.raises(AuthError):
        await client.verify_key()


async def test_verify_key_out_of_credits(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault.http(403, MARK))
    with pytest.raises(OutOfCreditsError) as info:
        await client.verify_key()
    assert_clean(info.value)


async def test_verify_key_upstream_down(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault.http(503, MARK))
    with pytest.raises(UpstreamError):
        await client.verify_key()


@pytest.mark.parametrize(
    ("status", "calls"), [(301, 1), (418, 1), (501, ATTEMPTS), (520, ATTEMPTS)]
)
async def test_unexpected_statuses(
    fake: FakeAimlApi, client: AimlApiClient, status: int, calls: int
) -> None:
    fake.inject(Fault.http(status, MARK), times=ATTEMPTS)
    with pytest.raises(ApiError) as info:
        await client.generate(req())
    assert isinstance(info.value, UpstreamError if status != 418 else BadRequestError)
    assert len(fake.requests) == calls
    assert_clean(info.value)
