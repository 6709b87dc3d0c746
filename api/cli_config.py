"""Where the command line finds the service and keeps its files, from any directory.

* The service's URL: ``--server``, else ``GUARDREG_PUBLIC_BASE_URL``, else the URL that
  ``guardreg serve`` last recorded for this user (``server.json`` in the per-user state
  directory), else the default ``http://127.0.0.1:8000``.
* The offline cache of ``guardreg sync``: ``--cache``, else ``<user cache>/offline-cache``
  (``$XDG_CACHE_HOME/guardreg`` or ``~/.cache/guardreg``), never the current directory.
* Trust anchors for that cache: pinned with ``--anchor``, else the service's own
  trust-list keys (when its key directory is on this machine), else the anchors that
  ``guardreg serve`` recorded with its URL: the file is the user's own, written by the
  user's own server, so it is as trustworthy as the key directory it was read from.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from registry.settings import DEFAULT_BASE_URL, Settings

STATE_FILE = "server.json"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / "guardreg"


def user_state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def user_cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def served_url(host: str, port: int, *, tls: bool = False) -> tuple[str, str | None]:
    """The base URL a server on ``host:port`` answers at, and a warning when the host is a
    wildcard address (clients cannot reach ``0.0.0.0``: the machine's name stands in)."""
    scheme = "https" if tls else "http"
    warning = None
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        name = socket.getfqdn() or socket.gethostname()
        warning = (f"serving on {host or '*'} without GUARDREG_PUBLIC_BASE_URL: certificates "
                   f"and lists will name {scheme}://{name}:{port}; set the variable to the "
                   "address checkpoints actually reach")
        host = name
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}", warning


def record_server(url: str, *, anchors: list[str], data_dir: Path) -> Path:
    """Remember the running service for this user's later commands."""
    directory = user_state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "anchors": anchors,
                               "data_dir": str(data_dir.resolve())}))
    tmp.replace(path)
    return path


def recorded_server() -> dict[str, Any]:
    path = user_state_dir() / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def base_url(server: str | None, settings: Settings) -> str:
    if server:
        return server.rstrip("/")
    if settings.public_base_url:
        return settings.base_url
    url = recorded_server().get("url")
    return url.rstrip("/") if isinstance(url, str) and url else DEFAULT_BASE_URL


def cache_dir(value: str | None) -> Path:
    return Path(value) if value else user_cache_dir() / "offline-cache"


def recorded_anchors() -> list[str]:
    anchors = recorded_server().get("anchors")
    return [a for a in anchors if isinstance(a, str)] if isinstance(anchors, list) else []
