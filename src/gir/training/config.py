"""Run configuration: defaults, YAML loading, ``dotted.key=value`` overrides and validation.

One YAML file describes a run. Missing keys take the defaults in :data:`SCHEMA`; unknown keys, wrong types
and out-of-range values raise :class:`ConfigError` with a one-line message naming the key. Relative paths
(data roots, LQ/GT folders, weight files) are resolved against the current directory when the config is
loaded, and the resolved config written into the run folder holds absolute paths, so ``--resume`` works
from anywhere.

Sections whose contents depend on a ``type`` (``model``, ``optim``, ``schedule``, each ``loss`` item) are
checked by the registry that builds them. Changing such a section's ``type`` (in the file or by an
override) drops the default's other keys, so ``schedule.type=constant`` does not inherit cosine's
``min_lr``.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from gir.data.content import VEIL_STRENGTH
from gir.data.errors import ConfigError
from gir.data.folders import IMAGE_SUFFIXES
from gir.training.values import bad, to_float, to_int


@dataclass(frozen=True)
class F:
    """One config value: its default, kind (how it is checked/coerced) and constraints."""

    default: Any
    kind: str  # int float bool str path paths strlist list dict typed order
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    doc: str = ""


SCHEMA: dict[str, Any] = {
    "name": F(None, "str", nullable=True, doc="run name; default: the config file's stem"),
    "seed": F(0, "int", min=0, doc="seeds the data stream (sample = f(seed, index)) and the weight init"),
    "model": F({"type": "srcnn", "preset": "small"}, "typed", doc="gir.models.build_model config"),
    "objective": F({"type": "restore"}, "typed",
                   doc="what a step optimises: restore (LQ -> GT with `loss`), analyze (the degradation "
                       "analyzer), dcpt (paper 004 pre-training); see gir.training.objectives"),
    "init": {
        "path": F(None, "path", nullable=True, doc="start from these weights (a gir checkpoint)"),
        "key": F("params_ema", "str", doc="which weights of the checkpoint: params_ema or params"),
        "strict": F(True, "bool", doc="false: layers the checkpoint lacks keep their initialisation "
                                      "(e.g. a context branch added to a trained net); shapes must still match"),
        "exclude": F([], "strlist", doc="checkpoint tensors whose names start with one of these are left out "
                                        "(e.g. a branch the new model drops); each prefix must match one"),
    },
    "data": {
        "train": {
            "mode": F("gir", "str", doc="single | mix | gir | clean | compose | strategy | paired"),
            "roots": F([], "paths", doc="clean-image folders (recursive)"),
            "recursive": F(True, "bool"),
            "suffixes": F(list(IMAGE_SUFFIXES), "strlist"),
            "max_images": F(None, "int", nullable=True, min=1, doc="use only the first N files"),
            "cache": F(True, "bool", doc="keep decoded images in memory as uint8"),
            "flip": F(True, "bool"),
            "rot90": F(True, "bool"),
            "quantize": F(True, "bool", doc="round degraded patches to 8-bit levels"),
            "scene_depth": F(True, "bool", doc="depth-aware ops use the whole image's depth"),
            "num_workers": F(0, "int", min=0),
            "context_margin": F(0, "int", min=0, doc="degrade a region this many px wider on every side and "
                                                     "give it to the net's image-level context (context nets)"),
            "flat_regions": F(0.0, "float", min=0.0, max=1.0,
                              doc="probability that solid shapes (borders, black or white areas) are painted "
                                  "into a clean patch before degradation, so the net keeps them"),
            "veiled": F(0.0, "float", min=0.0, max=1.0,
                        doc="probability that a clean patch is made pale by a uniform veil before "
                            "degradation, so the net does not dehaze pale photos"),
            "structures": F(0.0, "float", min=0.0, max=1.0,
                            doc="probability that thin regular structure (stripes, grids, fences, text, line "
                                "art) is drawn into a clean patch before degradation, so it is not taken for "
                                "damage or rain"),
            "gray": F(0.0, "float", min=0.0, max=1.0,
                      doc="probability that a clean patch is made grey (its luma in R, G and B) before "
                          "degradation, so the net sees grey texture beside colour noise"),
            "veil_strength": F(list(VEIL_STRENGTH), "list",
                               doc="[low, high] of the veil's weight a: (1 - a) img + a c"),
            "single": {
                "op": F("noise", "str"),
                "params": F({}, "dict", doc="fixed parameters; the rest random when random is true"),
                "random": F(True, "bool"),
                "name": F(None, "str", nullable=True),
            },
            "mix": {"tasks": F([], "list", doc="recipe texts or {recipe, name, random, weight|repeat, roots}")},
            "gir": {
                "order": F("1-5", "order"),
                "pool": F(None, "strlist", nullable=True, doc="op names; null = every registered op"),
                "strength": F("random", "str", choices=("random", "representative")),
            },
            "clean": {"name": F("clean", "str")},
            "strategy": {
                "type": F("incremental", "str", choices=("mix", "combine", "sequence", "incremental"),
                          doc="Mix-, Combine-, Sequence-Train or incremental learning (paper 001)"),
                "tasks": F([], "list", doc="as mix.tasks; one-op recipes are isolated, longer ones coupled"),
                "isolated_iterations": F(None, "int", nullable=True, min=1,
                                         doc="incremental: iterations on isolated tasks first (default: a "
                                             "third of train.iterations)"),
            },
            "compose": {"parts": F([], "list", doc="[{mode, weight, ...that mode's own keys}]")},
            "paired": {
                "lq": F(None, "path", nullable=True),
                "gt": F(None, "path", nullable=True),
                "task": F("paired", "str"),
            },
        },
        "val": {
            "roots": F([], "paths", doc="clean images degraded by each of `tasks`"),
            "tasks": F([], "list", doc="recipe texts or {name, recipe, seed}"),
            "lq": F(None, "path", nullable=True, doc="or pre-made pairs: LQ folder"),
            "gt": F(None, "path", nullable=True),
            "pair_task": F("paired", "str"),
            "max_images": F(8, "int", nullable=True, min=1),
            "crop": F(256, "int", nullable=True, min=8, doc="centre crop side; null = whole images"),
            "crop_border": F(0, "int", min=0),
            "y_channel": F(False, "bool"),
            "quantize": F(True, "bool"),
            "recursive": F(True, "bool"),
            "suffixes": F(list(IMAGE_SUFFIXES), "strlist"),
        },
    },
    "train": {
        "iterations": F(1000, "int", min=1),
        "batch_size": F(8, "int", min=1, doc="per process; W ranks see W x batch_size samples per step"),
        "patch_size": F(128, "int", min=8),
        "ema": F(0.999, "float", nullable=True, min=0.0, max=0.999999, doc="EMA decay; 0 or null = off"),
        "grad_clip": F(None, "float", nullable=True, min=0.0, doc="max gradient norm"),
        "amp": F("auto", "str", choices=("auto", "off", "bf16", "fp16")),
        "device": F("auto", "str", doc="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps"),
        "threads": F(None, "int", nullable=True, min=1, doc="torch CPU threads; null = torch's default"),
        "log_interval": F(50, "int", min=1),
        "val_interval": F(1000, "int", min=0, doc="0 = validate only at the end"),
        "save_interval": F(1000, "int", min=0, doc="0 = save only at the end"),
        "keep_states": F(2, "int", min=1, doc="training states kept (weights are all kept)"),
        "progress": F(True, "bool"),
        "stop_at": F(None, "int", nullable=True, min=1,
                     doc="end this session after that iteration (saving), as a time-limited job would; "
                          "not kept in the run's config.yaml"),
    },
    "optim": F({"type": "adamw", "lr": 2e-4, "betas": [0.9, 0.999], "weight_decay": 1e-4}, "typed"),
    "schedule": F({"type": "cosine", "warmup": 0, "min_lr": 1e-7}, "typed"),
    "loss": F([{"type": "l1", "weight": 1.0}], "list", doc="terms: {type, weight, ...}"),
}


def describe(schema: dict = SCHEMA, prefix: str = "") -> list[str]:
    """One line per config key: ``dotted.key = default (choices)  # doc``, for help listings."""
    lines = []
    for k, v in schema.items():
        if isinstance(v, dict):
            lines += describe(v, f"{prefix}{k}.")
            continue
        default = yaml.safe_dump(v.default, default_flow_style=True, sort_keys=False).strip()
        default = default.removesuffix("...").strip()  # scalars are dumped as a document
        choices = f" ({' | '.join(map(str, v.choices))})" if v.choices else ""
        doc = f"  # {v.doc}" if v.doc else ""
        lines.append(f"{prefix}{k} = {default}{choices}{doc}")
    return lines


def defaults() -> dict:
    """The full default config."""
    return _defaults(SCHEMA)


def _defaults(schema: dict) -> dict:
    return {k: _defaults(v) if isinstance(v, dict) else copy.deepcopy(v.default) for k, v in schema.items()}


# ---------------------------------------------------------------------------------------------- loading
def read_config(config: str | Path | dict) -> tuple[dict, str | None]:
    """The user's config mapping and a default run name: from a dict, a YAML file, or YAML text."""
    if isinstance(config, dict):
        return copy.deepcopy(config), None
    text, name = None, None
    s = str(config)
    if isinstance(config, Path) or s.endswith((".yaml", ".yml")) or ("\n" not in s and ":" not in s):
        path = Path(s).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {s} does not exist")
        text, name = path.read_text(), path.stem
    else:
        text = s
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {name or '(text)'}: invalid YAML{where}: "
                          f"{getattr(e, 'problem', None) or e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {name or '(text)'}: expected a mapping at the top level")
    return data, name


def apply_override(cfg: dict, override: str) -> None:
    """Set ``dotted.key=value`` in ``cfg`` (value parsed as YAML; list items by number: ``loss.0.weight``).

    Missing sections are copied from the defaults first so list and typed sections can be edited in place.
    """
    if not isinstance(override, str) or "=" not in override:
        raise ConfigError(f"override {override!r}: expected dotted.key=value")
    key, _, raw = override.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"override {override!r}: bad key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override {override!r}: the value is not valid YAML") from None
    node: Any = cfg
    dnode: Any = defaults()
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        dnext = _child(dnode, part)
        if isinstance(node, list):
            idx = _index(part, node, override)
            node = node[idx]
        else:
            if not isinstance(node, dict):
                raise ConfigError(f"override {override!r}: {'.'.join(parts[:i]) or 'config'} is not a section")
            if part not in node or node[part] is None:
                node[part] = copy.deepcopy(dnext) if isinstance(dnext, (dict, list)) else {}
            node = node[part]
        dnode = dnext
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"override {override!r}: {where} is not a section")
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, node, override)] = value
    elif last == "type" and isinstance(node, dict) and node.get("type") not in (None, value):
        node.clear()  # a new type: the old type's keys no longer apply
        node["type"] = value
    else:
        node[last] = value


def _child(d: Any, part: str) -> Any:
    if isinstance(d, dict):
        return d.get(part)
    if isinstance(d, list) and part.isdigit() and int(part) < len(d):
        return d[int(part)]
    return None


def _index(part: str, node: list, override: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise ConfigError(f"override {override!r}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


_SCI = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _scientific_to_float(obj: Any) -> Any:
    """YAML 1.1 reads ``2e-4`` (no dot) as a string; turn such strings into floats everywhere."""
    if isinstance(obj, dict):
        return {k: _scientific_to_float(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scientific_to_float(v) for v in obj]
    if isinstance(obj, str) and _SCI.match(obj.strip()):
        return float(obj)
    return obj


def merge(base: dict, user: dict, schema: dict = SCHEMA) -> dict:
    """``user`` over ``base`` (the defaults), section by section; typed sections of another type replace."""
    out = copy.deepcopy(base)
    for k, v in user.items():
        spec = schema.get(k) if isinstance(schema, dict) else None
        if isinstance(spec, dict) and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v, spec)
        elif isinstance(spec, F) and spec.kind == "typed" and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v} if v.get("type", out[k].get("type")) == out[k].get("type") else dict(v)
        elif isinstance(spec, F) and spec.kind == "dict" and isinstance(v, dict):
            out[k] = dict(v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(config: str | Path | dict, overrides: Iterable[str] = ()) -> dict:
    """The validated, complete config: defaults < file/dict < overrides. Raises :class:`ConfigError`."""
    user, name = read_config(config)
    for ov in overrides or ():
        apply_override(user, ov)
    cfg = merge(defaults(), _scientific_to_float(user))
    if cfg.get("name") is None:
        cfg["name"] = name or "run"
    cfg = validate(cfg)
    check_typed_sections(cfg)
    return cfg


def validate(cfg: dict) -> dict:
    """Check every key and value against :data:`SCHEMA`; returns the coerced config (paths absolute)."""
    out = _validate(cfg, SCHEMA, "")
    _resolve_nested_paths(out)
    return out


def check_typed_sections(cfg: dict) -> None:
    """The keys of every section whose contents depend on its ``type`` (``model``, ``objective``, ``optim``,
    ``schedule``, each ``loss`` term) against what builds it, so that a misspelt key fails when the config is
    loaded rather than after the data is read. Unknown types are left to the builders, which name the known
    ones."""
    from gir.models import check_model_config, list_models
    from gir.training.losses import LOSSES
    from gir.training.objectives import OBJECTIVES, register_all
    from gir.training.optim import OPTIMIZERS, SCHEDULERS

    register_all()
    if cfg["model"]["type"] in list_models():
        check_model_config(cfg["model"], where="config: model")
    if cfg["objective"]["type"] in OBJECTIVES:
        OBJECTIVES.check(cfg["objective"], where="config: objective")
    if cfg["optim"]["type"] in OPTIMIZERS:
        OPTIMIZERS.check(cfg["optim"], [], where="config: optim")  # [] for the parameters
    if cfg["schedule"]["type"] in SCHEDULERS:
        SCHEDULERS.check(cfg["schedule"], 1, 1.0, where="config: schedule")  # iterations, base rate
    for i, term in enumerate(cfg["loss"]):
        if isinstance(term, dict) and term.get("type") in LOSSES:
            LOSSES.check({k: v for k, v in term.items() if k != "weight"}, where=f"config: loss[{i}]")


def _validate(cfg: Any, schema: dict, prefix: str) -> dict:
    if not isinstance(cfg, dict):
        raise ConfigError(f"config {prefix.rstrip('.') or '(top level)'}: expected a mapping, got {cfg!r}")
    unknown = [k for k in cfg if k not in schema]
    if unknown:
        raise ConfigError(f"config: unknown key {prefix}{unknown[0]}; known in "
                          f"{prefix.rstrip('.') or 'the top level'}: {', '.join(schema)}")
    out = {}
    for k, spec in schema.items():
        key = prefix + k
        v = cfg.get(k, _defaults(spec) if isinstance(spec, dict) else copy.deepcopy(spec.default))
        out[k] = _validate(v, spec, key + ".") if isinstance(spec, dict) else coerce(v, spec, key)
    return out


# The words YAML 1.1 reads as booleans, the first of each kept where a string is expected (the first that is
# one of the key's choices, when it has them: `amp: off` stays "off").
_BOOL_WORDS = {True: ("on", "true", "yes"), False: ("off", "false", "no")}


def coerce(v: Any, spec: F, key: str) -> Any:
    """``v`` checked and converted to ``spec.kind``; raises :class:`ConfigError` naming ``key``."""
    if v is None:
        if spec.nullable:
            return None
        raise ConfigError(f"config: {key} must be set (it cannot be null)")
    kind = spec.kind
    if kind == "int":
        v = to_int(v, key)
    elif kind == "float":
        v = to_float(v, key)
    elif kind == "bool":
        if not isinstance(v, bool):
            raise bad(key, "true or false", v)
    elif kind == "str":
        if isinstance(v, bool):  # YAML 1.1 reads on/off/yes/no/true/false as booleans: `train.amp=off`
            words = _BOOL_WORDS[v]
            v = next((w for w in words if spec.choices and w in spec.choices), words[0])
        if not isinstance(v, str):
            raise bad(key, "a string", v)
    elif kind == "path":
        if not isinstance(v, (str, Path)) or not str(v):
            raise bad(key, "a path", v)
        v = _abspath(v)
    elif kind == "paths":
        v = [v] if isinstance(v, (str, Path)) else v
        if not isinstance(v, list) or not all(isinstance(p, (str, Path)) and str(p) for p in v):
            raise bad(key, "a path or a list of paths", v)
        v = [_abspath(p) for p in v]
    elif kind == "strlist":
        v = [v] if isinstance(v, str) else v
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise bad(key, "a list of strings", v)
    elif kind == "list":
        if not isinstance(v, list):
            raise bad(key, "a list", v)
    elif kind == "dict":
        if not isinstance(v, dict):
            raise bad(key, "a mapping", v)
    elif kind == "typed":
        if not isinstance(v, dict) or not isinstance(v.get("type"), str):
            raise bad(key, "a mapping with a 'type' name", v)
    elif kind == "order":
        if isinstance(v, bool) or not isinstance(v, (int, str, list)):
            raise bad(key, "N, 'LO-HI' or [LO, HI]", v)
    else:  # pragma: no cover - schema error
        raise AssertionError(kind)
    if spec.choices is not None and v not in spec.choices:
        raise ConfigError(f"config: {key} must be one of {', '.join(map(str, spec.choices))}, got {v!r}")
    if spec.min is not None and v < spec.min:
        raise ConfigError(f"config: {key} must be >= {spec.min}, got {v!r}")
    if spec.max is not None and v > spec.max:
        raise ConfigError(f"config: {key} must be <= {spec.max}, got {v!r}")
    return v


def _abspath(p: str | Path) -> str:
    return os.path.abspath(os.path.expanduser(str(p)))


def _resolve_nested_paths(cfg: dict) -> None:
    """Absolute paths inside free-form items: mix tasks' ``roots`` (also inside compose parts) and loss
    terms' ``weights``."""
    train = cfg["data"]["train"]
    _resolve_task_roots(train["mix"]["tasks"], "data.train.mix.tasks")
    _resolve_task_roots(train["strategy"]["tasks"], "data.train.strategy.tasks")
    for i, part in enumerate(train["compose"]["parts"]):
        if isinstance(part, dict) and part.get("mode") == "mix" and isinstance(part.get("tasks"), list):
            _resolve_task_roots(part["tasks"], f"data.train.compose.parts[{i}].tasks")
    for i, term in enumerate(cfg["loss"]):
        if isinstance(term, dict) and isinstance(term.get("weights"), (str, Path)):
            term["weights"] = _abspath(term["weights"])


def _resolve_task_roots(tasks: list, key: str) -> None:
    for i, t in enumerate(tasks):
        if isinstance(t, dict) and t.get("roots") is not None:
            roots = t["roots"]
            if isinstance(roots, (str, Path)):
                roots = [roots]
            if not isinstance(roots, list) or not all(isinstance(r, (str, Path)) for r in roots):
                raise ConfigError(f"config: {key}[{i}].roots must be a path or a list of paths")
            t["roots"] = [_abspath(r) for r in roots]


def dump_config(cfg: dict) -> str:
    """YAML text of a config (section order kept)."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, width=110)


def write_config(cfg: dict, path: str | Path) -> None:
    Path(path).write_text(dump_config(cfg))


def budgeted_run(name: str, seed: int, model: dict, roots: Iterable[str | Path], max_images: int | None,
                 tasks: list, val: dict, budget: Any, device: str) -> dict:
    """A short, quiet ``gir train`` config that mixes ``tasks`` (``data.train.mode: mix``) under ``budget``
    (anything with ``iterations``, ``batch_size``, ``patch_size``, ``lr``, ``warmup``): no EMA, no periodic
    validation or saving, one kept state, Adam and a cosine schedule, L1. Shared by the benchmark lines
    (:mod:`gir.bench.lines`) and GRIDS' verification runs (:mod:`gir.grids.grouping`), which train many such
    networks and compare them."""
    return {
        "name": name,
        "seed": int(seed),
        "model": dict(model),
        "data": {"train": {"mode": "mix", "roots": [str(r) for r in roots], "max_images": max_images,
                           "num_workers": 0, "mix": {"tasks": list(tasks)}},
                 "val": val},
        "train": {"iterations": budget.iterations, "batch_size": budget.batch_size,
                  "patch_size": budget.patch_size, "ema": None, "log_interval": max(1, budget.iterations // 10),
                  "val_interval": 0, "save_interval": 0, "keep_states": 1, "progress": False, "device": device},
        "optim": {"type": "adam", "lr": budget.lr},
        "schedule": {"type": "cosine", "warmup": min(budget.warmup, budget.iterations - 1), "min_lr": 1e-6},
        "loss": [{"type": "l1", "weight": 1.0}],
    }
