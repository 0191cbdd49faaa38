"""Storage options written as ``KEY=VALUE`` text: the command line's ``-o`` and
the demo's, read the same way everywhere and written back so that they read
back as the same values (the demo hands them to its trial processes)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["format_storage_options", "parse_storage_options"]


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs to storage options.

    A value that reads as JSON other than a string (``true``, ``5``, ``2.5``,
    ``null``, ``{"region_name": "eu-west-1"}``) is passed as that value; any
    other text is passed as a string (write ``'key="123"'`` to pass digits as text).

    Raises
    ------
    ValueError
        A pair has no ``=`` or an empty key.

    Examples
    --------
    >>> parse_storage_options(["anon=true", "profile=lab", 'region="123"'])
    {'anon': True, 'profile': 'lab', 'region': '123'}
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name.strip():
            raise ValueError(
                f"storage option {pair!r} is not KEY=VALUE (e.g. -o endpoint_url=http://...)"
            )
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        options[name.strip()] = value
    return options


def format_storage_options(options: Mapping[str, Any]) -> list[str]:
    """Storage options as ``KEY=VALUE`` pairs that :func:`parse_storage_options`
    reads back as the same values.

    Examples
    --------
    >>> format_storage_options({"anon": True, "profile": "lab", "region": "123"})
    ['anon=true', 'profile=lab', 'region="123"']
    """
    pairs = []
    for name, value in options.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if isinstance(value, str) and parse_storage_options([f"{name}={value}"])[name] != value:
            text = json.dumps(value)  # text that would read as JSON: quoted
        pairs.append(f"{name}={text}")
    return pairs
