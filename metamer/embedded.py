"""The one explicit step that prepares the embedded defaults: the folders under ``var/`` and a
secret key kept there. ``manage.py``, the WSGI/ASGI entry points and the Makefile run it;
settings only read what it made. Production (``METAMER_MODE=production``) needs none of it.

Run it alone with ``python -m metamer.embedded``.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    return Path(os.environ.get("METAMER_VAR_DIR", BASE_DIR / "var"))


def secret_key_path() -> Path:
    return var_dir() / "secret_key"


def prepare() -> None:
    """Make ``var/`` (owner-only), its media, static and cache folders, and the secret key,
    unless they exist; safe for processes that start side by side."""
    if os.environ.get("METAMER_MODE", "embedded") == "production":
        return
    # Everything this process writes (the SQLite file and its -wal/-shm, which hold sessions
    # and API tokens; uploads; reports) is the owner's alone.
    os.umask(0o077)
    root = var_dir()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    for database in root.glob("*.sqlite3*"):
        database.chmod(0o600)
    for sub in ("static", "cache"):
        (root / sub).mkdir(exist_ok=True)
    Path(os.environ.get("MEDIA_ROOT", root / "media")).mkdir(parents=True, exist_ok=True)
    path = secret_key_path()
    if path.exists():
        return
    fd, written = tempfile.mkstemp(dir=root, prefix=".secret_key")  # mode 0600
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(50))
    # A hard link appears whole and never replaces a key already there: processes starting
    # side by side on a fresh checkout (test workers, gunicorn) all end up reading one key.
    try:
        os.link(written, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(written)


if __name__ == "__main__":
    prepare()
