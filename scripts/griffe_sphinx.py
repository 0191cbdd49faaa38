"""Griffe extension for the documentation site: read the docstrings as Sphinx would.

The docstrings are numpydoc written for Sphinx; mkdocstrings renders Markdown and
knows three of their habits only through this extension, which ``mkdocs.yml``
loads. Once the package is loaded, and before any docstring is parsed:

1. **Sphinx roles.** Other objects are named the Sphinx way (``:class:`Record```,
   ``:meth:`~ResultTracker.scan```), which Markdown would show as literal text.
   Every role is rewritten:

   * a role naming a public object of resulttracker becomes a Markdown
     cross-reference to that object's canonical path
     (``[`Record`][resulttracker.api.Record]``), the name resolved as Python
     would resolve it in the docstring's scope; if that object is on no page,
     ``mkdocs build --strict`` fails, which is the point;
   * a role naming something private (``_write``), something outside the
     package (``math.fsum``) or nothing at all becomes inline code;
   * ``:math:`...``` becomes MathML (``latex2mathml``), which browsers render
     without any script.

   A leading ``~`` shows only the last component of the name, as in Sphinx.
2. **``#:`` comments.** A module or class attribute documented by ``#:`` comment
   lines just above it (Sphinx autodoc's form) gets them as its docstring.
3. **Attributes sections.** A class (a dataclass, typically) whose docstring has an
   ``Attributes`` section lends each description to the member of that name, so
   every attribute has its own entry and anchor (``mkdocs.yml`` hides the section
   itself, which would say the same thing twice).
"""

from __future__ import annotations

import re
from typing import Any

import griffe
from latex2mathml.converter import convert as latex_to_mathml

PACKAGE = "resulttracker"

# :role:`target` or :role:`~target` (a literal backtick cannot occur in a target).
_ROLE = re.compile(r":(?P<role>[a-z]+):`(?P<tilde>~?)(?P<target>[^`]+)`")

_logger = griffe.get_logger(__name__)


class SphinxDocstrings(griffe.Extension):
    """Rewrite the docstrings of the package once it is loaded (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name == PACKAGE:
            self._rewrite(pkg, pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, pkg: griffe.Module, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is None and obj.is_attribute:
            comment = _comment_above(obj)
            if comment:
                obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(
                lambda match: _replacement(match, obj, pkg), obj.docstring.value
            )
            if obj.is_class:
                _lend_attribute_descriptions(obj)
        for member in obj.members.values():
            if not member.is_alias and isinstance(member, griffe.Object):
                self._rewrite(member, pkg, seen)


def _comment_above(obj: griffe.Object) -> str:
    """The ``#:`` comment lines right above ``obj``'s first line, without the markers."""
    if obj.lineno is None:
        return ""
    lines = obj.module.lines
    index = obj.lineno - 2
    comment: list[str] = []
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        comment.insert(0, lines[index].lstrip()[2:].strip())
        index -= 1
    return "\n".join(comment)


def _lend_attribute_descriptions(cls: griffe.Object) -> None:
    assert cls.docstring is not None
    for section in griffe.parse_numpy(cls.docstring, warn_unknown_params=False):
        if section.kind is not griffe.DocstringSectionKind.attributes:
            continue
        for item in section.value:
            member = cls.members.get(item.name)
            if isinstance(member, griffe.Object) and member.docstring is None:
                member.docstring = griffe.Docstring(
                    item.description, lineno=member.lineno, parent=member
                )


def _replacement(match: re.Match[str], scope: griffe.Object, pkg: griffe.Module) -> str:
    role, target = match["role"], match["target"]
    shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
    if role == "math":
        # In a span: Markdown takes a line that starts with <math> for a block of HTML.
        return f'<span class="math">{latex_to_mathml(target)}</span>'
    path = _resolve(target, scope, pkg)
    if path is None or _is_private(path):
        return f"`{shown}`"
    return f"[`{shown}`][{path}]"


def _resolve(target: str, scope: griffe.Object, pkg: griffe.Module) -> str | None:
    """The canonical path of ``target`` as seen from ``scope``; None if it is not ours.

    A name that should be ours but names nothing (a typo, a renamed method) is
    reported as a warning, which fails the strict build.
    """
    first, _, rest = target.partition(".")
    names = rest.split(".") if rest else []
    if first == PACKAGE:
        obj: Any = pkg
    else:
        found = _in_scope(first, scope)
        if found is None:
            if not names:
                _logger.warning("%s: %r names nothing in its scope", scope.path, target)
            return None  # a dotted name from elsewhere: sqlalchemy.create_engine
        if not found.startswith(PACKAGE + "."):
            return None  # an imported outsider: math, numbers.Real
        obj = pkg
        names = found.split(".")[1:] + names
    try:
        for name in names:
            obj = _member(obj, name)
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        _logger.warning("%s: %r names nothing in %s", scope.path, target, PACKAGE)
        return None
    return str(obj.path)


def _in_scope(name: str, scope: griffe.Object) -> str | None:
    """The path ``name`` refers to from ``scope``: inherited members first (which
    griffe's own resolution does not see), then members, imports and parents."""
    for holder in (scope, scope.parent):
        if isinstance(holder, griffe.Object) and holder.is_class and name in holder.all_members:
            return str(_member(holder, name).path)
    try:
        return scope.resolve(name)
    except griffe.NameResolutionError:
        return None


def _member(obj: Any, name: str) -> Any:
    """Member ``name`` of ``obj`` (inherited ones included), aliases followed."""
    member = (obj.all_members if obj.is_class else obj.members)[name]
    return member.final_target if member.is_alias else member


def _is_private(path: str) -> bool:
    return any(name.startswith("_") and not name.startswith("__") for name in path.split("."))
