"""The training engine: one loop for every network, data mode and device, single process or torchrun/DDP.

Run folder::

    config.yaml                 the resolved config (defaults + file + overrides; absolute paths)
    metrics.jsonl               train / val / end records (see gir.training.logs)
    curves.png                  loss and validation PSNR, refreshed at each validation
    models/net_<iter>.safetensors, models/net_latest.safetensors   params + params_ema + model config
    states/<iter>.pt            optimiser, schedule, EMA bookkeeping, RNG, scaler, discriminator

Exact resumption: the data of iteration t is a pure function of (seed, t, rank, world size, batch size), the
learning rate a pure function of t, and the torch generator is re-seeded from (seed, rank, t) before every
step (dropout, drop-path); with weights, optimiser and EMA restored, a resumed run continues bit-for-bit
as the uninterrupted one would on the same machine.
"""
from __future__ import annotations

import contextlib
import hashlib
import signal
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from gir.data.datasets import IndexBatches, build_train_set, build_val_set
from gir.data.errors import ConfigError
from gir.errors import GirError
from gir.models.checkpoint import describe_names, load_weights
from gir.models.checkpoint import load_state as load_params
from gir.training.config import load_config, write_config
from gir.training.distributed import (DistInfo, broadcast_object, env_dist, gather_objects, init_process_group,
                                      resolve_device, shutdown)
from gir.training.ema import EMA
from gir.training.logs import MetricsLog, plot_curves
from gir.training.losses import LossSet
from gir.training.objectives import build_objective
from gir.training.optim import build_optimizer, build_schedule
from gir.training.state import load_state, model_path, save_extra, save_state, save_weights, saved_iterations
from gir.utils.runtime import tune_allocator


class TrainingInterrupted(GirError):
    """SIGINT/SIGTERM stopped a run after saving its state; the message says how to resume."""


def run(config: str | Path | dict | None = None, overrides: Iterable[str] = (), resume: str | Path | None = None,
        out_dir: str | Path | None = None) -> Path:
    """Train as ``config`` says (a YAML path, YAML text or a dict), with ``dotted.key=value`` overrides.

    ``resume``: a run folder; training continues from its latest saved state with the folder's own
    config.yaml (``config`` is then ignored; overrides still apply, e.g. ``train.iterations=...``).
    ``out_dir``: the run folder (default ``runs/<name>-<YYYYmmdd-HHMMSS>`` under the current directory).
    Returns the run folder. Under torchrun every rank calls this; only rank 0 writes.
    Raises :class:`gir.data.ConfigError` (a :class:`gir.errors.GirError`) for config and data problems.
    """
    info = env_dist()
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"--resume {run_dir}: no config.yaml there (not a gir run folder)")
        cfg = load_config(run_dir / "config.yaml", overrides)
    else:
        if config is None:
            raise ConfigError("no config given (a YAML file, YAML text or a dict)")
        cfg = load_config(config, overrides)
        if out_dir is not None and (Path(out_dir) / "config.yaml").exists():
            raise ConfigError(f"{out_dir} already holds a run; resume it with --resume {out_dir} "
                              f"or choose another output folder")
        run_dir = None
    tcfg = cfg["train"]
    device = resolve_device(tcfg["device"], info)
    if device.type == "cpu":
        tune_allocator()
    threads = torch.get_num_threads()
    if tcfg["threads"]:
        torch.set_num_threads(tcfg["threads"])
    init_process_group(info, device)
    finished = False
    try:
        if run_dir is None:
            run_dir = Path(broadcast_object(str(out_dir or _default_run_dir(cfg["name"])), info))
        Trainer(cfg, run_dir, device, info, resuming=resume is not None).fit()
        finished = True
    finally:
        shutdown(info, synchronize=finished)
        torch.set_num_threads(threads)
    return run_dir


def _default_run_dir(name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _iteration_seed(seed: int, rank: int, t: int) -> int:
    return int(np.random.SeedSequence([seed, rank, t, 0x7E]).generate_state(1)[0])


def _amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    if mode == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mode]


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)  # each DataLoader worker is one of many processes


def _digest(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes (to check DDP ranks end identical)."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class _Interval:
    """Loss and per-task statistics accumulated on-device between two log records."""

    def __init__(self):
        self.totals: list[torch.Tensor] = []
        self.terms: dict[str, list[torch.Tensor]] = defaultdict(list)
        self.per_sample: list[torch.Tensor] = []
        self.tasks: list[str] = []
        self.start = time.perf_counter()
        self.excluded = 0.0  # seconds spent validating / saving

    def add(self, total, terms, per_sample, tasks) -> None:
        self.totals.append(total)
        for k, v in terms.items():
            self.terms[k].append(v)
        self.per_sample.append(per_sample)
        self.tasks.extend(tasks)

    def summary(self) -> dict[str, Any]:
        per = torch.cat(self.per_sample).float().cpu().tolist() if self.per_sample else []
        tasks: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        for name, v in zip(self.tasks, per):
            tasks[name][0] += v
            tasks[name][1] += 1
        return {"n": len(self.totals),
                "loss": float(torch.stack(self.totals).sum()) if self.totals else 0.0,
                "terms": {k: float(torch.stack(v).sum()) for k, v in self.terms.items()},
                "tasks": dict(tasks),
                "seconds": time.perf_counter() - self.start - self.excluded}


class _StopFlag:
    """SIGINT / SIGTERM ask the loop to stop after the current iteration (single process, main thread).
    A second SIGINT interrupts at once."""

    def __init__(self, active: bool):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self):
        if self.active:
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum
        signal.signal(signum, self._old.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


class Trainer:
    """Builds everything a config describes and runs the loop. Use :func:`run`."""

    def __init__(self, cfg: dict, run_dir: Path, device: torch.device, info: DistInfo, resuming: bool = False):
        self.cfg, self.run_dir, self.device, self.info = cfg, Path(run_dir), device, info
        self.main = info.is_main
        t = cfg["train"]
        self.iterations, self.batch_size = t["iterations"], t["batch_size"]
        self.stop = min(self.iterations, t["stop_at"] or self.iterations)

        # Data first: bad folders fail before any model is built.
        self.train_set = build_train_set(cfg["data"]["train"], cfg["seed"], t["patch_size"],
                                         samples_per_iteration=self.batch_size * info.world_size,
                                         iterations=self.iterations)
        self.val_set = build_val_set(cfg["data"]["val"])

        self.objective = build_objective(cfg["objective"])
        torch.manual_seed(cfg["seed"])  # the same initial weights on every rank
        self.model = self.objective.build_model(cfg["model"]).to(device)
        if cfg["init"]["path"] and not resuming:  # a resumed run's state replaces the initial weights
            self._init_weights(**cfg["init"])
        self._check_context_margin(cfg["data"]["train"].get("context_margin", 0))
        self.loss = LossSet(cfg["loss"]).to(device)
        self.objective.bind(self.model, self.loss, device, cfg)
        self.extras = self.objective.extra_modules()
        adv = self.loss.adversarial()
        self.adv = adv[1] if adv else None
        params = [*self.model.parameters(), *(p for m in self.extras.values() for p in m.parameters())]
        self.opt = build_optimizer(cfg["optim"], params)
        self.base_lr = self.opt.param_groups[0]["lr"]
        self.schedule = build_schedule(cfg["schedule"], self.iterations, self.base_lr)
        self.opt_d = None
        if self.adv is not None:
            self.opt_d = build_optimizer(cfg["optim"], self.adv.discriminator.parameters(),
                                         lr=self.adv.lr or self.base_lr)
            self.base_lr_d = self.opt_d.param_groups[0]["lr"]
        self.ema = EMA(self.model, t["ema"]) if t["ema"] and self.main else None

        self.amp_dtype = _amp_dtype(t["amp"], device)
        use_scaler = self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=use_scaler)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl", enabled=self.main)
        self.start = self._restore() if resuming else 0
        if self.main:
            (self.run_dir / "models").mkdir(parents=True, exist_ok=True)
            (self.run_dir / "states").mkdir(parents=True, exist_ok=True)
            # stop_at belongs to this session only: a resumed run goes on to train.iterations.
            write_config({**cfg, "train": {**cfg["train"], "stop_at": None}}, self.run_dir / "config.yaml")
            if self.start:
                self.metrics.truncate_after(self.start)
            else:
                self.metrics.path.write_text("")

        self.net: nn.Module = self.model
        self.d_net: nn.Module | None = self.adv.discriminator if self.adv is not None else None
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            self.net = DDP(self.model, device_ids=ids)
            if self.d_net is not None:
                self.d_net = DDP(self.d_net, device_ids=ids)

    # ------------------------------------------------------------------------------------ set-up helpers
    def _check_context_margin(self, margin: int) -> None:
        if not margin:
            return
        if getattr(self.train_set, "context_margin", 0) != margin:
            raise ConfigError("data.train.context_margin works with modes that degrade clean images, not 'paired'")
        probe = getattr(self.model, "image_context", None)
        with torch.no_grad():
            if probe is None or probe(torch.zeros(1, 3, 64, 64, device=self.device)) is None:
                raise ConfigError("data.train.context_margin needs a model with image-level context "
                                  "(e.g. wavelet_unet with context: 32)")

    def _init_weights(self, path: str, key: str, strict: bool = True, exclude=()) -> None:
        if not Path(path).is_file():
            raise ConfigError(f"config: init.path: {path} does not exist")
        info = load_weights(self.model, path, key=key, strict=strict, exclude=exclude)
        if info["missing"] and self.main:
            print(f"  init {path}: {len(info['missing'])} tensors it lacks keep their initialisation: "
                  f"{describe_names(info['missing'])}")
        if info["excluded"] and self.main:
            print(f"  init {path}: left out {len(info['excluded'])} tensors (init.exclude): "
                  f"{describe_names(info['excluded'])}")

    def _restore(self) -> int:
        """Load the latest saved iteration of the run folder; 0 when nothing was saved yet."""
        its = saved_iterations(self.run_dir)
        if not its:
            return 0
        it = its[-1]
        params, _ = load_params(model_path(self.run_dir, it), key="params")
        self.model.load_state_dict(params)
        st = load_state(self.run_dir, it)
        self.opt.load_state_dict(st["optimizer"])
        if self.ema is not None:
            ema_params, _ = load_params(model_path(self.run_dir, it), key="params_ema")
            self.ema.module.load_state_dict(ema_params)
            self.ema.load_state_dict(st["ema"])
        self.scaler.load_state_dict(st["scaler"])
        if self.adv is not None:
            if "discriminator" not in st:
                raise ConfigError(f"--resume: {self.run_dir} was saved without a GAN term; cannot add one")
            self.adv.discriminator.load_state_dict(st["discriminator"])
            self.opt_d.load_state_dict(st["optimizer_d"])
            self.scaler_d.load_state_dict(st["scaler_d"])
        for name, module in self.extras.items():
            if name not in st.get("extras", {}):
                raise ConfigError(f"--resume: {self.run_dir} was saved without the objective's {name!r}")
            module.load_state_dict(st["extras"][name])
        torch.set_rng_state(st["rng"]["torch"])
        return it

    def _loader(self, start: int, stop: int):
        workers = self.cfg["data"]["train"]["num_workers"]
        batches = IndexBatches(self.batch_size, start, stop, self.info.rank, self.info.world_size)
        return DataLoader(self.train_set, batch_sampler=batches, num_workers=workers,
                          pin_memory=self.device.type == "cuda", worker_init_fn=_worker_init if workers else None,
                          prefetch_factor=4 if workers else None, persistent_workers=False)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------------------------------ the loop
    def fit(self) -> None:
        from tqdm.auto import tqdm

        t_cfg = self.cfg["train"]
        if self.start >= self.stop:
            return
        show = self.main and t_cfg["progress"]
        if show:
            self._describe()
        bar = tqdm(total=self.stop, initial=self.start, disable=not show, dynamic_ncols=True,
                   desc=self.cfg["name"], unit="it")
        self.session_start = time.perf_counter()
        interval = _Interval()
        t = self.start
        self.model.train()
        with _StopFlag(not self.info.enabled) as stop_flag:
            for t, batch in zip(range(self.start + 1, self.stop + 1), self._loader(self.start, self.stop)):
                self._step(t, batch, interval)
                bar.update(1)
                if t % t_cfg["log_interval"] == 0 or t == self.stop:
                    self._log(t, interval, bar)
                    interval = _Interval()
                save = ((t_cfg["save_interval"] and t % t_cfg["save_interval"] == 0) or t == self.stop
                        or stop_flag.signal is not None)
                val = self.val_set is not None and (
                    (t_cfg["val_interval"] and t % t_cfg["val_interval"] == 0) or t == self.iterations)
                t0 = time.perf_counter()
                if save:
                    self._save(t)
                if val:
                    self._validate(t, bar)
                interval.excluded += time.perf_counter() - t0
                if stop_flag.signal is not None:
                    break
        bar.close()
        self._end(t, interrupted=stop_flag.signal is not None)
        if stop_flag.signal is not None:
            raise TrainingInterrupted(f"interrupted at iteration {t}; state saved; continue with "
                                      f"--resume {self.run_dir}")

    def _step(self, t: int, batch: dict, interval: _Interval) -> None:
        torch.manual_seed(_iteration_seed(self.cfg["seed"], self.info.rank, t))
        lq = batch["lq"].to(self.device, non_blocking=True)
        gt = batch["gt"].to(self.device, non_blocking=True)
        factor = self.schedule.factor(t)
        for g in self.opt.param_groups:
            g["lr"] = self.base_lr * factor
        total, terms, per_sample, pred = self._optimise(batch, lq, gt, t)
        if self.adv is not None and pred is not None:
            for g in self.opt_d.param_groups:
                g["lr"] = self.base_lr_d * factor
            with self._autocast():
                d_loss = self.adv.discriminator_loss(pred.detach(), gt, self.d_net)
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler_d.scale(d_loss).backward()
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
            terms = {**terms, "discriminator": d_loss.detach()}
        if self.ema is not None:
            self.ema.update(self.model)
        interval.add(total.float(), terms, per_sample, list(batch["task"]))

    def _optimise(self, batch: dict, lq: torch.Tensor, gt: torch.Tensor, t: int):
        """The objective's phases of iteration ``t``, each its own forward, backward and optimiser step
        (one phase for most objectives; DCPT alternates classification and generation). Returns the summed
        loss, terms and per-sample losses, and the last restored batch (None if no phase restores)."""
        total, terms, per_sample, pred = None, {}, None, None
        clip = self.cfg["train"]["grad_clip"]
        for phase in range(self.objective.phases):
            with self._autocast():
                res = self.objective.step(self.net, batch, lq, gt, t, phase)
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(res.total).backward()
            if clip:
                self.scaler.unscale_(self.opt)
                torch.nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], clip)
            self.scaler.step(self.opt)
            self.scaler.update()
            total = res.total.detach() if total is None else total + res.total.detach()
            for k, v in res.terms.items():
                terms[k] = terms[k] + v if k in terms else v
            per_sample = res.per_sample if per_sample is None else per_sample + res.per_sample
            pred = res.pred if res.pred is not None else pred
        return total, terms, per_sample, pred

    def _log(self, t: int, interval: _Interval, bar) -> None:
        parts = gather_objects(interval.summary(), self.info)  # every rank takes part
        if not self.main:
            return
        n = sum(p["n"] for p in parts)
        if not n:
            return
        secs = max(p["seconds"] for p in parts)
        tasks: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        for p in parts:
            for k, (s, c) in p["tasks"].items():
                tasks[k][0] += s
                tasks[k][1] += c
        it_s = parts[0]["n"] / secs if secs > 0 else float("nan")
        rec = {"type": "train", "iter": t, "loss": sum(p["loss"] for p in parts) / n,
               "terms": {k: sum(p["terms"].get(k, 0.0) for p in parts) / n for k in parts[0]["terms"]},
               "lr": self.base_lr * self.schedule.factor(t), "it_s": it_s,
               "img_s": it_s * self.batch_size * self.info.world_size,
               "tasks": {k: {"l1": s / c, "n": c} for k, (s, c) in sorted(tasks.items())},
               "time": time.perf_counter() - self.session_start}
        self.metrics.write(rec)
        bar.set_postfix(loss=f"{rec['loss']:.4g}", lr=f"{rec['lr']:.2e}", refresh=False)

    def _validate(self, t: int, bar) -> None:
        if not self.main:
            return
        model = self.ema.module if self.ema is not None else self.model
        res = self.objective.validate(model, self.val_set, self.device, self.cfg["data"]["val"])
        self.metrics.write({"type": "val", "iter": t, "weights": "ema" if self.ema is not None else "params",
                            **res})
        plot_curves(self.metrics.path, self.run_dir / "curves.png", self.cfg["name"])
        bar.write(f"[{self.cfg['name']}] iter {t}: {self.objective.describe_score(res)}")

    def _save(self, t: int) -> None:
        if not self.main:
            return
        params = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        ema = ({k: v.detach().cpu() for k, v in self.ema.module.state_dict().items()}
               if self.ema is not None else None)
        meta = {"iteration": t, "name": self.cfg["name"], "mode": self.cfg["data"]["train"]["mode"]}
        save_weights(self.run_dir, t, params, ema, dict(self.cfg["model"]), meta)
        extras = {name: {k: v.detach().cpu() for k, v in m.state_dict().items()} for name, m in self.extras.items()}
        for name, tensors in extras.items():
            save_extra(self.run_dir, t, name, tensors, self.objective.extra_config(name), meta)
        state: dict[str, Any] = {
            "iteration": t,
            "optimizer": self.opt.state_dict(),
            "schedule": {"type": self.cfg["schedule"]["type"], "iteration": t, "base_lr": self.base_lr},
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "scaler": self.scaler.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            "world_size": self.info.world_size,
            "batch_size": self.batch_size,
            "extras": extras,
        }
        if self.adv is not None:
            state.update(discriminator=self.adv.discriminator.state_dict(), optimizer_d=self.opt_d.state_dict(),
                         scaler_d=self.scaler_d.state_dict())
        save_state(self.run_dir, t, state, keep=self.cfg["train"]["keep_states"])

    def _end(self, t: int, interrupted: bool) -> None:
        digests = gather_objects(_digest(self.model), self.info)
        if not self.main:
            return
        rec: dict[str, Any] = {"type": "end", "iter": t, "completed": t >= self.iterations,
                               "interrupted": interrupted, "world_size": self.info.world_size,
                               "time": time.perf_counter() - self.session_start}
        if self.info.enabled:
            rec["ranks_in_sync"] = len(set(digests)) == 1
            rec["param_digests"] = digests
            if not rec["ranks_in_sync"]:
                import warnings

                warnings.warn("DDP ranks ended with different weights", RuntimeWarning, stacklevel=2)
        self.metrics.write(rec)
        plot_curves(self.metrics.path, self.run_dir / "curves.png", self.cfg["name"])

    def _describe(self) -> None:
        n_params = sum(p.numel() for p in self.model.parameters())
        ds = self.train_set
        n_img = sum(len(p) for p in ds.pools) if hasattr(ds, "pools") else len(ds)
        d = self.cfg["data"]["train"]
        val = f"{len(self.val_set)} images" if self.val_set is not None else "none"
        amp = {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]
        print(f"run folder {self.run_dir}\n  model {self.cfg['model']['type']} ({n_params / 1e6:.3g} M params); "
              f"data {d['mode']} on {n_img} images; validation {val}\n  device {self.device}, "
              f"{self.info.world_size} process(es) x batch {self.batch_size}, amp {amp}; "
              f"iterations {self.start + 1}..{self.stop} of {self.iterations}", flush=True)
