#!/bin/sh
# Regenerates requirements.lock, which the container build installs from: every dependency of
# pyproject.toml and its build backend, pinned with sha256 hashes, for every platform and for
# Python 3.11 and later (the image's base is python:3.12-slim). Needs uv (pip install uv).
#   scripts/update-lock.sh             after changing pyproject.toml (other pins are kept)
#   scripts/update-lock.sh --upgrade   everything to the newest releases
set -eu
cd "$(dirname "$0")/.."
python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' |
    "${UV:-uv}" pip compile pyproject.toml - --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "scripts/update-lock.sh" --output-file requirements.lock "$@"
