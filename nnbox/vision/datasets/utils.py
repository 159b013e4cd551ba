"""Downloading, checksumming and unpacking dataset files (torchvision.datasets.utils)."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable

__all__ = [
    "calculate_md5", "check_md5", "check_integrity", "download_url", "download_and_extract_archive",
    "extract_archive", "verify_str_arg",
]

USER_AGENT = "nnbox"


def calculate_md5(fpath: str, chunk_size: int = 1024 * 1024) -> str:
    """Hex MD5 of a file, read in chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath: str, md5: str, **kwargs) -> bool:
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath: str, md5: str | None = None) -> bool:
    """The file exists and (if ``md5`` is given) has that checksum.

    >>> check_integrity("/no/such/file")
    False
    """
    if not os.path.isfile(fpath):
        return False
    return True if md5 is None else check_md5(fpath, md5)


def verify_str_arg(value: str, arg: str | None = None, valid_values: Iterable[str] | None = None,
                   custom_msg: str | None = None) -> str:
    if not isinstance(value, str):
        msg = "Expected type str" + ("" if arg is None else f" for argument {arg}") + f", but got type {type(value)}."
        raise ValueError(msg)
    if valid_values is None or value in valid_values:
        return value
    if custom_msg is not None:
        raise ValueError(custom_msg)
    valid = "{" + ", ".join(repr(v) for v in valid_values) + "}"
    raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are {valid}.")


def _makedirs(path: str) -> list[str]:
    """Create ``path`` and return the directories that did not exist (to undo on failure)."""
    created = []
    p = os.path.abspath(path)
    while p and not os.path.exists(p):
        created.append(p)
        p = os.path.dirname(p)
    os.makedirs(path, exist_ok=True)
    return created


def _remove_empty(dirs: list[str]) -> None:
    for d in dirs:  # deepest first
        try:
            os.rmdir(d)
        except OSError:
            break


def download_url(url: str, root: str, filename: str | None = None, md5: str | None = None,
                 max_redirect_hops: int = 3, timeout: float = 60.0) -> None:
    """Download ``url`` to ``root/filename`` (kept if already there with the right MD5), checking
    the MD5 afterwards.  Without a network it raises a ``RuntimeError`` saying so, and leaves no
    new directories or partial files behind."""
    root = os.path.expanduser(root)
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return
    created = _makedirs(root)
    partial = fpath + ".partial"
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, length=1024 * 1024)
    except (urllib.error.URLError, OSError) as e:
        if os.path.exists(partial):
            os.remove(partial)
        _remove_empty(created)
        reason = getattr(e, "reason", e)
        raise RuntimeError(
            f"Failed to download {url}: {reason}. Check the network connection, or put {filename} "
            f"into {root} yourself."
        ) from e
    os.replace(partial, fpath)
    if not check_integrity(fpath, md5):
        raise RuntimeError(f"File {fpath} was downloaded but its MD5 does not match {md5}: the file is corrupted.")


def _decompress(src: str, dst: str, opener) -> str:
    with opener(src, "rb") as rf, open(dst, "wb") as wf:
        shutil.copyfileobj(rf, wf, length=1024 * 1024)
    return dst


def extract_archive(from_path: str, to_path: str | None = None, remove_finished: bool = False) -> str:
    """Unpack a .tar(.gz/.bz2/.xz), .tgz, .zip, or decompress a single .gz/.bz2/.xz file.
    Returns the directory (archives) or file (single-file compression) it wrote."""
    to_path = to_path or os.path.dirname(from_path)
    name = os.path.basename(from_path)
    try:
        if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz")):
            with tarfile.open(from_path, "r:*") as tar:
                tar.extractall(to_path, filter="data")  # refuses absolute paths and ".." escapes
            out = to_path
        elif name.endswith(".zip"):
            with zipfile.ZipFile(from_path) as z:
                for member in z.namelist():
                    target = os.path.realpath(os.path.join(to_path, member))
                    if not target.startswith(os.path.realpath(to_path) + os.sep) and target != os.path.realpath(to_path):
                        raise RuntimeError(f"Unsafe path {member!r} in archive {from_path}")
                z.extractall(to_path)
            out = to_path
        else:
            for ext, opener in ((".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)):
                if name.endswith(ext):
                    out = _decompress(from_path, os.path.join(to_path, name[: -len(ext)]), opener)
                    break
            else:
                raise RuntimeError(f"Extraction of {from_path} not supported: unknown archive type")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, lzma.LZMAError) as e:
        raise RuntimeError(f"Could not extract {from_path}: {e}") from e
    if remove_finished:
        os.remove(from_path)
    return out


def download_and_extract_archive(url: str, download_root: str, extract_root: str | None = None,
                                 filename: str | None = None, md5: str | None = None,
                                 remove_finished: bool = False) -> None:
    """``download_url`` then ``extract_archive``."""
    download_root = os.path.expanduser(download_root)
    extract_root = extract_root or download_root
    filename = filename or os.path.basename(url)
    download_url(url, download_root, filename, md5)
    extract_archive(os.path.join(download_root, filename), extract_root, remove_finished)
