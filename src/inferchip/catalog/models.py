"""The bundled LLM catalogue: Hugging Face configs under ``models/`` and ``aliases.csv``.

A bundled file ``<org>__<name>.json`` is the model ``<org>/<name>``. ``aliases.csv`` maps
fine-tunes and re-quantised checkpoints (same layer shapes) to a bundled base file;
loading an alias returns the base architecture under the requested id. A path to a
user's ``config.json`` (or to the folder holding it) is parsed the same way.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from inferchip.catalog.hf_config import model_spec_from_config
from inferchip.catalog.yaml_io import exists, is_dir, is_file, not_a_file, read_mapping
from inferchip.errors import InvalidSettingError, SpecError, UnknownIdError, current_spelling
from inferchip.input_files import user_path
from inferchip.spec.chip import ChipParams, ChipSpec, EstimateLevel
from inferchip.spec.model import ModelSpec

if TYPE_CHECKING:
    from inferchip.catalog.chips import ChipInput

_DATA = Path(__file__).parent
_MODELS_DIR = _DATA / "models"
_ALIASES_CSV = _DATA / "aliases.csv"
_ALIAS_CSV = _DATA / "alias_checkpoints.csv"


def _file_for(model_id: str) -> Path:
    return _MODELS_DIR / (model_id.replace("/", "__", 1) + ".json")


@lru_cache(maxsize=1)
def _bundled_ids() -> tuple[str, ...]:
    return tuple(sorted(p.stem.replace("__", "/", 1) for p in _MODELS_DIR.glob("*.json")))


@lru_cache(maxsize=1)
def _listed_aliases() -> dict[str, tuple[str, str]]:
    """alias -> (bundled base id, note) of ``aliases.csv``."""
    where = f"{_ALIASES_CSV}"
    try:
        text = _ALIASES_CSV.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{where}: cannot read file ({exc.strerror})") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    known = set(_bundled_ids())
    out: dict[str, tuple[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        alias, base = (row.get("alias") or "").strip(), (row.get("same_architecture_as") or "").strip()
        if not alias or base not in known:
            raise SpecError(
                f"{where}: line {line}: same_architecture_as = {base!r}: expected a bundled model id"
            )
        out[alias] = (base, (row.get("note") or "").strip())
    return out


@lru_cache(maxsize=1)
def _aliases() -> dict[str, tuple[str, str]]:
    """alias -> (bundled base id, note): ``aliases.csv``'s, then the quantised checkpoints ``alias_checkpoints.csv``
    names with a ``same_architecture_as`` (``aliases.csv`` is a hashed reference copy, so checkpoints the catalogue
    adds live there; the file read once, :func:`alias_checkpoints`)."""
    added = {c.alias: (c.same_architecture_as, "quantised checkpoint of the same architecture "
                       "(catalog/alias_checkpoints.csv)")
             for c in alias_checkpoints().values() if c.same_architecture_as is not None}
    return {**_listed_aliases(), **added}


ALIAS_COLUMNS = ("alias", "same_architecture_as", "weights", "attention_weights", "source")


@dataclass(frozen=True)
class AliasCheckpoint:
    """One row of ``alias_checkpoints.csv``, checked once (:func:`alias_checkpoints`): a quantised checkpoint's id,
    the bundled model whose architecture it shares where the catalogue adds it as an alias (None: an alias of
    ``aliases.csv``), the weight format it ships, its attention projections' format where the quantisation leaves
    them out (None: as the weights) and the source that says so."""

    alias: str
    same_architecture_as: str | None
    weights: str
    attention_weights: str | None
    source: str


@lru_cache(maxsize=1)
def alias_checkpoints() -> dict[str, AliasCheckpoint]:
    """alias -> its :class:`AliasCheckpoint`, the one reader of ``alias_checkpoints.csv`` (:func:`_aliases` takes
    the aliases it adds from here, ``catalog.checkpoints`` the formats). A row is refused with a :class:`SpecError`
    naming the file, the line, the column, the value and what is allowed: an alias blank or listed twice; a
    ``same_architecture_as`` that is not a bundled id, or given for an alias already bundled or in ``aliases.csv``;
    left blank for an alias ``aliases.csv`` does not list; weights (or attention_weights, where given) not a format
    of ``spec.formats``; no source."""
    from inferchip.spec.formats import ALL_FORMATS

    where = "catalog/alias_checkpoints.csv"
    try:
        text = _ALIAS_CSV.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{where}: cannot read file ({exc.strerror})") from None
    rows = csv.DictReader(io.StringIO(text))
    missing = [c for c in ALIAS_COLUMNS if c not in (rows.fieldnames or ())]
    if missing:
        raise SpecError(f"{where}: header: no column {', '.join(missing)}; expected the columns "
                        f"{', '.join(ALIAS_COLUMNS)}")
    bundled, listed = set(_bundled_ids()), set(_listed_aliases())
    formats = ", ".join(ALL_FORMATS)
    out: dict[str, AliasCheckpoint] = {}
    for row in rows:
        alias, base, fmt, attn, source = ((row.get(k) or "").strip() for k in ALIAS_COLUMNS)

        def bad(column: str, value: str, allowed: str) -> SpecError:
            return SpecError(f"{where}: line {rows.line_num}: column {column} = {value!r}: expected {allowed}")

        if not alias or alias in out:
            raise bad("alias", alias, "a checkpoint id, once in the file")
        if base and (base not in bundled or alias in bundled or alias in listed):
            raise bad("same_architecture_as", base, f"a bundled model id, for an alias ({alias!r}) neither bundled "
                      "nor in catalog/aliases.csv")
        if not base and alias not in listed:
            raise bad("alias", alias, "an alias of catalog/aliases.csv, or a same_architecture_as naming its "
                      "bundled model")
        if fmt not in ALL_FORMATS:
            raise bad("weights", fmt, f"one of {formats}")
        if attn and attn not in ALL_FORMATS:
            raise bad("attention_weights", attn, f"blank (as the weights) or one of {formats}")
        if not source:
            raise bad("source", source, "where the checkpoint's formats are stated")
        out[alias] = AliasCheckpoint(alias, base or None, fmt, attn or None, source)
    return out


def model_ids() -> list[str]:
    """Every id :func:`load_model` accepts: bundled models, then aliases, each sorted."""
    return [*_bundled_ids(), *sorted(_aliases())]


def resolve_alias(model_id: str) -> str:
    """The bundled id whose architecture ``model_id`` shares (``model_id`` itself if not an alias)."""
    entry = _aliases().get(model_id)
    return entry[0] if entry else model_id


def _canonical(given: str) -> str | None:
    """The catalogue id matching ``given`` exactly, else case-insensitively, else by the name
    after the organisation ("Qwen3-8B" -> "Qwen/Qwen3-8B"), when that match is unique."""
    ids = model_ids()
    if given in ids:
        return given
    low = given.lower()
    for match in ([i for i in ids if i.lower() == low], [i for i in ids if i.lower().partition("/")[2] == low]):
        if len(match) == 1:
            return match[0]
    return None


def mtp_modules(model_id: str, config: UserConfig | None = None) -> int | None:
    """Multi-token-prediction modules the model ships: its config's ``num_nextn_predict_layers`` (DeepSeek-V3
    Technical Report, arXiv 2412.19437, section 2.2, one module on DeepSeek-V3/R1), 0 where the bundled config or the
    user's ``config`` (``--model`` read as a file) states none, None for a model the catalogue does not bundle given
    without its config (its config unknown here)."""
    if config is not None:  # a user's config.json was read for --model: its own statement (a Kimi-K2 copy: 0)
        return int(config.mapping.get("num_nextn_predict_layers") or 0)
    canon = _canonical(model_id)
    path = None if canon is None else _file_for(resolve_alias(canon))
    if path is None or not is_file(path):
        return None
    return int(read_mapping(path).get("num_nextn_predict_layers") or 0)


@lru_cache(maxsize=256)
def _load_bundled(model_id: str) -> ModelSpec:
    path = _file_for(model_id)
    return model_spec_from_config(read_mapping(path), model_id, f"catalog/models/{path.name}")


CONFIG_DICT = "the config dict"
"""Where a config given as a Python mapping was read, in messages (it has no file)."""


@dataclass(frozen=True)
class UserConfig:
    """A user's config file read once: where it is and its parsed mapping, from which the model
    (:func:`model_from_user_config`) and its checkpoint's formats (``catalog.checkpoints``) are all read.
    ``path`` None: a mapping given in Python (``load_model({...})``), which has no file and no sidecar."""

    path: Path | None
    mapping: dict[str, Any]

    def __hash__(self) -> int:
        """By content, as equality is: a setting resolved for one config is reused for an equal one only (keyed by
        identity, a mapping freed and another made at its address would have found the first one's setting)."""
        return hash((self.path, json.dumps(self.mapping, sort_keys=True, default=repr)))


def read_user_config(path: Path) -> UserConfig:
    """Read a user's ``config.json`` (or a folder holding one); never cached, files change."""
    if path.is_dir():
        path = path / "config.json"
    return UserConfig(path, read_mapping(path))


def model_from_user_config(config: UserConfig) -> ModelSpec:
    """The model a user's config states. The id is the config's ``_name_or_path`` when present, else the folder name
    for a file called ``config.json``, else the file stem."""
    path = config.path
    name = config.mapping.get("_name_or_path")
    if path is None:  # a mapping given in Python: its _name_or_path (transformers' to_dict() writes it), else a name
        return model_spec_from_config(config.mapping, str(name) if name else "user-config", CONFIG_DICT)
    model_id = str(name) if name else (path.parent.name if path.name == "config.json" else path.stem)
    return model_spec_from_config(config.mapping, model_id or path.stem, str(path))


def load_user_config(path: Path) -> ModelSpec:
    """Parse a user's ``config.json`` (or a folder holding one); never cached, files change."""
    return model_from_user_config(read_user_config(path))


ModelInput = str | Path | Mapping[str, Any]
"""What names an LLM: a catalogue id or alias, a path to a ``config.json`` (or its folder), or the config's mapping."""


def load_model(id_or_path: ModelInput) -> ModelSpec:
    """A bundled model, an alias (base architecture, requested id), a user's config file or its mapping (a dict as
    ``json.load`` or transformers' ``PretrainedConfig.to_dict()`` gives it; its id: ``_name_or_path``, else
    ``user-config``).

    Unknown ids raise :class:`UnknownIdError` naming the closest catalogue ids; another type of argument
    :class:`InvalidSettingError` naming it.
    """
    return load_model_config(id_or_path)[0]


def model_type_error(model: object) -> InvalidSettingError:
    """The error of a ``model`` argument of no type the API reads."""
    return InvalidSettingError(f"model: {model!r} ({type(model).__name__}) names no model; allowed: a catalogue id "
                               "(`inferchip models`), a config.json path, a config dict or a ModelSpec (ic.load_model)")


def load_model_config(id_or_path: ModelInput) -> tuple[ModelSpec, UserConfig | None]:
    """:func:`load_model`'s model with the user's config file it read (None for a catalogue id or alias), for a
    caller that also reads the checkpoint's formats from it (``performance.setting``: the file read once)."""
    if isinstance(id_or_path, Mapping):
        if not all(isinstance(k, str) for k in id_or_path):
            bad = [k for k in id_or_path if not isinstance(k, str)][:3]
            raise InvalidSettingError(f"model: a config dict's keys must be texts, got {bad!r}; allowed: "
                                      "config.json's field names")
        config = UserConfig(None, dict(id_or_path))
        return model_from_user_config(config), config
    if not isinstance(id_or_path, str | Path):
        raise model_type_error(id_or_path)
    if isinstance(id_or_path, Path):
        config = read_user_config(id_or_path)
        return model_from_user_config(config), config
    given = id_or_path.strip()
    if given.lower().endswith(".onnx"):
        how = ("`inferchip vision --model FILE.onnx --dim NAME=VALUE` (or `inferchip drive`)"
               if current_spelling().options else "ic.load_network(FILE.onnx, NAME=VALUE) and ic.frame_cost (or "
               "ic.drive)")  # the interface running's way
        raise SpecError(f"{given}: an ONNX graph is a vision network, not an LLM config; cost it with {how}")
    model_id = _canonical(given)
    if model_id is None:
        path = user_path(given)
        if is_file(path) or (is_dir(path) and is_file(path / "config.json")) or given.endswith(".json"):
            config = read_user_config(path)
            return model_from_user_config(config), config
        if is_dir(path):  # a checkpoint folder without its config.json
            raise SpecError(f"{path}: a folder without a config.json; allowed: a model id, a config.json or a "
                            "folder holding one")
        if exists(path):  # /dev/null, a pipe: there, but neither a file nor a folder
            raise SpecError(not_a_file(path, "model"))
        err = UnknownIdError("model", given, model_ids())
        from inferchip.catalog.vision_networks import is_vision_network  # `inferchip models` lists both families

        if is_vision_network(given):
            err.args = (f"'{given}' is a vision network, not an LLM; cost it with `inferchip vision --model {given}` "
                        f"(or `inferchip drive --model {given}`)",)
        raise err
    return (_load_alias(model_id) if model_id in _aliases() else _load_bundled(model_id)), None


@lru_cache(maxsize=256)
def _load_alias(alias: str) -> ModelSpec:
    base, note = _aliases()[alias]
    spec = _load_bundled(base)
    doubts = (*spec.doubts, f"inferchip: alias of {base} in catalog/aliases.csv ({note}); shapes are {base}'s.")
    return spec.model_copy(update={"id": alias, "doubts": doubts})


# ------------------------------------------------------------------ reported parameter counts
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_FIGURE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*([KMBT])?\b", re.IGNORECASE)


@dataclass(frozen=True)
class ReportedCount:
    """A vendor's parameter count as written in the catalogue (``_total_params_reported``...).

    ``params`` is the most precise figure given. ``exact`` is true for a plain integer
    ("6,053,381,344") or a parenthesised precise figure ("1B (1.23B)"); ``nominal`` when the
    text says it is only the size in the model's name. ``active_params`` is filled from a
    "47B / 13B active" form.
    """

    params: float
    exact: bool
    nominal: bool
    active_params: float | None = None


def _figure(text: str) -> tuple[float, bool] | None:
    """First number in ``text`` with its scale letter; (value, written as a full integer)."""
    m = _FIGURE.search(text)
    if m is None:
        return None
    digits, scale = m.group(1).replace(",", ""), m.group(2)
    if scale is None:
        return float(digits), "." not in digits
    return float(digits) * _SCALE[scale.upper()], False


def parse_param_count(text: str) -> ReportedCount:
    """Parse "7B", "1B (1.23B)", "47B / 13B active", "6,053,381,344", "14B (nominal, ...)"."""
    head, _, rest = text.partition("/")
    main = _figure(head.split("(")[0])
    if main is None:
        raise SpecError(f"parameter count {text!r}: expected a figure such as '7B', '1B (1.23B)' or '6,053,381,344'")
    value, exact = main
    inner = re.search(r"\(([^)]*)\)", head)
    if inner and "nominal" not in inner.group(1).lower():
        precise = _figure(inner.group(1))
        if precise is not None:
            value, exact = precise[0], True
    active = _figure(rest) if "active" in rest.lower() else None
    return ReportedCount(value, exact, "nominal" in text.lower(), active[0] if active else None)


def input_key(x: object) -> object:
    """A ChipSpec or config mapping as its content (its text), other arguments as they are, for a cache of the API's
    calls: a notebook's loop over one such object finds its setting again, and one changed in place is resolved
    afresh (keyed by identity, it was not; unhashable, ``predict`` cached nothing for them)."""
    if isinstance(x, ChipSpec):
        return ("ChipSpec", x.model_dump_json())
    return ("config", json.dumps(x, sort_keys=True, default=repr)) if isinstance(x, Mapping) else x


def api_inputs(chip: ChipInput | ChipParams, model: ModelInput | ModelSpec, chip_spec: ChipSpec | None,
               config: UserConfig | None, estimate: str
               ) -> tuple[str | ChipParams, str | ModelSpec, ChipSpec | None, UserConfig | None]:
    """The API's chip and model as ``performance.setting.resolve_setting`` takes them: a ChipSpec (or a chip YAML's
    Path) as its parameters at ``estimate`` with the spec, a config mapping (or a config's Path) as its ModelSpec with
    the config read; an argument of another type is an InvalidSettingError naming it."""
    from inferchip.catalog.chips import get_chip_params, load_chip

    if not isinstance(chip, str | ChipParams):
        spec = load_chip(chip)
        level = estimate if estimate in ("low", "central", "high") else "central"  # resolve_setting names a bad one
        chip, chip_spec = get_chip_params(spec, cast(EstimateLevel, level)), chip_spec or spec
    if not isinstance(model, str | ModelSpec):
        model, config = load_model_config(model)
    return chip, model, chip_spec, config
