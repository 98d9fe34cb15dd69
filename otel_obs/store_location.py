"""Where a store is: a SQLite file (a path) or a PostgreSQL database (a ``postgresql://`` URL).

One value says it everywhere (``OTEL_OBS_DB``, ``--db``, ``configure(db_path=...)``):
a text that starts ``postgresql://`` or ``postgres://`` is a libpq URL, anything
else a path. A :class:`ServerStore` never shows its password: ``str()`` and
``repr()`` print the URL without it, so a log line, an error or a statistics
dump can name the store safely. The password comes from the URL, ``PGPASSWORD``
or ``~/.pgpass``, as libpq finds it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

#: The URL schemes of a PostgreSQL store (libpq's own).
SCHEMES = ("postgresql://", "postgres://")
#: A text that opens like a URL (``scheme:/``; two letters at least, so ``C:/`` stays a
#: path): taken for a path it would become folders named after the URL, password and all.
_URL_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")
#: How a writer process is given a PostgreSQL URL: its environment (readable only by
#: its user), never its command line (which every user of the machine can read).
CHILD_URL_ENV = "OTEL_OBS_WRITER_DB_URL"


@dataclass(frozen=True)
class ServerStore:
    """A PostgreSQL database, by its libpq URL (kept whole; shown without the password)."""

    url: str = field(repr=False)
    host: str
    port: int | None
    dbname: str
    user: str | None

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"ServerStore({self.display!r})"

    @property
    def display(self) -> str:
        """The URL without its password (and without query options that may hold one)."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{self.host}{port}/{self.dbname}"

    @property
    def name(self) -> str:
        """The database's name (what a file's name is to a SQLite store)."""
        return self.dbname

    @property
    def where(self) -> str:
        """``database "NAME" on HOST:PORT``, for messages."""
        port = f":{self.port}" if self.port else ""
        return f'database "{self.dbname}" on {self.host}{port}'


#: What ``OTEL_OBS_DB`` / ``--db`` / ``db_path`` names.
StoreLocation = Path | ServerStore
#: What the store's constructors take for it: a path, a URL text, or a parsed location.
StoreArg = str | os.PathLike[str] | ServerStore


def is_server_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(SCHEMES)


def parse_server_url(text: str, source: str = "store URL") -> ServerStore:
    """``text`` as a :class:`ServerStore`; a ``ValueError`` says what is wrong, not the password."""
    text = text.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{source}: malformed PostgreSQL URL ({exc})") from None
    shown = _without_password(parts.hostname or "", port, parts.username, parts.path)
    options = dict(parse_qsl(parts.query))
    host = parts.hostname or options.get("host") or os.environ.get("PGHOST") or ""
    dbname = unquote(parts.path.lstrip("/")) or options.get("dbname") or ""
    if not host:
        raise ValueError(f"{source}: PostgreSQL URL {shown} names no host")
    if not dbname:
        raise ValueError(f"{source}: PostgreSQL URL {shown} names no database")
    if "/" in dbname:
        raise ValueError(f"{source}: PostgreSQL URL {shown} has a malformed database name")
    user = unquote(parts.username) if parts.username else options.get("user")
    return ServerStore(url=text, host=host, port=port, dbname=dbname, user=user)


def _without_password(host: str, port: int | None, user: str | None, path: str) -> str:
    user_part = f"{unquote(user)}@" if user else ""
    port_part = f":{port}" if port else ""
    return f"postgresql://{user_part}{host}{port_part}{path}"


def written_reference(location: StoreLocation) -> str:
    """The store as written into files others read (skills, MCP configuration): a file's
    absolute path, a server's URL without its password (libpq finds it in
    ``PGPASSWORD`` or ``~/.pgpass`` when the command runs)."""
    if isinstance(location, ServerStore):
        return location.display
    return str(Path(location).resolve())


def store_location(value: Any, source: str) -> StoreLocation:
    """The check of ``OTEL_OBS_DB`` / ``--db`` / ``db_path``: a path or a :class:`ServerStore`."""
    if isinstance(value, ServerStore):
        return value
    if is_server_url(value):
        return parse_server_url(value, source)
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise ValueError(f"{source} must be a path or a postgresql:// URL, got {value!r}")
    url_like = _URL_LIKE.match(str(value).strip()) if isinstance(value, str) else None
    if url_like:
        scheme = url_like.group(1)
        hint = (
            "write postgresql://HOST/DATABASE"
            if scheme.lower() in ("postgresql", "postgres")
            else "a SQLite store is named by its path"
            if scheme.lower() == "sqlite"
            else "the stores are a SQLite path or a postgresql:// URL"
        )
        raise ValueError(f"{source}: unsupported store URL scheme {scheme + ':'!r} ({hint})")
    return Path(value).expanduser()


__all__ = [
    "CHILD_URL_ENV",
    "SCHEMES",
    "ServerStore",
    "StoreArg",
    "StoreLocation",
    "is_server_url",
    "parse_server_url",
    "store_location",
    "written_reference",
]
