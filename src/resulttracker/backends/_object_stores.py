"""What differs between the object stores behind :class:`~.fsspec.RemoteFiles`.

Three questions the fsspec file systems answer differently, or not faithfully:

* did a request fail because the key or because the bucket (container) is
  missing? S3 and Azure say so in an error code that travels as the cause of
  the ``FileNotFoundError``; gcsfs drops the answer's body, so on GCS the bucket
  itself is asked (:func:`container_exists`);
* what are the objects' names? ``find`` hides or rewrites some (adlfs drops the
  ``/`` that ends a folder marker, so ``exp/`` lists as the key ``exp``; gcsfs
  turns ``a//b`` into ``a/b``), so listings go to each store's own listing call
  (:func:`list_objects`), which also returns the modification time;
* a range read of an empty object is refused with each store's own error
  (:func:`is_unsatisfiable_range`).

The coroutines run on the file system's event loop, under the caller's
deadline, for the protocols in :data:`KNOWN_PROTOCOLS`; other file systems get
plain fsspec calls from the caller.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

__all__ = [
    "KNOWN_PROTOCOLS",
    "container_exists",
    "fast_s3_timestamps",
    "is_unsatisfiable_range",
    "list_objects",
    "names_missing_container",
    "names_missing_key",
    "rfc3339",
]

#: Codes with which a store says the bucket (container) itself does not exist.
_MISSING_CONTAINER_CODES = frozenset({"NoSuchBucket", "ContainerNotFound"})
#: Codes with which a store says the key does not exist, in a bucket that does.
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "BlobNotFound"})

#: The stores asked through their own calls (by fsspec protocol); others get plain
#: fsspec calls.
KNOWN_PROTOCOLS = frozenset({"s3", "gs", "abfs"})

#: Objects per listing request (the most S3 and GCS return; Azure's default is 5,000).
_PAGE = 1000


def _codes(error: BaseException) -> Iterator[str]:
    """The store error codes carried by ``error`` and the errors it came from."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "error_code", None)  # azure-core's HttpResponseError
        response = getattr(current, "response", None)
        if isinstance(response, dict):  # botocore's ClientError
            code = response.get("Error", {}).get("Code", code)
        if isinstance(code, str):  # Azure's codes are str enums
            yield str(code)
        current = current.__cause__ or current.__context__


def names_missing_container(error: BaseException) -> bool:
    """Whether the store said, in ``error``, that the bucket does not exist."""
    return any(code in _MISSING_CONTAINER_CODES for code in _codes(error))


def names_missing_key(error: BaseException) -> bool:
    """Whether the store said, in ``error``, that the key (not the bucket) is missing."""
    return any(code in _MISSING_KEY_CODES for code in _codes(error))


def is_unsatisfiable_range(error: BaseException) -> bool:
    """Whether ``error`` refuses a range read (HTTP 416), as every store does for
    any range of an empty object."""
    if getattr(error, "status_code", None) == 416 or getattr(error, "code", None) == 416:
        return True  # azure-core, gcsfs
    return (
        isinstance(error, OSError)  # s3fs
        and error.errno == errno.EINVAL
        and "range" in str(error).lower()
    )


def rfc3339(text: str) -> datetime | None:
    """A GCS timestamp (``2026-12-01T11:35:40.74443Z``) as an aware datetime, or
    ``None``. The fraction may have any number of digits, which Python 3.10's
    ``fromisoformat`` refuses unless there are 3 or 6."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    seconds, fraction, zone = match.groups()
    fraction = (fraction or "")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(f"{seconds}.{fraction}{zone}")
    return None


async def container_exists(fs: Any, protocol: str, container: str) -> bool:
    """Ask the store whether ``container`` exists (one request); other failures raise."""
    if protocol == "s3":
        try:
            await fs._call_s3("head_bucket", Bucket=container)
        except FileNotFoundError:
            return False
        return True
    if protocol == "gs":
        # A one-object listing, not the bucket's metadata: it needs only the
        # permission reads already need (storage.objects.list, which the usual
        # object-viewer roles grant, unlike storage.buckets.get).
        try:
            await fs._call("GET", "b/{}/o", container, maxResults=1, json_out=True)
        except FileNotFoundError:
            return False
        return True
    if protocol == "abfs":
        from azure.core.exceptions import ResourceNotFoundError

        async with fs.service_client.get_container_client(container) as client:
            try:
                await client.get_container_properties()
            except ResourceNotFoundError:
                return False
        return True
    raise ValueError(f"no bucket check for the protocol {protocol!r}")


async def list_objects(
    fs: Any, protocol: str, container: str, prefix: str
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Yield ``(name, info)`` for every object of ``container`` whose name starts
    with ``prefix``: names exactly as stored (``bucket/`` not included), and
    ``info`` with at least ``size``, a modification time and ``version`` (see
    :func:`read_versioned`)."""
    if protocol == "s3":
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = await fs._call_s3(
                "list_objects_v2", Bucket=container, Prefix=prefix, MaxKeys=_PAGE, **extra
            )
            for item in page.get("Contents", []):
                yield (
                    item["Key"],
                    {
                        "size": item.get("Size"),
                        "LastModified": item.get("LastModified"),
                        "version": etag_version(item.get("ETag")),
                    },
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
    elif protocol == "gs":
        page_token: str | None = None
        while True:
            page = await fs._call(
                "GET",
                "b/{}/o",
                container,
                prefix=prefix or None,
                pageToken=page_token,
                maxResults=_PAGE,
                json_out=True,
            )
            for item in page.get("items", []):
                info = {
                    "size": int(item.get("size", 0)),
                    "updated": rfc3339(item.get("updated", "")),
                    "version": _generation_version(item.get("generation")),
                }
                yield item["name"], info
            page_token = page.get("nextPageToken")
            if not page_token:
                return
    elif protocol == "abfs":
        async with fs.service_client.get_container_client(container) as client:
            async for blob in client.list_blobs(name_starts_with=prefix or None):
                info = {
                    "size": blob.size,
                    "last_modified": blob.last_modified,
                    "version": etag_version(blob.etag),
                }
                yield blob.name, info
    else:
        raise ValueError(f"no object listing for the protocol {protocol!r}")


# -- S3 listings: a thousand timestamps per page ----------------------------------------


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, with ISO 8601 (what S3 listings carry, one
    ``LastModified`` per object) parsed by the standard library: dateutil's
    general parser, botocore's default, took a quarter of a listing's client time.
    Any other form (an HTTP date, an epoch number) goes to botocore's parser."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed
    from botocore.utils import parse_timestamp as botocore_parse_timestamp

    return botocore_parse_timestamp(value)  # type: ignore[no-any-return]


def fast_s3_timestamps(fs: Any) -> None:
    """Give an s3fs file system that has not connected yet a session whose
    responses parse timestamps with :func:`parse_timestamp`. The session is made
    as s3fs would make it (from the file system's session options); a file system
    given a session of the caller's own, or already connected, is left as it is."""
    if getattr(fs, "session", True) is not None or getattr(fs, "_s3", True) is not None:
        return
    import aiobotocore.session

    session = aiobotocore.session.AioSession(**getattr(fs, "kwargs", {}))
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    fs.session = session


# -- versions: a tag that changes with every write, from listings and from reads --------


def etag_version(etag: object) -> str | None:
    """S3's and Azure's ETag (changes with every write) as a version."""
    return f"e:{etag.strip(chr(34))}" if isinstance(etag, str) and etag else None


def _generation_version(generation: object) -> str | None:
    """GCS's object generation (a new one with every write) as a version."""
    return f"g:{generation}" if isinstance(generation, (str, int)) and generation else None


async def read_versioned(
    fs: Any, protocol: str, container: str, name: str, limit: int
) -> tuple[bytes, str | None]:
    """The first ``limit + 1`` bytes of an object and the version of exactly those
    bytes, in one request (two for an empty object, which no range fits). A
    missing object raises as the store's client does (see ``names_missing_*``)."""
    if protocol == "gs":
        path = "b/{}/o/{}"
        try:
            headers, data = await fs._call(
                "GET", path, container, name, alt="media", headers={"Range": f"bytes=0-{limit}"}
            )
        except Exception as error:
            if not is_unsatisfiable_range(error):
                raise
            headers, data = await fs._call("GET", path, container, name, alt="media")
        return bytes(data), _generation_version(headers.get("X-Goog-Generation"))
    if protocol == "abfs":
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        async with fs.service_client.get_blob_client(container, name) as blob:
            try:
                try:
                    download = await blob.download_blob(offset=0, length=limit + 1)
                except HttpResponseError as error:
                    if not is_unsatisfiable_range(error):
                        raise
                    download = await blob.download_blob()
                data = await download.readall()
            except ResourceNotFoundError as error:
                # As adlfs reports it: a FileNotFoundError caused by the store's answer.
                raise FileNotFoundError(f"{container}/{name}") from error
        return bytes(data), etag_version(download.properties.etag)
    raise ValueError(f"no versioned read for the protocol {protocol!r}")


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/@?#]*@")


def endpoint(fs: Any, protocol: str) -> str:
    """The service a file system of :data:`KNOWN_PROTOCOLS` talks to (an endpoint
    URL or an account name), from its non-secret settings only: with the bucket
    and path, it names a store (the snapshot cache is keyed by it). Settings not
    seen here (an endpoint in an AWS profile) only make two stores share a cache
    entry, whose versions then rarely match: it is never trusted anyway."""
    import os

    found: object = None
    if protocol == "s3":
        client_kwargs = getattr(fs, "client_kwargs", None) or {}
        found = (
            getattr(fs, "endpoint_url", None)
            or (client_kwargs.get("endpoint_url") if isinstance(client_kwargs, dict) else None)
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or "aws"
        )
    elif protocol == "gs":
        found = getattr(fs, "_endpoint", None) or "https://storage.googleapis.com"
    elif protocol == "abfs":
        found = getattr(fs, "account_host", None) or getattr(fs, "account_name", None)
        connection = getattr(fs, "connection_string", None)
        if not found and isinstance(connection, str):
            # Only the fields that name the account (the string also holds its key).
            fields = dict(part.split("=", 1) for part in connection.split(";") if "=" in part)
            found = fields.get("BlobEndpoint") or fields.get("AccountName")
    text = str(found or "")
    return _USERINFO.sub(r"\1", text).rstrip("/")
