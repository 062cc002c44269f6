"""Where uploaded photos live: content-addressed files behind a small interface.

Keys name content, not uploads: ``<sha256>.<ext>`` for a photo and ``<sha256>_thumb.jpg``
for its thumbnail, where the hash is that of the stored (cleaned) photo. The same picture
uploaded twice is stored once, a stored file never changes (so it can be cached forever), and
a key is also its own ETag.

:class:`LocalStorage` keeps them on the local disk. Object storage can be added later as
another class with the same methods (``put``, ``open``, ``exists``, ``delete``, ``url_path``).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# The only keys there are: anything else (``..``, slashes, upper case) is refused before
# it comes near a file system path.
KEY_RE = re.compile(r"^(?P<sha>[0-9a-f]{64})(?:\.(?P<ext>jpg|png|webp)|(?P<thumb>_thumb\.jpg))$")

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class InvalidKey(ValueError):
    """A key that does not have the shape of a stored file's key."""


def image_key(sha256: str, ext: str) -> str:
    """The key of a stored photo."""
    return check_key(f"{sha256}.{ext}")


def thumb_key(sha256: str) -> str:
    """The key of a stored photo's thumbnail (always JPEG)."""
    return check_key(f"{sha256}_thumb.jpg")


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid storage key, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise InvalidKey(f"invalid storage key: {key!r}")
    return key


def content_type(key: str) -> str:
    """The MIME type of the file a key names (from the key: we chose it when storing)."""
    match = KEY_RE.match(check_key(key))
    return "image/jpeg" if match["thumb"] else CONTENT_TYPES[match["ext"]]


class LocalStorage:
    """Files under ``root``, fanned out by the first two hex digits of the hash."""

    def __init__(self, root: str | os.PathLike):
        # Absolute now, so a relative ``uploads.dir`` means the same directory for writes
        # and for ``send_file`` (which would resolve it against the package otherwise).
        self.root = Path(root).absolute()

    def _path(self, key: str) -> Path:
        key = check_key(key)
        return self.root / key[:2] / key

    def put(self, data: bytes, key: str) -> None:
        """Store ``data`` under ``key``; a key already present is left alone (same content).

        The file is written to a temporary name in the same directory, flushed to disk and
        renamed into place, so a reader never sees a half-written file, even after a crash.
        """
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> Path:
        """The local path of a stored file (for ``send_file``).

        :raises InvalidKey: not a valid key.
        :raises FileNotFoundError: nothing stored under that key.
        """
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def delete(self, key: str) -> bool:
        """Remove the file stored under ``key``; False when there was none."""
        try:
            self._path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def exists(self, key: str) -> bool:
        """True when a file is stored under ``key`` (False for invalid keys)."""
        try:
            return self._path(key).is_file()
        except InvalidKey:
            return False

    @staticmethod
    def url_path(key: str) -> str:
        """The path, relative to the public base URL, that serves ``key``."""
        return f"/media/{check_key(key)}"
