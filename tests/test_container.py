"""Builds the container image with podman and checks it from the outside and from the inside.

Slow and needs root, podman and debootstrap, so it runs only when asked
(``IMAGEN_CONTAINER_TESTS=1``) or in CI. There is no registry here: a local stand-in for
``python:3.12-slim`` is bootstrapped from Debian once and cached (rootfs under /var/tmp, image
``localhost/imagen-pybase:bookworm``). ``podman run`` cannot work on this kind of host, so
commands run with ``chroot`` inside a mounted container filesystem.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "localhost/imagen-pybase:bookworm"
BASE_ROOTFS = Path("/var/tmp/imagen-bot-pybase")
IMAGE = "localhost/imagen-bot:test"
MIRROR = os.environ.get("IMAGEN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
UID = 10001
VENV_PATH = "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"

TIMINGS: dict[str, float] = {}


def _why_skip() -> str | None:
    missing = [tool for tool in ("podman", "debootstrap", "chroot") if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (apt-get install -y podman debootstrap)"
    if os.geteuid() != 0:
        return "needs root (debootstrap, podman mount, chroot)"
    if os.environ.get("IMAGEN_CONTAINER_TESTS") != "1" and not os.environ.get("CI"):
        return "slow: set IMAGEN_CONTAINER_TESTS=1 (or CI) to build the image"
    return None


_SKIP = _why_skip()
pytestmark = [pytest.mark.container, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]


def run(
    args: list[str], *, timeout: float, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise AssertionError(f"{' '.join(args[:4])} ... exited {result.returncode}:\n{tail}")
    return result


def image_exists(name: str) -> bool:
    return run(["podman", "image", "exists", name], timeout=60, check=False).returncode == 0


def ensure_base_image() -> None:
    """debootstrap a Debian bookworm with Python once; later runs reuse the imported image."""
    if image_exists(BASE_IMAGE):
        TIMINGS["debootstrap"] = 0.0
        return
    marker = BASE_ROOTFS / ".imagen-complete"
    started = time.monotonic()
    if not marker.exists():
        staging = BASE_ROOTFS.with_name(BASE_ROOTFS.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates",
                "bookworm",
                str(staging),
                MIRROR,
            ],
            timeout=900,
        )
        # The official python image has no such marker; pip inside a venv ignores it anyway.
        for managed in staging.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            managed.unlink()
        shutil.rmtree(staging / "var/cache/apt/archives", ignore_errors=True)
        trust_host_cas(staging)
        (staging / ".imagen-complete").touch()
        shutil.rmtree(BASE_ROOTFS, ignore_errors=True)
        staging.rename(BASE_ROOTFS)
    TIMINGS["debootstrap"] = time.monotonic() - started
    started = time.monotonic()
    tar = subprocess.Popen(
        ["tar", "-C", str(BASE_ROOTFS), "--exclude=./.imagen-complete", "-c", "."],
        stdout=subprocess.PIPE,
    )
    try:
        result = subprocess.run(
            ["podman", "import", "-", BASE_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    TIMINGS["import"] = time.monotonic() - started


def trust_host_cas(rootfs: Path) -> None:
    """Let the stand-in base trust the host's extra CAs (a TLS-inspecting egress proxy, say),
    as a company's own base image would; the Dockerfile itself stays free of such settings."""
    extra = sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []
    if not extra:
        return
    target = rootfs / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for cert in extra:
        shutil.copyfile(cert, target / cert.name)
    run(["chroot", str(rootfs), "update-ca-certificates"], timeout=300)


def podman_build(context: Path, tag: str, *extra: str) -> None:
    run(
        [
            "podman",
            "build",
            "--isolation",
            "chroot",
            # The OCI format has no HEALTHCHECK; Docker builds this format too.
            "--format",
            "docker",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            tag,
            *extra,
            str(context),
        ],
        timeout=1800,
    )


@pytest.fixture(scope="module")
def image() -> Iterator[dict[str, Any]]:
    started = time.monotonic()
    ensure_base_image()
    build_started = time.monotonic()
    podman_build(ROOT, IMAGE)
    TIMINGS["build"] = time.monotonic() - build_started
    inspected = json.loads(run(["podman", "image", "inspect", IMAGE], timeout=60).stdout)[0]
    TIMINGS["setup total"] = time.monotonic() - started
    print("\ncontainer test timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))
    yield inspected


@pytest.fixture(scope="module")
def rootfs(image: dict[str, Any]) -> Iterator[Path]:
    """A writable, mounted filesystem of a container created from the image."""
    cid = run(["podman", "create", IMAGE], timeout=120).stdout.strip()
    try:
        mount = Path(run(["podman", "mount", cid], timeout=120).stdout.strip())
        try:
            yield mount
        finally:
            run(["podman", "umount", cid], timeout=120, check=False)
    finally:
        run(["podman", "rm", "-f", cid], timeout=120, check=False)


def in_image(
    mount: Path, script: str, env: dict[str, str], *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` as uid/gid 10001 with exactly ``env``, from /app, like the image would."""
    assignments = [f"{k}={v}" for k, v in env.items()]
    return run(
        [
            "chroot",
            f"--userspec={UID}:{UID}",
            str(mount),
            "/usr/bin/env",
            "-i",
            *assignments,
            "sh",
            "-c",
            f"cd /app && {script}",
        ],
        timeout=timeout,
        check=False,
    )


# -- the image's configuration ----------------------------------------------------------------


def config(image: dict[str, Any]) -> dict[str, Any]:
    value = image["Config"]
    assert isinstance(value, dict)
    return value


def healthcheck(image: dict[str, Any]) -> dict[str, Any]:
    found = config(image).get("Healthcheck") or image.get("HealthCheck") or image.get("Healthcheck")
    assert found, "the image has no HEALTHCHECK (built in OCI format?)"
    assert isinstance(found, dict)
    return found


def test_image_config(image: dict[str, Any]) -> None:
    cfg = config(image)
    assert cfg.get("User") in {"imagen", str(UID), f"{UID}:{UID}"}
    assert "/data" in (cfg.get("Volumes") or {})
    env = dict(item.split("=", 1) for item in cfg["Env"])
    assert env["DATABASE_PATH"] == "/data/imagen-bot.sqlite3"
    assert env["HEALTH_PORT"] == "8080"
    assert env["HEALTH_HOST"] == "0.0.0.0"  # inside the container; published on 127.0.0.1
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert cfg["Entrypoint"] == ["python", "-m", "bot"]
    assert cfg["Cmd"] == ["run"]
    assert cfg.get("WorkingDir") == "/app"
    assert "8080/tcp" in (cfg.get("ExposedPorts") or {})


def test_healthcheck_is_valid_python(image: dict[str, Any]) -> None:
    test = healthcheck(image)["Test"]
    assert test[0] == "CMD", "exec form: no shell needed"
    assert test[1:3] == ["/opt/venv/bin/python", "-c"]
    compile(test[3], "<HEALTHCHECK>", "exec")
    assert "/healthz" in test[3] and "HEALTH_PORT" in test[3]
    assert "curl" not in json.dumps(test)


# -- the filesystem ---------------------------------------------------------------------------


def test_package_installed_in_venv_without_tests_or_secrets(rootfs: Path) -> None:
    site = list(rootfs.glob("opt/venv/lib/python3*/site-packages"))
    assert len(site) == 1
    for path in ("bot/__init__.py", "bot/__main__.py", "bot/py.typed", "cogs/__init__.py"):
        assert (site[0] / path).is_file(), path
    assert list((site[0] / "bot" / "storage" / "sqlite" / "migrations").glob("0001_*.sql"))
    for language in ("de", "fr", "es", "pt_BR", "ja"):
        assert (site[0] / "bot" / "locales" / language / "LC_MESSAGES" / "imagen.mo").is_file()
    assert not (site[0] / "tests").exists()
    assert not (rootfs / "src").exists(), "the builder stage's sources leaked into the image"
    assert list((rootfs / "app").iterdir()) == []
    for top in ("app", "opt", "root", "tmp"):
        for found in (rootfs / top).rglob("*"):
            assert found.name not in {".env", ".git"}, found
            assert ".sqlite3" not in found.name, found
    for package in ("bot", "cogs"):
        assert not list((site[0] / package).rglob("test_*")), "tests were packaged"
    data = (rootfs / "data").stat()
    assert (data.st_uid, data.st_gid) == (UID, UID)

    result = in_image(
        rootfs,
        "python -c 'import bot, cogs, bot.health, bot.metrics, bot.storage, discord, aiohttp, "
        "aiosqlite, dotenv, PIL, regex, prometheus_client, tzdata; print(bot.__file__)'",
        {"PATH": VENV_PATH},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("/opt/venv/lib/python3")


def test_check_offline_as_the_image_user(rootfs: Path) -> None:
    env = {
        "PATH": VENV_PATH,
        "DATABASE_PATH": "/data/imagen-bot.sqlite3",
        "DISCORD_TOKEN": "x.y.z",
        "AIMLAPI_KEY": "k",
    }
    result = in_image(rootfs, "python -m bot check --offline", env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok") and "configuration" in line for line in lines), lines
    assert any(line.startswith("ok") and "database" in line for line in lines), lines
    database = rootfs / "data" / "imagen-bot.sqlite3"
    info = database.stat()
    assert (info.st_uid, info.st_gid) == (UID, UID)
    assert stat.S_IMODE(info.st_mode) == 0o600

    missing = in_image(rootfs, "python -m bot check --offline", {"PATH": VENV_PATH})
    assert missing.returncode != 0
    assert "DISCORD_TOKEN" in missing.stderr


def test_runs_on_a_read_only_root(rootfs: Path, tmp_path: Path) -> None:
    """As Compose runs it (read_only, a tmpfs on /tmp): the bot writes only /data and /tmp."""
    root, data, scratch = tmp_path / "root", tmp_path / "data", tmp_path / "tmp"
    for folder in (root, data, scratch):
        folder.mkdir()
    os.chown(data, UID, UID)
    scratch.chmod(0o1777)
    mounted: list[Path] = []
    try:
        run(["mount", "--bind", str(rootfs), str(root)], timeout=60)
        mounted.append(root)
        run(["mount", "-o", "remount,bind,ro", str(root)], timeout=60)
        for source, target in ((data, root / "data"), (scratch, root / "tmp")):
            run(["mount", "--bind", str(source), str(target)], timeout=60)
            mounted.append(target)
        env = {
            "PATH": VENV_PATH,
            "PYTHONDONTWRITEBYTECODE": "1",
            "DATABASE_PATH": "/data/imagen-bot.sqlite3",
            "DISCORD_TOKEN": "x.y.z",
            "AIMLAPI_KEY": "k",
        }
        reencode = (
            "import io; from PIL import Image; from bot import images; b = io.BytesIO(); "
            "Image.effect_noise((256, 256), 64).save(b, 'PNG'); "
            "print(images.fit_to_limit(b.getvalue(), 4096)[1].extension)"
        )
        # Even root can't write there: the mount, not the file modes, keeps it read-only.
        denied = run(["chroot", str(root), "/usr/bin/touch", "/opt/x"], timeout=60, check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr
        script = (
            f"python -m bot check --offline && python -c {shlex_quote(reencode)} "
            "&& touch /tmp/scratch"
        )
        result = in_image(root, script, env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "database" in result.stdout and result.stdout.split()[-1] in {"webp", "jpg"}
        assert (data / "imagen-bot.sqlite3").is_file()
    finally:
        for target in reversed(mounted):
            run(["umount", str(target)], timeout=60, check=False)


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = 200 if self.path == "/healthz" and type(self).status == 200 else 503
        self.send_response(code)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_healthcheck_command_runs_in_the_image(image: dict[str, Any], rootfs: Path) -> None:
    """The image's own probe, with the image's Python, against a server on a free port."""
    test = healthcheck(image)["Test"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        env = {"PATH": VENV_PATH, "HEALTH_PORT": str(port), "HTTP_PROXY": "http://10.255.255.1:9"}
        script = f"{test[1]} -c {shlex_quote(test[3])}"
        _Health.status = 200
        assert in_image(rootfs, script, env, timeout=30).returncode == 0
        _Health.status = 503
        assert in_image(rootfs, script, env, timeout=30).returncode != 0
        server.shutdown()
        server.server_close()
        assert in_image(rootfs, script, env, timeout=30).returncode != 0  # refused
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def shlex_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


# -- the build context ------------------------------------------------------------------------


def test_dockerignore_keeps_secrets_and_tests_out_of_the_context(tmp_path: Path) -> None:
    """Build a copy of the project with planted files; only the allowed sources get through."""
    ensure_base_image()
    context = tmp_path / "context"
    shutil.copytree(
        ROOT,
        context,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "*_cache", "__pycache__", "*.sqlite3*", ".env", "data"
        ),
    )
    planted = [
        ".env",
        ".env.local",
        "bot/.env",
        "data/imagen-bot.sqlite3",
        "imagen-bot.sqlite3-wal",
        "bot/__pycache__/x.cpython-311.pyc",
        ".git/config",
        ".venv/pyvenv.cfg",
        ".venv-ci/pyvenv.cfg",
        "tests/test_planted.py",
        "bench/planted.py",
    ]
    for name in planted:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("planted\n")
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text(f"FROM {BASE_IMAGE}\nCOPY . /ctx\n")
    tag = "localhost/imagen-bot-context:test"
    try:
        podman_build(context, tag, "-f", str(containerfile))
        cid = run(["podman", "create", tag, "/bin/true"], timeout=120).stdout.strip()
        try:
            mount = Path(run(["podman", "mount", cid], timeout=120).stdout.strip())
            try:
                copied = {str(p.relative_to(mount / "ctx")) for p in (mount / "ctx").rglob("*")}
            finally:
                run(["podman", "umount", cid], timeout=120, check=False)
        finally:
            run(["podman", "rm", "-f", cid], timeout=120, check=False)
    finally:
        run(["podman", "rmi", "-f", tag], timeout=120, check=False)
    assert {"pyproject.toml", "bot/__init__.py", "cogs/__init__.py"} <= copied
    for name in planted:
        assert name not in copied, name
    allowed = {"pyproject.toml", "requirements.lock", "README.md", "bot", "cogs"}
    assert {c.split("/")[0] for c in copied} <= allowed
