"""Blocklists, regex screening, durations, timezones and safe echoing (bot/moderation.py)."""

from __future__ import annotations

import datetime
import logging
import random
import string
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import RefusedError, UserInputError
from bot.moderation import (
    MAX_DURATION,
    Blocklist,
    BlocklistEntry,
    BlockMatch,
    compile_entry,
    find_catastrophic_shape,
    format_duration,
    normalise,
    parse_duration,
    sanitize_for_display,
    validate_timezone,
)

# Any code point, lone surrogates included: JSON from Discord can carry "\ud800".
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)
# Property tests run on a loaded CI machine: no per-example deadline, which would only measure load.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def words(*patterns: str) -> Blocklist:
    return Blocklist(BlocklistEntry("word", p, i) for i, p in enumerate(patterns, 1))


def regexes(*patterns: str) -> Blocklist:
    return Blocklist(compile_entry("regex", p, entry_id=i) for i, p in enumerate(patterns, 1))


# --- normalise ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BaD", "bad"),
        ("bаd", "bad"),  # Cyrillic а
        ("ВАD", "bad"),  # Cyrillic В and А
        ("βαd", "bad"),  # Greek β α
        ("ΝΟΤ", "not"),  # Greek capitals keep their Latin look before casefolding
        ("b\u200bad", "bad"),
        ("b\u200c\u200d\u2060\ufeff\u00adad", "bad"),
        ("b\u202ea\u2066d\u2069", "bad"),
        ("b**a**d", "bad"),
        ("||bad||", "bad"),
        ("`bad`", "bad"),
        ("~~b~~a_d_", "bad"),
        ("> bad", "bad"),
        ("ｂａｄ", "bad"),  # fullwidth
        ("𝐛𝐚𝐝", "bad"),  # mathematical bold
        ("bád", "bad"),
        ("b\u0336a\u0336d\u0336", "bad"),  # combining strikethrough
        ("ba\u0301d", "bad"),
        ("Straße", "strasse"),
        ("  many \t\n spaces\u3000here  ", "many spaces here"),
        ("nul\x00byte", "nulbyte"),
        ("ㅤhangul filler", "hangul filler"),
    ],
)
def test_normalise_folds_evasions(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_keeps_digits_and_other_scripts() -> None:
    # No leetspeak: digits stay digits, so "h3ll0" is not "hello".
    assert normalise("h3ll0 w0rld") == "h3ll0 w0rld"
    assert normalise("東京 ΦΩ") == "東京 φω"


@RELAXED
@given(ANY_TEXT)
def test_normalise_never_raises_and_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip()
    assert "  " not in once


# --- word entries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a BaD dog",
        "a bаd dog",  # Cyrillic
        "a b\u200bad dog",
        "a b**a**d dog",
        "a ||bad|| dog",
        "a `bad` dog",
        "a ｂａｄ dog",
        "a bád dog",
        "BAD!",
        "bad",
        "(bad)",
        "so.bad.",
    ],
)
def test_word_entry_catches_evasions(prompt: str) -> None:
    match = words("bad").check(prompt)
    assert match is not None
    assert match.entry == BlocklistEntry("word", "bad", 1)
    assert match.text_index == 0
    assert not match.timed_out


@pytest.mark.parametrize("prompt", ["ASS!", "a\u200bss", "kick ass", "аss"])
def test_word_entry_matches_whole_word(prompt: str) -> None:
    assert words("ass").check(prompt) is not None


@pytest.mark.parametrize("prompt", ["classic", "a class act", "assassin", "bass guitar", "mass"])
def test_word_entry_ignores_substrings(prompt: str) -> None:
    assert words("ass").check(prompt) is None


def test_word_entry_is_normalised_when_added() -> None:
    compiled = compile_entry("word", "  ＢÁD  ")
    assert compiled.word == "bad"
    assert Blocklist([compiled]).check("so bad") is not None


def test_phrase_entry_matches_with_flexible_whitespace() -> None:
    blocklist = words("red   panda")
    for prompt in ["a red panda", "RED\n\t PANDA eating", "red\u00a0panda", "a r**ed** panda"]:
        assert blocklist.check(prompt) is not None, prompt
    for prompt in ["redpanda", "a red fox and a panda", "red pandas"]:
        assert blocklist.check(prompt) is None, prompt


def test_longer_phrase_wins_over_word_it_starts_with() -> None:
    blocklist = words("red", "red panda")
    match = blocklist.check("a red panda")
    assert match is not None
    assert match.entry.pattern == "red panda"


def test_negative_prompt_is_checked_too() -> None:
    blocklist = words("gore")
    match = blocklist.check("a quiet forest", "GORE, blur")
    assert match is not None
    assert match.text_index == 1
    assert blocklist.check("a quiet forest", None, "") is None


@pytest.mark.parametrize("pattern", ["", "   ", "\u200b", "**", "x" * 101])
def test_invalid_word_entries_rejected(pattern: str) -> None:
    with pytest.raises(UserInputError) as info:
        compile_entry("word", pattern)
    assert len(info.value.user_message) < 100


def test_word_entry_length_limit() -> None:
    assert compile_entry("word", "x" * 100).word == "x" * 100


def test_unknown_kind_rejected() -> None:
    with pytest.raises(UserInputError, match="word"):
        compile_entry("glob", "bad")


# --- regex entries ------------------------------------------------------------------------------


def test_regex_entry_is_case_insensitive() -> None:
    blocklist = regexes(r"b[a4@]d\s+dogs?")
    assert blocklist.check("A BAD DOG") is not None
    assert blocklist.check("b4d dogs") is not None
    assert blocklist.check("good dog") is None


def test_regex_entry_sees_normalised_and_raw_text() -> None:
    # Normalised: evasions are folded before the regex runs.
    assert regexes(r"\bbad\b").check("b\u200ba**d**") is not None
    # Raw: an admin's pattern for markdown or punctuation still sees the text as typed.
    assert regexes(r"discord\.gg/\w+").check("join discord.gg/abc_def") is not None
    assert regexes(r"\|\|").check("a ||spoiler||") is not None


def test_regex_entry_match_reports_entry() -> None:
    blocklist = regexes("cat", "dog")
    match = blocklist.check("hot dog")
    assert match is not None
    assert match.entry == BlocklistEntry("regex", "dog", 2)


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a|aa)*b",
        "(.*a){20}",
        "(a*)*",
        "(a|a)*",
        "(.*)*",
        "(?:x+x+)+y",
        r"((a|aa))*",
        r"(\w)\1",
        r"(?P<w>x)(?P=w)",
        r"(?P<w>x)\g<w>",
        "(?R)?x",
    ],
)
def test_catastrophic_regexes_rejected_at_add_time(pattern: str) -> None:
    assert find_catastrophic_shape(pattern) is not None
    with pytest.raises(UserInputError) as info:
        compile_entry("regex", pattern)
    assert len(info.value.user_message) < 100


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bbad\b",
        "(cat|dog)+s",
        "(?:cat|dog)s",
        "(?:foo)?bar",
        "(a+)?b",
        r"(?:\d{3}-)?\d{4}",
        r"(?i)nsfw",
        r"[(]a+[)]+",
        r"(?<!good )bad",
        r"\p{Lu}{3,}x",
    ],
)
def test_reasonable_regexes_accepted(pattern: str) -> None:
    assert find_catastrophic_shape(pattern) is None
    assert compile_entry("regex", pattern).kind == "regex"


def test_static_screen_reads_group_headers() -> None:
    # "(?:", "(?i)" and named groups are syntax, not quantifiers.
    for pattern in ["(?:foo)+bar", "(?i)x+", "(?i:ab)+", "(?P<n>cat|dog)+", "(?<n>ab)+"]:
        assert find_catastrophic_shape(pattern) is None, pattern
    for pattern in ["(?:a+)+", "(?<n>a+)+", "(?i:a|ab)+"]:
        assert find_catastrophic_shape(pattern) is not None, pattern


def test_regex_that_is_slow_on_probe_rejected() -> None:
    # No nested group, so the static screen passes it; the add-time probe catches it.
    assert find_catastrophic_shape(r"\w*\w*\w*\d") is None
    with pytest.raises(UserInputError, match="too long"):
        compile_entry("regex", r"\w*\w*\w*\d")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(abc", "missing )"), ("a**", "multiple repeat"), ("[z-a]", "bad character range")],
)
def test_invalid_regex_rejected_with_short_message(pattern: str, reason: str) -> None:
    with pytest.raises(UserInputError) as info:
        compile_entry("regex", pattern)
    message = info.value.user_message
    assert reason in message
    assert len(message) < 100
    assert "Traceback" not in message


@pytest.mark.parametrize("pattern", ["", "x" * 201, "x*", "^", r"\b", "a|"])
def test_regex_too_long_empty_or_matching_everything_rejected(pattern: str) -> None:
    with pytest.raises(UserInputError):
        compile_entry("regex", pattern)


def test_regex_timeout_counts_as_blocked(caplog: pytest.LogCaptureFixture) -> None:
    # Stored entries skip the add-time probe, so a slow one can reach match time.
    entry = BlocklistEntry("regex", r"\w*\w*\w*\d", 7)
    blocklist = Blocklist([entry])
    with caplog.at_level(logging.WARNING, logger="bot.moderation"):
        started = time.perf_counter()
        match = blocklist.check("a" * 4000)
        elapsed = time.perf_counter() - started
    assert match == BlockMatch(entry, 0, timed_out=True)
    assert "could not be checked" in match.user_message
    assert elapsed < 30, "without the deadline this search runs for hours"
    assert any("timed out" in record.getMessage() for record in caplog.records)
    error = match.to_error()
    assert isinstance(error, RefusedError)
    assert error.user_message == match.user_message
    assert "id=7" in error.detail


def test_blocked_message_does_not_echo_the_term() -> None:
    match = words("secretword").check("a secretword here")
    assert match is not None
    assert "secretword" not in match.user_message
    assert "secretword" not in match.to_error().user_message


def test_stored_entries_that_no_longer_validate_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = [BlocklistEntry("regex", "(a+)+", 1), BlocklistEntry("word", "bad", 2)]
    with caplog.at_level(logging.ERROR, logger="bot.moderation"):
        blocklist = Blocklist(entries)
    assert len(blocklist) == 1
    assert [e.id for e, _ in blocklist.rejected] == [1]
    assert blocklist.check("bad") is not None
    assert "skipping blocklist entry id=1" in caplog.text


def test_empty_blocklist_allows_everything() -> None:
    assert Blocklist([]).check("anything at all", "and more") is None


@settings(RELAXED, max_examples=50)
@given(ANY_TEXT, st.one_of(st.none(), ANY_TEXT))
def test_check_finds_a_blocked_word_whatever_surrounds_it(
    prompt: str, negative: str | None
) -> None:
    in_prompt = MIXED.check(prompt)
    found = MIXED.check(prompt, f"{negative or ''} bad")
    assert found is not None and not found.timed_out
    if in_prompt is not None:
        assert found == in_prompt  # the prompt is checked before the negative prompt
    else:
        assert found.text_index == 1
        assert found.entry.kind == "regex" or found.entry.pattern in ("bad", "red panda")


def test_check_handles_nul_and_long_text() -> None:
    assert MIXED.check("\x00" * 10_000) is None
    assert MIXED.check("x\x00y " * 2_500, "\x00") is None
    assert MIXED.check("\x00" * 5_000 + " bad " + "\x00" * 5_000) is not None
    random_text = "".join(random.Random(1).choices(string.printable + "é\u200bа", k=10_000))
    assert MIXED.check(random_text) is None
    found = MIXED.check(random_text[:5_000] + " bad " + random_text[5_000:])
    assert found is not None and found.entry.pattern == "bad" and not found.timed_out


MIXED = Blocklist(
    [
        compile_entry("word", "bad"),
        compile_entry("word", "red panda"),
        compile_entry("regex", r"b[a4]d\s*dogs?"),
        compile_entry("regex", r"(cat|dog)+s"),
    ]
)


def test_performance_200_entries_on_4000_chars() -> None:
    rng = random.Random(42)

    def word() -> str:
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10)))

    entries = [BlocklistEntry("word", word(), i) for i in range(170)]
    entries += [BlocklistEntry("word", f"{word()} {word()}", 200 + i) for i in range(20)]
    entries += [BlocklistEntry("regex", rf"\b{word()}\w*\b", 300 + i) for i in range(10)]
    blocklist = Blocklist(entries)
    assert len(blocklist) == 200
    prompt = " ".join(word() for _ in range(700))[:4000]
    blocked = {e.pattern for e in entries}
    prompt_words = set(prompt.split())
    blocklist.check(prompt)  # warm up
    started = time.perf_counter()
    for _ in range(5):
        match = blocklist.check(prompt, prompt)
    per_check = (time.perf_counter() - started) / 5
    assert per_check < 0.5
    if match is not None:  # random words may collide; a reported match must be a real one
        assert match.entry.pattern in blocked
        assert match.entry.kind == "regex" or match.entry.pattern.split()[0] in prompt_words


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime.timedelta(minutes=30)),
        ("2h", datetime.timedelta(hours=2)),
        ("7d", datetime.timedelta(days=7)),
        ("1w", datetime.timedelta(weeks=1)),
        ("1h30m", datetime.timedelta(hours=1, minutes=30)),
        ("1h 30m", datetime.timedelta(hours=1, minutes=30)),
        (" 2D 4H ", datetime.timedelta(days=2, hours=4)),
        ("90s", datetime.timedelta(seconds=90)),
        ("60s", datetime.timedelta(minutes=1)),
        ("1m", datetime.timedelta(minutes=1)),
        ("365d", datetime.timedelta(days=365)),
        ("52w 1d", datetime.timedelta(days=365)),
        ("3 days", datetime.timedelta(days=3)),
        ("45 minutes", datetime.timedelta(minutes=45)),
    ],
)
def test_parse_duration_valid(text: str, expected: datetime.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "30", "m", "30x", "1h1h", "-5m", "1.5h", "5m and", "h30", "9" * 50 + "d"],
)
def test_parse_duration_invalid(text: str) -> None:
    with pytest.raises(UserInputError) as info:
        parse_duration(text)
    assert info.value.user_message == "Use a duration like 30m, 2h or 7d."


@pytest.mark.parametrize(("text", "word"), [("59s", "shortest"), ("0m", "shortest")])
def test_parse_duration_too_short(text: str, word: str) -> None:
    with pytest.raises(UserInputError, match=word):
        parse_duration(text)


@pytest.mark.parametrize("text", ["366d", "53w", "8761h", "999999999d"])
def test_parse_duration_too_long(text: str) -> None:
    with pytest.raises(UserInputError, match="longest"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (datetime.timedelta(minutes=30), "30m"),
        (datetime.timedelta(hours=1, minutes=30), "1h 30m"),
        (datetime.timedelta(days=9, hours=3), "1w 2d 3h"),
        (datetime.timedelta(seconds=90), "1m 30s"),
        (datetime.timedelta(0), "0s"),
    ],
)
def test_format_duration(td: datetime.timedelta, text: str) -> None:
    assert format_duration(td) == text


@RELAXED
@given(st.integers(min_value=60, max_value=int(MAX_DURATION.total_seconds())))
def test_format_duration_round_trips(seconds: int) -> None:
    td = datetime.timedelta(seconds=seconds)
    assert parse_duration(format_duration(td)) == td


# --- timezones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Europe/Paris", "Europe/Paris"),
        ("europe/paris", "Europe/Paris"),
        ("  AMERICA/NEW_YORK ", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
    ],
)
def test_validate_timezone_accepts_iana_names(name: str, expected: str) -> None:
    assert validate_timezone(name) == expected


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "Europe/", "../../etc/passwd", "CEST+2"])
def test_validate_timezone_rejects_unknown(name: str) -> None:
    with pytest.raises(UserInputError) as info:
        validate_timezone(name)
    message = info.value.user_message
    assert message.startswith("Unknown timezone")
    assert message.endswith("use an IANA name like Europe/Paris.")


def test_validate_timezone_error_is_short_and_inert() -> None:
    with pytest.raises(UserInputError) as info:
        validate_timezone("**@everyone** <@&123> " + "x" * 500)
    message = info.value.user_message
    assert len(message) < 120
    assert "@everyone" not in message
    assert "<@&" not in message
    assert "\\*\\*" in message


# --- sanitize_for_display -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("hi @everyone", "@everyone"),
        ("hi @here", "@here"),
        ("ping <@123456789>", "<@1"),
        ("ping <@!123456789>", "<@!"),
        ("role <@&123456789>", "<@&"),
        ("chan <#123456789>", "<#"),
    ],
)
def test_sanitize_neutralises_mentions(text: str, forbidden: str) -> None:
    out = sanitize_for_display(text, 200)
    assert forbidden not in out
    assert out.replace("\u200b", "") == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold** _it_ ~~s~~ ||sp|| `c`", r"\*\*bold\*\* \_it\_ \~\~s\~\~ \|\|sp\|\| \`c\`"),
        ("a\\b", "a\\\\b"),
        ("[click](https://evil.example)", r"\[click\](https://evil.example)"),
        ("> quote\n# head\n- item", "\\> quote\n\\# head\n\\- item"),
        ("well-known #1 > 2", "well-known #1 > 2"),
    ],
)
def test_sanitize_escapes_markdown(text: str, expected: str) -> None:
    assert sanitize_for_display(text, 200) == expected


def test_sanitize_removes_bidi_and_control_characters() -> None:
    text = "abc\u202edcba\u2066x\u2069\u200e\x00\x07\x1b[31m\ud800 end\tend"
    out = sanitize_for_display(text, 200)
    assert out == "abcdcbax\\[31m end end"


def test_sanitize_truncates_with_ellipsis() -> None:
    assert sanitize_for_display("short", 10) == "short"
    assert sanitize_for_display("x" * 10, 10) == "x" * 10
    out = sanitize_for_display("x" * 50, 10)
    assert out == "x" * 9 + "…"
    # An escape is never cut in half.
    out = sanitize_for_display("ab" + "*" * 20, 7)
    assert len(out) <= 7
    assert out == "ab\\*\\*…"
    with pytest.raises(ValueError):
        sanitize_for_display("x", 0)


@RELAXED
@given(ANY_TEXT, st.integers(min_value=1, max_value=300))
def test_sanitize_never_exceeds_limit_or_leaks_mentions(text: str, limit: int) -> None:
    out = sanitize_for_display(text, limit)
    assert len(out) <= limit
    assert "@everyone" not in out
    assert "@here" not in out
    assert "<@" not in out
    assert "<#" not in out
    assert not any(ch in out for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "\x00" not in out
