"""Degradation grouping search (paper 002, sec. 5.1, Algorithm 1) with a pluggable verifier.

Goal: partition the ops into as few groups as possible such that every group's largest PSNR drop against the
single-task models (ΔP, eq. 4) is at most ``delta`` (eq. 5). ``verify(group) -> ΔP`` is the expensive oracle
(in real use it trains a model on the group: :func:`verify_by_training`); every group is verified at most
once, singletons never (a single-op group *is* the single-task model: ΔP = 0).

Steps (:func:`search_groups`):

1. Rank the groups of each size L (Λ_L, :func:`candidate_groups`) by their mean pairwise distance in the
   similarity matrix, smallest first; the distance of a pair is the symmetrised log KL (S_ij + S_ji) / 2.
   Means within the same ``tie``-wide bin are ordered by the variance of the pairwise distances (smaller
   first), then by the ops' positions in the matrix, so the ranking is deterministic.
2. L_max: binary search over L in [1, n] verifying the top-ranked group of Λ_L (ΔP <= delta: feasible, so
   L_max >= L; else every size above is dropped).
3. For each 2 <= L <= L_max, binary search over the ranking of Λ_L for the last feasible group; the groups
   ranked after it are dropped. This assumes feasibility falls with the rank; the remaining groups between
   verified ones are verified later, only if a partition needs them.
4. Binary search on the number of groups m in [ceil(n / L_max), n]: Solve(m) is a depth-first search for a
   partition of at most m groups made of the kept groups (larger groups first, then by rank; the op that
   comes first in the matrix is placed first). A complete partition is accepted once every group in it is
   verified feasible; a group that fails verification is never used again. "At most m" (rather than the
   paper's "exactly m") makes the search monotone in m, so the binary search is exact; the minimum is the same.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gir.bench.evaluate import EvalTask, evaluate, load_images, mean_table
from gir.degradations import Recipe
from gir.errors import GirError
from gir.io import atomic_write
from gir.restore.engine import Restorer
from gir.training import train_in
from gir.training.config import budgeted_run

Group = tuple[str, ...]
Verifier = Callable[[Group], float]
MAX_OPS = 20
"""More ops than this make the candidate lists (2^n groups) too large to rank."""
RANKING = ("mean pairwise symmetrised log-KL distance, smaller first; means in the same tie-wide bin ordered by "
           "the variance of the pairwise distances")


# ------------------------------------------------------------------------------------------ candidates
def pair_distance(matrix: np.ndarray) -> np.ndarray:
    """Symmetrised distance (S + S^T) / 2 with a zero diagonal (the diagonal of S is ignored)."""
    m = np.array(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise GirError(f"a similarity matrix must be square, got shape {m.shape}")
    np.fill_diagonal(m, 0.0)
    if not np.all(np.isfinite(m)):
        raise GirError("the similarity matrix has non-finite off-diagonal entries")
    return (m + m.T) / 2.0


def group_stats(dist: np.ndarray, idx: Sequence[int]) -> tuple[float, float]:
    """(mean, variance) of the pairwise distances within the group of matrix indices ``idx`` ((0, 0) for one)."""
    vals = [dist[i, j] for i, j in itertools.combinations(idx, 2)]
    if not vals:
        return 0.0, 0.0
    return float(np.mean(vals)), float(np.var(vals))


def candidate_groups(matrix: np.ndarray, ops: Sequence[str], L: int, tie: float = 0.05) -> list[Group]:
    """Λ_L: every group of ``L`` ops, ranked (see the module docstring; :data:`RANKING`). Ops inside a group
    keep the matrix order."""
    ops = list(ops)
    dist = pair_distance(matrix)
    if dist.shape[0] != len(ops):
        raise GirError(f"matrix is {dist.shape[0]}x{dist.shape[0]} but {len(ops)} ops are named")
    if not 1 <= L <= len(ops):
        raise GirError(f"group size must be in 1..{len(ops)}, got {L}")
    keyed = []
    for idx in itertools.combinations(range(len(ops)), L):
        mean, var = group_stats(dist, idx)
        bin_ = math.floor(mean / tie + 1e-9) if tie > 0 else mean
        keyed.append(((bin_, var, mean, idx), tuple(ops[i] for i in idx)))
    keyed.sort(key=lambda kv: kv[0])
    return [g for _, g in keyed]


def exhaustive_verifications(n: int) -> int:
    """Groups an exhaustive search would verify: every group of 2 or more of ``n`` ops (2^n - n - 1)."""
    return 2 ** n - n - 1


# ------------------------------------------------------------------------------------------------ result
@dataclass
class Grouping:
    """The result of :func:`search_groups`.

    groups: the partition (each group's ops in matrix order; groups in the order found).
    drops: ΔP of every group verified (key: ops joined by '+'), in the order verified.
    verifications: calls made to the verifier (cached and singleton groups do not count).
    l_max: the largest group size kept; kept: how many ranked candidates survived per size L.
    log: one line per step tried.
    """

    groups: list[Group]
    delta: float
    drops: dict[str, float]
    verifications: int
    l_max: int
    kept: dict[int, int]
    log: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    complete: bool = True
    """False when a verification budget stopped the search: m is then the best found, not a proven minimum."""

    @property
    def m(self) -> int:
        return len(self.groups)

    def to_dict(self) -> dict:
        """JSON-ready; ``drops`` can be fed back to ``gir grids group --dry-run-verify`` to replay the search."""
        return {"ops": list(self.ops), "delta": self.delta, "groups": [list(g) for g in self.groups],
                "group_drops": [self.drops.get(group_key(g), 0.0) for g in self.groups],
                "m": self.m, "l_max": self.l_max, "kept": {str(k): v for k, v in self.kept.items()},
                "verifications": self.verifications, "exhaustive": exhaustive_verifications(len(self.ops)),
                "complete": self.complete,
                "ranking": RANKING, "drops": dict(self.drops), "log": list(self.log)}

    def describe(self) -> str:
        """Human-readable summary: one line per group with its ΔP, then the counts."""
        lines = [f"{self.m} group(s), delta {self.delta:g} dB:"]
        for k, g in enumerate(self.groups):
            d = self.drops.get(group_key(g), 0.0)
            lines.append(f"  group_{k}: {', '.join(g)}  (max drop {d:.2f} dB)")
        lines.append(f"verified {self.verifications} group(s) (exhaustive search: "
                     f"{exhaustive_verifications(len(self.ops))}); L_max {self.l_max}")
        if not self.complete:
            lines.append("verification budget exhausted: the fewest groups found so far, not a proven minimum")
        return "\n".join(lines)


def group_key(group: Sequence[str]) -> str:
    """``"a+b+c"``: the name a group's drop is stored under."""
    return "+".join(group)


class BudgetExhausted(Exception):
    """The search needed more verifications than ``max_verifications`` allowed."""


class _CachedVerifier:
    """Calls ``verify`` at most once per group; singletons are 0 without a call. Logs each call. With
    ``budget``, a call beyond that many raises :class:`BudgetExhausted`."""

    def __init__(self, verify: Verifier, delta: float, log: list[str], budget: int | None = None):
        self.verify, self.delta, self.log, self.budget = verify, float(delta), log, budget
        self.drops: dict[Group, float] = {}
        self.calls = 0

    def drop(self, group: Group, why: str) -> float:
        if len(group) == 1:
            return 0.0
        if group not in self.drops:
            if self.budget is not None and self.calls >= self.budget:
                raise BudgetExhausted(group_key(group))
            try:
                d = float(self.verify(group))
            except (TypeError, ValueError) as e:
                raise GirError(f"verifier returned a non-number for {group_key(group)}: {e}") from None
            if math.isnan(d):
                raise GirError(f"verifier returned NaN for {group_key(group)}")
            self.drops[group] = d
            self.calls += 1
            verdict = "ok" if d <= self.delta else "fails"
            self.log.append(f"verify {group_key(group)} ({why}): drop {d:.3f} dB {verdict}")
        return self.drops[group]

    def ok(self, group: Group, why: str) -> bool:
        return self.drop(group, why) <= self.delta

    def known_bad(self, group: Group) -> bool:
        return group in self.drops and self.drops[group] > self.delta


# ------------------------------------------------------------------------------------------------ search
def _last_feasible(cands: list[Group], ver: _CachedVerifier, L: int, known_first: bool) -> int:
    """Index of the last feasible group of ranked ``cands`` by binary search (-1: none)."""
    lo, hi = (0 if known_first else -1), len(cands) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ver.ok(cands[mid], f"Λ_{L} rank {mid + 1}/{len(cands)}"):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _find_l_max(cands: dict[int, list[Group]], ver: _CachedVerifier, n: int, log: list[str]) -> int:
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ver.ok(cands[mid][0], f"L_max search, top of Λ_{mid}"):
            lo = mid
        else:
            hi = mid - 1
    log.append(f"L_max = {lo}")
    return lo


class _Solver:
    """Depth-first search for a partition into at most ``m`` kept groups, each verified feasible."""

    def __init__(self, ops: list[str], kept: dict[int, list[Group]], ver: _CachedVerifier, l_max: int,
                 max_nodes: int):
        self.ops, self.ver, self.l_max, self.max_nodes = ops, ver, l_max, max_nodes
        # per op: its kept groups, larger sizes first, then by rank (Algorithm 1 loops L from n down to 1)
        self.by_op = {op: [g for L in sorted(kept, reverse=True) for g in kept[L] if op in g] for op in ops}
        self.nodes = 0

    def solve(self, m: int) -> list[Group] | None:
        self.nodes = 0
        return self._dfs(list(self.ops), [], m)

    def _dfs(self, remaining: list[str], chosen: list[Group], m: int) -> list[Group] | None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise GirError(f"grouping search gave up after {self.max_nodes} partial partitions; use fewer ops")
        if not remaining:
            return self._accept(chosen, m)
        if len(chosen) + math.ceil(len(remaining) / self.l_max) > m:
            return None
        rest = set(remaining)
        for g in self.by_op[remaining[0]]:
            if rest.issuperset(g) and not self.ver.known_bad(g):
                found = self._dfs([o for o in remaining if o not in g], chosen + [g], m)
                if found is not None:
                    return found
        return None

    def _accept(self, chosen: list[Group], m: int) -> list[Group] | None:
        for g in chosen:
            if not self.ver.ok(g, f"partition check, m <= {m}"):
                return None
        return list(chosen)


def _greedy_partition(ops: Sequence[str], ver: _CachedVerifier) -> list[Group]:
    """A partition from verified groups only: the largest (then lowest-drop) feasible groups first, disjoint,
    and every op left over alone."""
    good = sorted((g for g, d in ver.drops.items() if d <= ver.delta), key=lambda g: (-len(g), ver.drops[g], g))
    taken: set[str] = set()
    groups: list[Group] = []
    for g in good:
        if taken.isdisjoint(g):
            groups.append(g)
            taken.update(g)
    return groups + [(o,) for o in ops if o not in taken]


def search_groups(ops: Sequence[str], matrix: np.ndarray, verify: Verifier, delta: float,
                  tie: float = 0.05, max_size: int | None = None, max_nodes: int = 2_000_000,
                  max_verifications: int | None = None) -> Grouping:
    """Paper 002's degradation grouping search (see the module docstring for the steps).

    ops / matrix: the similarity matrix (S[i][j] = log KL(i || j); the diagonal is ignored). verify(group):
    the group's largest PSNR drop (dB) against the single-task models; called at most once per group.
    delta: the largest drop allowed (dB). max_size: cap on the group size (default n).
    max_verifications: stop verifying after this many groups (each is a training run); the search then returns
    the partition with the fewest groups found so far, with ``complete`` False (its m is an upper bound, not a
    proven minimum; before any is found, the largest verified groups, disjoint, with the rest alone).
    Returns the partition with the fewest groups found, the drops verified and the log.
    """
    ops = list(ops)
    n = len(ops)
    if n < 1:
        raise GirError("grouping needs at least one op")
    if n > MAX_OPS:
        raise GirError(f"grouping supports at most {MAX_OPS} ops, got {n}")
    if len(set(ops)) != n:
        raise GirError("grouping: op names must be distinct")
    if not math.isfinite(delta) or delta < 0:
        raise GirError(f"delta must be a finite number >= 0, got {delta}")
    cap = n if max_size is None else max(1, min(int(max_size), n))
    log: list[str] = []
    ver = _CachedVerifier(verify, delta, log, max_verifications)
    cands = {L: candidate_groups(matrix, ops, L, tie) for L in range(1, cap + 1)}
    found: dict[int, list[Group]] = {}
    l_max, kept, complete = 1, {1: cands[1]}, True
    try:
        l_max = _find_l_max(cands, ver, cap, log)
        for L in range(2, l_max + 1):
            top_known = cands[L][0] in ver.drops and not ver.known_bad(cands[L][0])
            last = _last_feasible(cands[L], ver, L, known_first=top_known)
            kept[L] = cands[L][:last + 1]
            log.append(f"Λ_{L}: kept {len(kept[L])} of {len(cands[L])} ranked groups")
        solver = _Solver(ops, kept, ver, l_max, max_nodes)
        left, right = math.ceil(n / l_max), n
        while left < right:
            mid = (left + right) // 2
            sol = solver.solve(mid)
            log.append(f"Solve(m <= {mid}): {'found ' + ' | '.join(map(group_key, sol)) if sol else 'none'}")
            if sol is not None:
                found[mid] = sol
                right = mid
            else:
                left = mid + 1
        groups = found.get(left) or solver.solve(left)
    except BudgetExhausted as e:
        complete = False
        groups = found[min(found)] if found else _greedy_partition(ops, ver)
        log.append(f"budget of {max_verifications} verifications exhausted (next: {e}); the best partition "
                   f"{'found' if found else 'from the groups verified so far'} has m = {len(groups)}, "
                   f"not proven minimal")
    if groups is None:  # unreachable: singletons always partition
        raise GirError("grouping search found no partition")
    log.append(f"result: m = {len(groups)}")
    return Grouping(groups=groups, delta=float(delta), drops={group_key(g): d for g, d in ver.drops.items()},
                    verifications=ver.calls, l_max=l_max, kept={L: len(v) for L, v in kept.items()}, log=log,
                    ops=ops, complete=complete)


# ------------------------------------------------------------------------------------- replayed drops
def drops_verifier(drops: dict[str, float], default: float | None = None) -> Verifier:
    """A verifier reading ΔP from a mapping ``{"a+b": drop}`` (order of the ops in a key does not matter);
    ``default`` (or the mapping's ``"*"`` entry) answers groups it lacks, else GirError names the group."""
    table = {frozenset(k.split("+")): float(v) for k, v in drops.items() if k != "*"}
    if default is None and "*" in drops:
        default = float(drops["*"])

    def verify(group: Group) -> float:
        key = frozenset(group)
        if key in table:
            return table[key]
        if default is None:
            raise GirError(f"no drop given for group {group_key(group)} (add it, or a '*' default)")
        return float(default)

    return verify


def read_drops(path: str | Path) -> dict[str, float]:
    """Drops from a JSON file: ``{"a+b": 0.3, "*": 2.0}``, a list ``[{"ops": [...], "drop": x}]``, or a
    ``grouping.json`` written by ``gir grids group`` (its ``drops``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GirError(f"{path}: no such drops file") from None
    except (OSError, json.JSONDecodeError) as e:
        raise GirError(f"{path}: not a JSON drops file ({e})") from None
    if isinstance(data, dict) and isinstance(data.get("drops"), dict):
        data = data["drops"]
    if isinstance(data, list):
        try:
            data = {group_key(item["ops"]): item["drop"] for item in data}
        except (TypeError, KeyError):
            raise GirError(f"{path}: list items need 'ops' and 'drop'") from None
    if not isinstance(data, dict):
        raise GirError(f"{path}: expected a mapping of 'op+op' to drops")
    out = {}
    for k, v in data.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise GirError(f"{path}: drop of {k} must be a number, got {v!r}")
        out[str(k)] = float(v)
    return out


# ------------------------------------------------------------------------------------------ train configs
DEFAULT_ARCH = {"type": "srresnet", "preset": "small"}


@dataclass(frozen=True)
class TrainBudget:
    """Training budget of each group / single-task run (CPU-sized defaults; the paper trains 600k iterations)."""

    iterations: int = 1000
    batch_size: int = 8
    patch_size: int = 48
    lr: float = 1e-3
    warmup: int = 10
    per_op: bool = False
    """True: ``iterations`` are per op, so a run on k ops trains k x iterations (an equal total budget: the
    grouped experts together, the single-task models together and the mixed model each cost n x iterations)."""

    def for_ops(self, k: int) -> "TrainBudget":
        """The budget of one run on ``k`` ops (``iterations`` scaled by k when ``per_op``)."""
        if not self.per_op or k == 1:
            return self
        return replace(self, iterations=self.iterations * int(k))


def group_config(ops: Sequence[str], train_roots: Sequence[str | Path], arch: dict | None = None,
                 budget: TrainBudget = TrainBudget(), seed: int = 0, name: str | None = None,
                 device: str = "auto", val_roots: Sequence[str | Path] = (), max_train_images: int | None = None,
                 ) -> dict:
    """A ``gir train`` config mixing ``ops`` in equal shares, each at random strengths from its random range
    (``data.train.mode: mix``). ``val_roots``: when given, validation on each op at its representative
    setting at the end of the run."""
    if not ops:
        raise GirError("a group config needs at least one op")
    val: dict[str, Any] = {"roots": []}
    if val_roots:
        val = {"roots": [str(Path(r).resolve()) for r in val_roots], "tasks": list(ops), "max_images": 4,
               "crop": 128}

    return budgeted_run(name or f"grids-{'-'.join(ops)}", seed, arch or DEFAULT_ARCH,
                        [Path(r).resolve() for r in train_roots], max_train_images,
                        [{"recipe": op, "name": op, "random": True} for op in ops], val, budget.for_ops(len(ops)),
                        device)


def write_group_configs(grouping: Grouping, out_dir: str | Path, train_roots: Sequence[str | Path],
                        arch: dict | None = None, budget: TrainBudget = TrainBudget(), seed: int = 0,
                        val_roots: Sequence[str | Path] = ()) -> list[Path]:
    """``out_dir/group_<k>.yaml`` per group (and ``grouping.json``); returns the config paths."""
    import yaml

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, g in enumerate(grouping.groups):
        cfg = group_config(g, train_roots, arch, budget, seed, name=f"grids-group{k}", val_roots=val_roots)
        head = (f"# GRIDS group {k} (paper 002): {', '.join(g)}; max drop "
                f"{grouping.drops.get(group_key(g), 0.0):.2f} dB <= delta {grouping.delta:g} dB\n"
                f"#   gir train {out_dir / f'group_{k}.yaml'}\n")
        path = out_dir / f"group_{k}.yaml"
        atomic_write(path, head + yaml.safe_dump(cfg, sort_keys=False))
        paths.append(path)
    atomic_write(out_dir / "grouping.json", json.dumps(grouping.to_dict(), indent=1, allow_nan=False) + "\n")
    return paths


# ------------------------------------------------------------------------------------ training verifier
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)


class TrainingVerifier:
    """ΔP(group) by training: a mix model on the group and a single-task model per op (same architecture and
    budget), scored on centre crops of held-out clean images degraded by each op at its representative
    setting (:func:`gir.bench.evaluate.evaluate`, RGB PSNR). ΔP = max over the group's ops of
    PSNR(single) - PSNR(mix).

    Everything lands in ``work_dir/<key>/`` (``key``: hash of the architecture, budget, data and scoring
    settings): ``runs/<name>/`` (engine run folders, resumed if interrupted), ``singles/<op>.json`` and
    ``groups/<a+b>.json`` (scores); a group or single-task result already on disk is read, not retrained.
    """

    def __init__(self, work_dir: str | Path, train_roots: Sequence[str | Path], val_dir: str | Path,
                 arch: dict | None = None, budget: TrainBudget = TrainBudget(), val_images: int = 8,
                 val_crop: int = 128, device: str = "auto", seed: int = 0, max_train_images: int | None = None,
                 log: Callable[[str], None] | None = None):
        self.train_roots = [Path(r).resolve() for r in train_roots]
        missing = [str(r) for r in self.train_roots if not r.is_dir()]
        if missing:
            raise GirError(f"training folder(s) not found: {', '.join(missing)}")
        self.val_dir = Path(val_dir).resolve()
        if not self.val_dir.is_dir():
            raise GirError(f"{self.val_dir}: held-out image folder not found")
        self.arch, self.budget, self.seed = dict(arch or DEFAULT_ARCH), budget, int(seed)
        self.val_images, self.val_crop, self.device = int(val_images), int(val_crop), device
        self.max_train_images = max_train_images
        self.log = log or (lambda _: None)
        prov = {"arch": self.arch, "budget": asdict(budget), "train": [str(r) for r in self.train_roots],
                "max_train_images": max_train_images, "val": str(self.val_dir), "val_images": self.val_images,
                "val_crop": self.val_crop, "seed": self.seed}
        self.key = hashlib.sha256(json.dumps(prov, sort_keys=True).encode()).hexdigest()[:12]
        self.root = Path(work_dir) / self.key
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
        self._images: list | None = None

    # -- data
    def images(self) -> list[tuple[str, str, np.ndarray]]:
        """The held-out images, centre-cropped to ``val_crop`` (loaded once)."""
        if self._images is None:
            out = []
            for ds, name, img in load_images(self.val_dir, self.val_images):
                h, w = img.shape[:2]
                c = min(self.val_crop, h, w)
                y, x = (h - c) // 2, (w - c) // 2
                out.append((ds, name, np.ascontiguousarray(img[y:y + c, x:x + c])))
            if not out:
                raise GirError(f"{self.val_dir}: no held-out images")
            self._images = out
        return self._images

    # -- training and scoring
    def _train(self, ops: Sequence[str], name: str) -> Path:
        cfg = group_config(ops, self.train_roots, self.arch, self.budget, self.seed, name=name,
                           device=self.device, max_train_images=self.max_train_images)
        t0 = time.perf_counter()
        ckpt = train_in(self.root / "runs" / name, cfg)
        self.log(f"trained {name} in {time.perf_counter() - t0:.0f} s")
        return ckpt

    def _score(self, ckpt: Path, ops: Sequence[str]) -> dict[str, dict[str, float]]:
        net = Restorer(str(ckpt), device=self.device, tile=0, impulse_repair=False)
        tasks = [EvalTask(op, Recipe.from_text(op)) for op in ops]
        scores = evaluate({"net": lambda lq, _r: net(lq)}, tasks, self.images(), self.seed)
        means = mean_table(scores, ("task", "method"))
        return {op: {"psnr": means[(op, "net")]["psnr"], "ssim": means[(op, "net")]["ssim"],
                     "input_psnr": means[(op, "input")]["psnr"]} for op in ops}

    def single(self, op: str) -> dict:
        """The single-task result of ``op`` ({op, psnr, ssim, input_psnr, checkpoint}), trained if needed."""
        path = self.root / "singles" / f"{_slug(op)}.json"
        if path.is_file():
            return json.loads(path.read_text())
        ckpt = self._train([op], f"single-{_slug(op)}")
        rec = {"op": op, **self._score(ckpt, [op])[op], "checkpoint": str(ckpt)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec, indent=1) + "\n")
        return rec

    def group(self, group: Group) -> dict:
        """The group's result ({ops, drop, psnr: {op: {single, mix}}, checkpoint}), trained if needed."""
        name = _slug(group_key(group))
        path = self.root / "groups" / f"{name}.json"
        if path.is_file():
            return json.loads(path.read_text())
        singles = {op: self.single(op) for op in group}
        ckpt = self._train(list(group), f"group-{name}")
        mix = self._score(ckpt, group)
        psnr = {op: {"single": singles[op]["psnr"], "mix": mix[op]["psnr"]} for op in group}
        drop = max(v["single"] - v["mix"] for v in psnr.values())
        rec = {"ops": list(group), "drop": float(drop), "psnr": psnr, "checkpoint": str(ckpt)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec, indent=1) + "\n")
        self.log(f"group {group_key(group)}: max drop {drop:.2f} dB")
        return rec

    def __call__(self, group: Group) -> float:
        if len(group) == 1:
            return 0.0
        return float(self.group(tuple(group))["drop"])


def verify_by_training(work_dir: str | Path, train_roots: Sequence[str | Path], val_dir: str | Path,
                       arch: dict | None = None, budget: TrainBudget = TrainBudget(), **kwargs) -> TrainingVerifier:
    """A verifier that trains and scores (see :class:`TrainingVerifier`; ``kwargs`` go to it)."""
    return TrainingVerifier(work_dir, train_roots, val_dir, arch=arch, budget=budget, **kwargs)
