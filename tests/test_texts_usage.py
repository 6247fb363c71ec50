"""Every sentence a user reads comes from bot/texts.py: a scan of the source, not of behaviour.

The scan looks at what reaches Discord (send, edit, respond calls, embeds and their fields) and at
what an ``ImagenError`` carries (its message argument, a class's ``default_message``), and fails
on a string literal there: an f-string, a literal, or a module constant holding one. A text from
``bot.texts`` is a call, so it passes.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import bot
import cogs
from bot.errors import ImagenError

ROOT: Final = Path(__file__).resolve().parent.parent
SCANNED: Final = ("bot", "cogs")
HOME: Final = "bot/texts.py"

# A call by this name sends or edits what users read; the set says which of its arguments do
# ("*" is every positional argument).
DISCORD_CALLS: Final[dict[str, frozenset[str]]] = {
    "send": frozenset({"*", "content"}),
    "send_message": frozenset({"*", "content"}),
    "send_ephemeral": frozenset({"*", "message"}),
    "edit": frozenset({"content"}),
    "edit_message": frozenset({"content"}),
    "edit_original_response": frozenset({"content"}),
    "reply": frozenset({"*", "content"}),
    "respond": frozenset({"*", "content"}),
    "Embed": frozenset({"title", "description"}),
    "add_field": frozenset({"name", "value"}),
    "set_footer": frozenset({"text"}),
    "set_author": frozenset({"name"}),
}
ERROR_ARGUMENTS: Final = frozenset({"*", "user_message"})


def imagen_errors() -> frozenset[str]:
    """The names of ImagenError and every subclass the bot and its cogs define."""
    for package in (bot, cogs):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name != "bot.__main__":
                importlib.import_module(module.name)
    names: set[str] = set()
    pending: list[type] = [ImagenError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(names)


def _is_user_literal(node: ast.expr, constants: dict[str, ast.expr]) -> bool:
    """A string built here rather than taken from bot.texts: literal, f-string, or a constant."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and any(ch.isalpha() for ch in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(_is_user_literal(part, constants) for part in node.values)
    if isinstance(node, ast.BinOp):
        return _is_user_literal(node.left, constants) or _is_user_literal(node.right, constants)
    if isinstance(node, ast.IfExp):
        return _is_user_literal(node.body, constants) or _is_user_literal(node.orelse, constants)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and (
            node.func.attr == "format"  # "...".format(...)
        )
    ):
        return _is_user_literal(node.func.value, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return _is_user_literal(constants[node.id], constants)
    return False


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    constants: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Name):
            constants[target.id] = value
    return constants


def user_literals(source: str, errors: frozenset[str]) -> Iterator[tuple[int, str]]:
    """(line, what) for each user-facing string in ``source`` that does not come from bot.texts."""
    tree = ast.parse(source)
    constants = _module_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id in errors for base in node.bases
        ):
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign | ast.AnnAssign)
                    and stmt.value is not None
                    and any(
                        isinstance(t, ast.Name) and t.id == "default_message"
                        for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                    )
                    and _is_user_literal(stmt.value, constants)
                ):
                    yield stmt.lineno, f"{node.name}.default_message"
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name is None:
            continue
        wanted = ERROR_ARGUMENTS if name in errors else DISCORD_CALLS.get(name)
        if wanted is None:
            continue
        args: list[ast.expr] = list(node.args) if "*" in wanted else []
        args += [kw.value for kw in node.keywords if kw.arg in wanted]
        if any(_is_user_literal(arg, constants) for arg in args):
            yield node.lineno, f"{name}(...)"


def scanned_files() -> list[str]:
    files = []
    for top in SCANNED:
        files += [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / top).rglob("*.py"))]
    return files


def test_every_user_facing_string_comes_from_bot_texts() -> None:
    errors = imagen_errors()
    found = []
    for path in scanned_files():
        if path == HOME:
            continue
        source = (ROOT / path).read_text(encoding="utf-8")
        found += [f"{path}:{line}: {what}" for line, what in sorted(user_literals(source, errors))]
    assert found == [], "user-facing strings outside bot/texts.py:\n" + "\n".join(found)


SAMPLE = """
from bot import texts
from bot.errors import RefusedError, ImagenError

GREETING = "Hello there"

class LateError(ImagenError):
    default_message = "Too late, sorry"

class FineError(ImagenError):
    default_message = texts.APOLOGY

async def handler(interaction, channel, embed, n):
    await interaction.response.send_message("Done!", ephemeral=True)
    await interaction.followup.send(content=f"{n} images")
    await channel.send(GREETING)
    embed.add_field(name="Models", value=texts.APOLOGY())
    await interaction.edit_original_response(content=texts.APOLOGY())
    await channel.send("\\n".join(["a"]))
    raise RefusedError("No " + str(n))

def fine():
    raise RefusedError(texts.APOLOGY(), detail="for the log only")
"""


def test_the_scan_finds_each_kind_of_literal() -> None:
    found = sorted(user_literals(SAMPLE, frozenset({"ImagenError", "RefusedError", "LateError"})))
    assert found == [
        (8, "LateError.default_message"),
        (14, "send_message(...)"),
        (15, "send(...)"),
        (16, "send(...)"),
        (17, "add_field(...)"),
        (20, "RefusedError(...)"),
    ]
