"""Generated bad inputs for ``tools/fuzz/fuzz_commands.py``: seeded mutations of a valid YAML, JSON, CSV or ONNX
file, each a ``(label, bytes)`` pair. Not part of the suite (the suite keeps the defects this found as fast tests).

Classes: type swaps, NaN/inf/negative/zero/huge numbers, empty containers, unicode text, key deletion, unknown keys
(structured files, on a seeded sample of leaves); empty, whitespace-only and truncated files, non-UTF-8 and UTF-16
bytes, NUL bytes, a BOM, duplicate keys, deep nesting, a YAML alias bomb, a huge list, a top-level scalar or list
(any text file); for CSVs a header only, short and long rows, a 200 KB cell; for ONNX a corrupted byte, huge and
zero sizes, bad attributes, cycles, nested subgraphs and unknown operators.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import random
from collections.abc import Iterator
from typing import Any

import yaml

BAD_VALUES: tuple[Any, ...] = ("abc", -1, 0, math.nan, math.inf, -math.inf, 1e308, 10**40, True, None, [], {},
                               "", "\u00e9\u4e2d\U0001f600")
Case = tuple[str, bytes]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list) and node and len(node) < 50:
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for p in path[:-1]:
        node = node[p]
    if value is _DELETE:
        if isinstance(node, dict):
            del node[path[-1]]
        else:
            node.pop(path[-1])
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()


def _dump_yaml(doc: Any) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def _dump_json(doc: Any) -> bytes:
    return json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8")


def text_cases(seed: bytes, kind: str) -> list[Case]:
    """Mutations of any text file (``kind`` 'yaml', 'json' or 'csv')."""
    out: list[Case] = [("empty", b""), ("whitespace", b"  \n\t\n"), ("half", seed[: len(seed) // 2]),
                       ("first-line", seed.split(b"\n", 1)[0]), ("latin1", seed + "\ncaf\u00e9".encode("latin-1")),
                       ("utf16", seed.decode("utf-8").encode("utf-16")), ("bom", b"\xef\xbb\xbf" + seed),
                       ("nul", seed[:40] + b"\x00" + seed[40:]), ("random-bytes", random.Random(1).randbytes(4000)),
                       ("crlf", seed.replace(b"\n", b"\r\n")), ("cr-only", seed.replace(b"\n", b"\r"))]
    if kind == "yaml":
        first = seed.decode("utf-8").split("\n")
        key_line = next((ln for ln in first if ln and not ln.startswith((" ", "#", "-")) and ":" in ln), "x: 1")
        out += [("dup-key", seed + b"\n" + key_line.encode() + b"\n"),
                ("deep-nesting", b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
                ("deep-map", b"".join(b"  " * i + b"k:\n" for i in range(3000)) + b"  " * 3000 + b"1\n"),
                ("alias-bomb", _alias_bomb()), ("scalar", b"42\n"), ("list", b"- 1\n- 2\n"),
                ("tab-indent", seed.replace(b"\n  ", b"\n\t")),
                ("python-tag", b"!!python/object/apply:os.system ['true']\n"),
                ("huge-int-key", seed + b"\n" + b"9" * 5000 + b": 1\n")]
    if kind == "json":
        out += [("dup-key", seed.rstrip().rstrip(b"}") + b', "hidden_size": 1}'),
                ("deep-nesting", b"[" * 100_000 + b"]" * 100_000), ("scalar", b"42"), ("list", b"[1, 2]"),
                ("nan-literal", seed.replace(b": 1", b": NaN", 1)), ("big-exp", seed.replace(b": 1", b": 1e400", 1)),
                ("huge-digits", seed.replace(b": 1", b": " + b"9" * 5000, 1))]
    if kind == "csv":
        lines = seed.split(b"\n")
        out += [("header-only", lines[0] + b"\n"), ("short-row", lines[0] + b"\n" + lines[1][: len(lines[1]) // 2]),
                ("long-row", lines[0] + b"\n" + lines[1] + b",x,y,z\n"), ("big-cell", lines[0] + b"\n" + lines[1]
                                                                           + b"\n" + b"\"" + b"x" * 200_000 + b"\"\n"),
                ("unclosed-quote", lines[0] + b"\n\"" + lines[1]), ("dup-header", lines[0] + b"," + lines[0] + b"\n"
                                                                   + lines[1] + b"," + lines[1] + b"\n"),
                ("many-rows", lines[0] + b"\n" + b"\n".join([lines[1]] * 2_000) + b"\n")]
    return out


def _alias_bomb() -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        p = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([p] * 10)}]")
    return ("\n".join(lines) + "\n").encode()


def structured_cases(seed: bytes, kind: str, rng: random.Random, leaves: int) -> list[Case]:
    """Type swaps and bad numbers on a seeded sample of ``leaves`` leaves, each top-level key deleted, an unknown key,
    a huge list in place of a leaf."""
    doc = yaml.safe_load(seed) if kind == "yaml" else json.loads(seed)
    dump = _dump_yaml if kind == "yaml" else _dump_json
    paths = list(_leaves(doc))
    numeric = [p for p in paths if _get(doc, p).__class__ in (int, float)]
    chosen = rng.sample(numeric, min(len(numeric), (leaves + 1) // 2))
    rest = [p for p in paths if p not in chosen]
    chosen += rng.sample(rest, min(len(rest), leaves - len(chosen)))
    out: list[Case] = []
    for p in chosen:
        for v in BAD_VALUES:
            out.append((f"{'.'.join(map(str, p))}={v!r}"[:120], dump(_set(doc, p, v))))
    if isinstance(doc, dict):
        for k in doc:
            out.append((f"del:{k}", dump(_set(doc, (k,), _DELETE))))
        out.append(("unknown-key", dump({**doc, "zz_unknown_key": 1})))
    if chosen:
        out.append((f"huge-list:{'.'.join(map(str, chosen[0]))}", dump(_set(doc, chosen[0], list(range(200_000))))))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def csv_cell_cases(seed: bytes, rng: random.Random, cells: int) -> list[Case]:
    """Each of a seeded sample of cells of the first data row replaced by each bad value's text."""
    rows = list(csv.reader(io.StringIO(seed.decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    out: list[Case] = []
    for c in rng.sample(range(len(header)), min(cells, len(header))):
        for v in ("abc", "-1", "0", "nan", "inf", "-inf", "1e308", "9" * 40, "", "\u00e9\u4e2d", " 1 ", "1e-300"):
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(header)
            w.writerow([v if i == c else x for i, x in enumerate(row)])
            out.append((f"{header[c]}={v[:12]!r}", buf.getvalue().encode("utf-8")))
    return out
