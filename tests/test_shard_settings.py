"""SHARD_COUNT and SHARD_IDS: parsed, checked against each other, named when wrong."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings

BASE = {"DISCORD_TOKEN": "t.o.k", "AIMLAPI_KEY": "k"}


def load(**env: str) -> Settings:
    return load_settings({**BASE, **env}, env_file=None)


def test_unset_runs_one_unsharded_process() -> None:
    settings = load()
    assert (settings.shard_count, settings.shard_ids, settings.sharded) == (None, None, False)


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [
        ("4", "0-3", (4, (0, 1, 2, 3))),
        ("4", "0,2", (4, (0, 2))),
        ("8", " 6-7, 0 ,1-2", (8, (0, 1, 2, 6, 7))),
        ("2", None, (2, None)),
        ("auto", "0-1", ("auto", (0, 1))),
        ("AUTO", None, ("auto", None)),
    ],
)
def test_shard_settings_are_parsed(
    count: str, ids: str | None, expected: tuple[object, object]
) -> None:
    env = {"SHARD_COUNT": count} | ({"SHARD_IDS": ids} if ids is not None else {})
    settings = load(**env)
    assert (settings.shard_count, settings.shard_ids) == expected
    assert settings.sharded


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SHARD_COUNT": "2", "SHARD_IDS": "0-2"},
            "SHARD_IDS is invalid: shard 2 does not exist with SHARD_COUNT=2 (ids run 0 to 1)",
        ),
        ({"SHARD_IDS": "0"}, "SHARD_IDS is invalid: set SHARD_COUNT too (a number, or auto)"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "one"}, "SHARD_IDS is invalid: 'one' is not a shard"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1-0"}, "SHARD_IDS is invalid: '1-0' is not a range"),
        ({"SHARD_COUNT": "some"}, "SHARD_COUNT is invalid: expected auto or a number from 1"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT is invalid: expected auto or a number from 1"),
    ],
)
def test_bad_shard_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**env)
    assert str(caught.value).startswith(message)
