"""Read YAML/JSON spec files and turn validation failures into clear errors.

A malformed file raises :class:`SpecError` naming the file, the field, the value and what
is allowed (``FILE: FIELD = VALUE: must be ...``); never a traceback. The YAML reader uses
the C loader when PyYAML has it and rejects duplicate keys (PyYAML would silently keep the
last one). A file shipped in the catalogue is parsed once and then read from the user's cache
(:mod:`inferchip.catalog.parse_cache`); PyYAML is imported when a file is parsed, not before.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from inferchip.catalog import parse_cache
from inferchip.errors import SpecError
from inferchip.input_files import read_regular_bytes

if TYPE_CHECKING:
    import yaml

M = TypeVar("M", bound=BaseModel)

_MERGE_TAG = "tag:yaml.org,2002:merge"
# YAML 1.2 core schema float with an exponent (yaml.org/spec/1.2.2, 10.3.2 Tag Resolution):
# [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?, here only the forms with an exponent.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$")


@lru_cache(maxsize=1)
def _yaml_classes() -> tuple[type[yaml.SafeLoader], type[Exception]]:
    """The duplicate-rejecting safe loader and its duplicate-key error, built on first use (PyYAML
    is imported here: a run that reads only cached files never imports it)."""
    import yaml

    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Duplicate(yaml.YAMLError):
        """A key given twice: ``args`` = (key, mark of the first, mark of the second)."""

    class UniqueKeyLoader(base):  # type: ignore[valid-type,misc]
        """Safe YAML loader (C-accelerated where available) that rejects a key given twice in one mapping."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, yaml.Mark | None] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue  # '<<: *anchor' merges; keys given explicitly may override merged ones
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise Duplicate(key, seen[key], key_node.start_mark)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                seen[key] = key_node.start_mark
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    # YAML 1.1 (PyYAML) reads a float only with a dot and a signed exponent, so 1.4e3, 14e2 and 1e-3 were text and a
    # chip's `tdp_w: 1.4e3` was refused as "must be a finite number"; YAML 1.2's core schema (and JSON) read them as
    # numbers, as this loader now does. Forms YAML 1.1 already reads keep its resolver (it is tried first).
    UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))
    return UniqueKeyLoader, Duplicate


_TOO_MANY_DIGITS = "not a spec: a number has thousands of digits (at most 4,300 are read; no spec figure needs 30)"


def _line(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}" if mark is not None else "?"


MAX_YAML_VALUES = 1_000_000
"""Most values (mappings, lists and their items, aliases expanded) a YAML spec file may hold: over 1,000 times the
largest file inferchip ships (catalog/engines.yaml, 880; tests/test_fuzz_yaml_alias_bomb.py measures them all). A
few nested aliases (``&a [*b, *b, ...]``, the "billion laughs" file) expand exponentially past any memory, and every
reader after the parse (validation, the parse cache) walks the expansion: it never returned (stop 45's fuzz)."""


def _expanded_size(data: Any, where: str) -> int:
    """Values ``data`` holds with aliases expanded, counted over shared objects once each (linear in the file);
    a cycle (an alias inside the node it names) or more than :data:`MAX_YAML_VALUES` -> SpecError."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        obj, closing = stack.pop()
        key = id(obj)
        if key in sizes:
            continue
        kids = [c for c in (obj.values() if isinstance(obj, dict) else obj) if isinstance(c, (dict, list))]
        if closing:
            open_.discard(key)
            sizes[key] = len(obj) + sum(sizes[id(c)] for c in kids)
            if sizes[key] > MAX_YAML_VALUES:
                raise SpecError(f"{where}: holds more than {MAX_YAML_VALUES:,} values once its aliases (*name) are "
                                "expanded; allowed: at most that many (the largest file inferchip ships holds 880)")
            continue
        if key in open_:
            raise SpecError(f"{where}: an alias (*name) refers to a mapping or list that contains it (a cycle); "
                            "allowed: aliases of nodes defined before and outside them")
        open_.add(key)
        stack.append((obj, True))
        stack.extend((c, False) for c in kids if id(c) not in sizes)
    return sizes.get(id(data), 0)


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text; duplicate keys, bad syntax, absurd integers, nesting or alias expansion -> SpecError."""
    import yaml

    loader, duplicate = _yaml_classes()
    try:
        data = yaml.load(text, Loader=loader)  # a safe loader (see _yaml_classes)
        if isinstance(data, (dict, list)):
            _expanded_size(data, where)
        return data
    except duplicate as dup:
        key, first, again = dup.args
        raise SpecError(
            f"{where}: key {key!r} appears twice in one mapping ({_line(first)} and {_line(again)}); "
            "keep one (YAML would silently use the last)"
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise SpecError(f"{where}: not a spec: the YAML is nested too deeply") from None
    except ValueError as exc:
        if "digits" in str(exc):  # int('9' * 5000): Python limits integer strings to 4,300 digits
            raise SpecError(f"{where}: {_TOO_MANY_DIGITS}") from None
        # PyYAML reads an unquoted YYYY-MM-DD as a date and fails on a day that does not exist (2026-02-30): it was
        # reported as a number of thousands of digits
        raise SpecError(f"{where}: not valid YAML: a value reads as a date that does not exist ({exc}); allowed: a "
                        "real day, YYYY-MM-DD, or the text quoted ('2026-02-30')") from None


class _DuplicateKey(ValueError):
    """A JSON object giving one key twice (``args[0]``)."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a key given twice is an error (Python's json, as most readers, keeps the last
    silently: a config.json with ``hidden_size`` twice was read with the second, stop 45's fuzz)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON file whose top level is a mapping."""
    raw = read_regular_bytes(path)  # a pipe or a device is refused, not read (it blocks or never ends)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); "
                        "save the file as UTF-8") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_unique_pairs)
        except _DuplicateKey as dup:
            raise SpecError(f"{path}: key {dup.args[0]!r} appears twice in one object; keep one (JSON readers "
                            "silently use the last)") from None
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON: {exc}") from None
        except RecursionError:
            raise SpecError(f"{path}: not a spec: the JSON is nested too deeply") from None
        except ValueError:  # integers beyond 4,300 digits
            raise SpecError(f"{path}: {_TOO_MANY_DIGITS}") from None
    else:
        data = parse_cache.load(path, raw)
        if data is None:
            data = parse_yaml(text, str(path))
            if isinstance(data, dict):
                parse_cache.store(path, raw, data)
    if data is None:
        raise SpecError(f"{path}: the file is empty; expected a mapping of fields")
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the top level must be a mapping of fields, got {type(data).__name__}")
    return data


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}" if value else "{}"  # an empty mapping as typed
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"  # str() fails past 4,300
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


_WORDS = {
    "extra_forbidden": "unknown field (check the spelling; allowed fields are in the README)",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping of fields",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "int_type": "must be a whole number (not true/false, text or a fraction)",
    "float_type": "must be a number (not true/false or text)",
}


def _in_user_words(kind: str, msg: str, ctx: dict[str, Any]) -> str:
    """pydantic's message for an error type, said the way the rest of the messages say it."""
    if kind in _WORDS:
        return _WORDS[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s)"
    return msg.removeprefix("Value error, ")


def _fields_at(model: Any, parts: list[str]) -> list[str] | None:
    """The field names a pydantic model takes at the mapping ``parts`` leads to (None where the path goes through
    anything but nested models: a dict, a list, a union)."""
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        model = fields[part].annotation
    fields = getattr(model, "model_fields", None)
    if fields is None:
        return None
    return [f.alias or name for name, f in fields.items()]


def _what_goes(model: Any, parts: list[str]) -> str:
    """What a missing field takes, from the model (its nested mapping's fields, its description), for the error
    ("sources is missing: this field is required" told a user neither the shape nor what it is for); "" where the
    path goes through anything but nested models."""
    import typing

    for part in parts[:-1]:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return ""
        model = fields[part].annotation
    info = (getattr(model, "model_fields", None) or {}).get(parts[-1]) if parts else None
    if info is None:
        return ""
    ann, what = info.annotation, ""
    args = typing.get_args(ann)
    if typing.get_origin(ann) is list and args and hasattr(args[0], "model_fields"):
        sub = args[0].model_fields
        needed = [n for n, f in sub.items() if f.is_required()]
        what = f"a list of mappings, each with {', '.join(sub)} ({', '.join(needed) or 'none'} required)"
    elif hasattr(ann, "model_fields"):
        what = f"a mapping with {', '.join(ann.model_fields)}"
    said = [x for x in (what, info.description) if x]
    return f" ({'; '.join(said)})" if said else ""


def _unknown_field(model: Any, parts: list[str]) -> str:
    """'unknown field' with the fields allowed there and the closest to the one given."""
    allowed = _fields_at(model, parts[:-1]) if model is not None and parts else None
    if not allowed:
        return _WORDS["extra_forbidden"]
    import difflib

    near = difflib.get_close_matches(parts[-1], allowed, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    shown = ", ".join(allowed[:20]) + (f", ... ({len(allowed)} in all)" if len(allowed) > 20 else "")
    return f"unknown field; {hint}allowed here: {shown}"


def _key(part: Any) -> str:
    """A field name as the message shows it: as written, or escaped where it holds a control character (a key with
    U+0085 broke the one error line in two; an escape sequence in a key would reach the terminal)."""
    text = str(part)
    return text if text.isprintable() else ascii(text)


def describe_validation_error(exc: ValidationError, where: str,
                              renamed: dict[str, tuple[str, str]] | None = None, model: Any = None) -> str:
    """One line per problem: ``WHERE: FIELD = VALUE: what is allowed``, in the user's words.

    ``renamed`` maps an old dotted key to (new key, what its unit means): an old key in a
    user's file is reported as renamed rather than unknown.
    """
    lines: list[tuple[str, str | None]] = []  # (line, field it reports missing)
    renamed_to: set[str] = set()
    errors = exc.errors(include_url=False)
    # Several required fields missing from one nested mapping (`bandwidth_tb_per_s: {}` where a number or a range
    # {low, central, high, derivation} goes) are one problem: one line naming the mapping and what it lacks.
    missing_in: dict[str, list[str]] = {}
    items_needed: dict[str, int] = {}  # a fixed-length list (gemm_tile [M, N]) short of items: how many it takes
    for err in errors:
        parts = [_key(p) for p in err["loc"] if not str(p).startswith("@")]
        if err["type"] == "missing" and len(parts) >= 2 and parts[-1].isdigit():
            items_needed[".".join(parts[:-1])] = max(items_needed.get(".".join(parts[:-1]), 0), int(parts[-1]) + 1)
        elif err["type"] == "missing" and len(parts) >= 2:
            missing_in.setdefault(".".join(parts[:-1]), []).append(parts[-1])
    told: set[str] = set()
    for err in errors:
        parts = [_key(p) for p in err["loc"] if not str(p).startswith("@")]  # "@number"/"@range": union tags
        parent = ".".join(parts[:-1])
        if (n := items_needed.get(parent)) and err["type"] == "missing":
            if parent not in told:  # "compute.gemm_tile.1 is missing" named neither the list nor its length
                told.add(parent)
                lines.append((f"{where}: {parent} = {_shown(err.get('input'))}: needs {n} values in order; allowed: "
                              f"a list of {n}{_what_goes(model, parts[:-1])}", None))
            continue
        if err["type"] == "missing" and len(missing_in.get(parent, ())) >= 2:
            if parent not in told:
                told.add(parent)
                lacks = missing_in[parent]
                lines.append((f"{where}: {parent} = {_shown(err.get('input'))}: missing {', '.join(lacks[:-1])} and "
                              f"{lacks[-1]} (required fields of it)", None))
            continue
        value, msg, kind = err.get("input"), err["msg"], err["type"]
        ctx = err.get("ctx") or {}
        if kind == "cross_field":
            parts.append(str(ctx["field"]))
            value, msg = ctx["value"], str(ctx["message"])
        loc = ".".join(parts) or "(top level)"
        if kind == "extra_forbidden" and renamed and loc in renamed:
            new, note = renamed[loc]
            lines.insert(0, (f"{where}: {loc} was renamed to {new} ({note})", None))
            renamed_to.add(new)
        elif kind == "extra_forbidden" and model is not None:
            lines.append((f"{where}: {loc} = {_shown(value)}: {_unknown_field(model, parts)}", None))
        elif kind == "missing":
            lines.append((f"{where}: {loc} is missing: this field is required{_what_goes(model, parts)}", loc))
        else:
            said = _in_user_words(kind, msg, ctx)
            if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
                said += ("; YAML reads it as a number (1e3 and 14e2 too, as YAML 1.2 does): quote it ('1e3') to "
                         "keep it text")
            lines.append((f"{where}: {loc} = {_shown(value)}: {said}", None))
    # the new key of a renamed one is not also reported missing
    return "\n".join(line for line, missing in lines if missing not in renamed_to)


def validate(model: type[M], data: dict[str, Any], where: str) -> M:
    """``model`` from ``data``, or SpecError naming ``where``, each bad field, its value and what is allowed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        renamed = getattr(model, "renamed_fields", None)
        raise SpecError(describe_validation_error(exc, where, renamed, model)) from None
    except RecursionError:
        raise SpecError(f"{where}: not a spec: nested too deeply") from None


def is_file(path: Path) -> bool:
    """``path.is_file()``, False (not an error) for a name the file system cannot hold (too long, NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, False for a name the file system cannot hold."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def exists(path: Path) -> bool:
    """``path.exists()``, False for a name the file system cannot hold."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def not_a_file(path: Path, what: str, allowed: str | None = None) -> str:
    """Why ``path`` (which ``is_file`` refused) cannot be read as a ``what`` file: a folder, something that is not a
    regular file (a device, a pipe), or nothing there (``exists`` False); with what is allowed."""
    allowed = f"allowed: {allowed or f'an id of `inferchip {what}s` or a {what} file'}"
    if is_dir(path):
        return f"{path}: a folder, not a {what} file; {allowed}"
    if exists(path):
        return f"{path}: not a regular file (a device or a pipe); {allowed}"
    return f"{path}: no such {what} file; {allowed}"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: the parser's problem and where (1-based line and column), without its snippet."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"{problem}{where}" + (f" ({context})" if context else "")
