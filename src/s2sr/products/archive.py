"""Reading product metadata safely: bounded in size, and damaged zips reported as such.

A metadata document (``*_MTD_ALL.xml``, ``MTD_MSIL2A.xml``) is a few hundred kB; anything
over :data:`MAX_METADATA_BYTES` is refused before it is read (a 10 MB zip can hold a 4 GiB
"XML" file).  A zip whose central directory points at the wrong place, or whose compressed
member is corrupt, is one :class:`~s2sr.errors.ProductError` naming the file and the cause.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from ..errors import ProductError

#: The largest metadata document read (bytes); real ones are well under 1 MB.
MAX_METADATA_BYTES = 16 << 20
_DAMAGED_HINT = "the zip is damaged (cut short or corrupt): download it again"


def _too_large(where: str, size: int) -> ProductError:
    return ProductError(
        f"metadata {where} is too large ({size / 2**20:.0f} MiB; the limit is {MAX_METADATA_BYTES >> 20} MiB)",
        hint="this is not Sentinel-2 product metadata (a zip bomb?); check the input",
    )


def open_zip(path: Path, expected: str) -> zipfile.ZipFile:
    """``path`` opened as a zip, or one clear error."""
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ProductError(f"{path} is not a readable zip file ({exc})", hint=f"expected {expected}") from None
    except OSError as exc:
        raise ProductError(f"{path} cannot be read: {exc.strerror or exc}") from None


def read_zip_text(zf: zipfile.ZipFile, name: str, path: Path) -> str:
    """The text of member ``name`` of the zip at ``path``, read at most :data:`MAX_METADATA_BYTES`."""
    where = f"{path.name}/{name}"
    try:
        info = zf.getinfo(name)
        if info.file_size > MAX_METADATA_BYTES:
            raise _too_large(where, info.file_size)
        with zf.open(info) as fh:
            data = fh.read(MAX_METADATA_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
        raise ProductError(f"{path} is a damaged zip file: reading {name} fails ({exc})", hint=_DAMAGED_HINT) from None
    except OSError as exc:
        raise ProductError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_METADATA_BYTES:
        raise _too_large(where, len(data))
    return data.decode("utf-8", errors="replace")


def read_text_file(path: Path) -> str:
    """The text of a metadata file in a product folder, read at most :data:`MAX_METADATA_BYTES`."""
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise _too_large(str(path), size)
        with open(path, "rb") as fh:
            data = fh.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise ProductError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_METADATA_BYTES:
        raise _too_large(str(path), len(data))
    return data.decode("utf-8", errors="replace")
