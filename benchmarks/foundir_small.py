"""FoundIR at small scale on this CPU (issue 22, paper 001): residual-diffusion generalists, incremental
learning, condition coefficient gamma_T, sampling steps, and specialists.

Every model is one ``gir train`` run (configs written by :func:`config`, cached in ``--work``: a rerun skips
finished runs and resumes an interrupted one), at an equal budget per kind: ``--iterations`` for a
generalist, ``--specialist-iterations`` for a specialist; batch 8, 64-px patches, one torch thread.

Tasks (clean images: ``../shared/data/train``): isolated noise, blur, JPEG, haze and low light; coupled
"low light + haze" (paper 001's L+H), blur + noise and noise + JPEG. Scored (RGB PSNR, one evaluation path:
:func:`gir.bench.evaluate.evaluate`) on 128-px centre crops of the first ``--images`` photos of CBSD68 and of
Kodak24, each degraded once per task (seed 0).

Parts (``--part``, default all):

* ``gamma``: gamma_T in {0.1, 0.3, 0.5, none}, incremental learning; per-task PSNR and its spread over the tasks
  (min, quartiles, max: paper 001's Figure 6 in small);
* ``strategy``: incremental against Mix-Train (gamma_T 0.3), on the coupled tasks and all tasks;
* ``steps``: the gamma_T = 0.3 generalist with 1, 2, 4 and 8 sampling steps: PSNR and seconds per megapixel,
  next to the shipped ``gir-wunet-cpu``;
* ``specialists``: on L+H, G alone, S alone, S1 -> S2 (illumination then weather specialist), S -> G and
  G -> S (a specialist trained on the generalist's outputs).

    python benchmarks/foundir_small.py --part gamma --part strategy --part steps --part specialists
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ISOLATED = {"noise": "noise", "blur": "blur", "jpeg": "jpeg", "haze": "haze", "low_light": "low_light"}
COUPLED = {"L+H": "haze > low_light", "blur+noise": "blur > noise", "noise+jpeg": "noise > jpeg"}
GAMMAS = {"0.1": 0.1, "0.3": 0.3, "0.5": 0.5, "none": None}
PARTS = ("gamma", "strategy", "steps", "specialists")


def tasks_cfg(names: dict[str, str]) -> list[dict]:
    return [{"name": n, "recipe": r, "random": True} for n, r in names.items()]


def config(name: str, model: dict, tasks: dict[str, str], iterations: int, train_root: Path, *,
           strategy: str | None = None, objective: dict | None = None, seed: int = 0) -> dict:
    """A ``gir train`` config: ``tasks`` at random strengths (``strategy``: the ``strategy`` data mode)."""
    data = ({"mode": "strategy", "strategy": {"type": strategy, "tasks": tasks_cfg(tasks)}} if strategy else
            {"mode": "mix", "mix": {"tasks": tasks_cfg(tasks)}})
    return {"name": name, "seed": seed, "model": model, "objective": objective or {"type": "restore"},
            "data": {"train": {**data, "roots": [str(train_root)], "num_workers": 0}, "val": {"roots": []}},
            "train": {"iterations": iterations, "batch_size": 8, "patch_size": 64, "ema": None, "threads": 1,
                      "log_interval": max(1, iterations // 10), "val_interval": 0, "save_interval": 500,
                      "keep_states": 1, "progress": False},
            "optim": {"type": "adam", "lr": 2e-4 if model["type"] == "diffusion_unet" else 5e-4},
            "schedule": {"type": "cosine", "warmup": 50, "min_lr": 1e-6},
            "loss": [{"type": "l1", "weight": 1.0}]}


def train(work: Path, cfg: dict) -> Path:
    """Train (or resume, or skip when finished) and return the final weights."""
    from gir.training import run

    run_dir = work / cfg["name"]
    ckpt = run_dir / "models" / "net_latest.safetensors"
    done = run_dir / "done.json"
    if done.is_file():
        return ckpt
    t0 = time.perf_counter()
    if (run_dir / "config.yaml").is_file():
        run(resume=run_dir)
    else:
        run(cfg, out_dir=run_dir)
    done.write_text(json.dumps({"seconds": time.perf_counter() - t0}) + "\n")
    print(f"  trained {cfg['name']} ({cfg['train']['iterations']} it) in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr, flush=True)
    return ckpt


def gen_model(gamma) -> dict:
    return {"type": "diffusion_unet", "preset": "cpu", "gamma_T": gamma}


DIFFUSION = {"type": "residual_diffusion"}


def load(path: Path, steps: int | None = None):
    from gir.models.checkpoint import load_model

    m = load_model(path)
    if steps is not None:
        m.steps = steps
    return m


def runner(module):
    """ndarray HxWx3 -> ndarray through a torch module (whole crop, float32)."""
    import torch

    def fn(lq, _recipe=None):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1)))[None]
            return module(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return fn


def score(methods: dict, tasks: dict[str, str], images) -> dict[str, dict[str, float]]:
    """{method: {task: mean PSNR}} with the degraded input as method ``input``."""
    from gir.bench.evaluate import EvalTask, evaluate, mean_table
    from gir.degradations import Recipe

    evs = [EvalTask(n, Recipe.from_text(r)) for n, r in tasks.items()]
    means = mean_table(evaluate(methods, evs, images, seed=0), ("task", "method"))
    out: dict[str, dict[str, float]] = {}
    for (task, method), v in means.items():
        out.setdefault(method, {})[task] = v["psnr"]
    return out


def table(res: dict[str, dict[str, float]], tasks, spread: bool = False) -> str:
    head = "| model | " + " | ".join(tasks) + " | mean |" + (" min | q25 | median | q75 | max |" if spread else "")
    lines = [head, "|---|" + "---:|" * (len(tasks) + 1 + (5 if spread else 0))]
    for m, v in res.items():
        vals = [v[t] for t in tasks]
        row = f"| {m} | " + " | ".join(f"{x:.2f}" for x in vals) + f" | {np.mean(vals):.2f} |"
        if spread:
            q = np.percentile(vals, [0, 25, 50, 75, 100])
            row += " " + " | ".join(f"{x:.2f}" for x in q) + " |"
        lines.append(row)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", action="append", choices=PARTS)
    ap.add_argument("--iterations", type=int, default=1500, help="per generalist")
    ap.add_argument("--specialist-iterations", type=int, default=1000)
    ap.add_argument("--images", type=int, default=8, help="photos of CBSD68 and of Kodak24 each")
    ap.add_argument("--work", default=str(ROOT / "runs/foundir_small"))
    ap.add_argument("--train-only", action="store_true", help="train the part's models, do not score")
    args = ap.parse_args(argv)
    parts = args.part or list(PARTS)

    from _report import shared_or_skip  # benchmarks/ is on sys.path when a script here runs
    from gir.bench.evaluate import load_images

    shared = shared_or_skip(1)
    if shared is None:
        return 0
    work, root = Path(args.work), shared / "train"
    work.mkdir(parents=True, exist_ok=True)
    all_tasks = {**ISOLATED, **COUPLED}
    it, sit = args.iterations, args.specialist_iterations

    def crops():
        out = []
        for d in ("cbsd68", "kodak24"):
            for ds, name, img in load_images(shared / "test" / d, args.images):
                h, w = img.shape[:2]
                out.append((ds, name, np.ascontiguousarray(img[(h - 128) // 2:(h - 128) // 2 + 128,
                                                             (w - 128) // 2:(w - 128) // 2 + 128])))
        return out

    gens = {g: train(work, config(f"G_gamma{g}", gen_model(v), all_tasks, it, root, strategy="incremental",
                                     objective=DIFFUSION))
            for g, v in GAMMAS.items()} if {"gamma", "steps", "specialists"} & set(parts) else {}
    print(f"FoundIR small: generalists diffusion_unet cpu, {it} iterations, batch 8, 64-px patches; specialists "
          f"guided_refiner, {sit} iterations; scored on 128-px centre crops of {args.images} CBSD68 + "
          f"{args.images} Kodak24 photos\n")
    if "gamma" in parts and not args.train_only:
        res = score({f"gamma_T {g}": runner(load(p)) for g, p in gens.items()}, all_tasks, crops())
        print("### gamma_T (incremental learning, 4 sampling steps)\n")
        print(table(res, list(all_tasks), spread=True) + "\n")
    if "strategy" in parts:
        mix = train(work, config("G_mix_gamma0.3", gen_model(0.3), all_tasks, it, root, strategy="mix",
                                objective=DIFFUSION))
        inc = gens.get("0.3") or train(work, config("G_gamma0.3", gen_model(0.3), all_tasks, it, root,
                                                    strategy="incremental", objective=DIFFUSION))
        if not args.train_only:
            res = score({"Mix-Train": runner(load(mix)), "incremental": runner(load(inc))}, all_tasks, crops())
            print("### Incremental learning against Mix-Train (gamma_T 0.3, equal budget)\n")
            print(table(res, list(all_tasks)) + "\n")
    if "steps" in parts and not args.train_only:
        from gir.restore.engine import Restorer

        rows = []
        imgs = crops()
        net = Restorer("gir-wunet-cpu", device="cpu", tile=0)

        def shipped(lq, _recipe=None):
            return net(lq)

        big = np.random.default_rng(0).random((1024, 1024, 3), dtype=np.float32)
        for label, fn in [*((f"G gamma_T 0.3, {s} step(s)", runner(load(gens["0.3"], s))) for s in (1, 2, 4, 8)),
                          ("gir-wunet-cpu (shipped)", shipped)]:
            res = score({label: fn}, all_tasks, imgs)
            t0 = time.perf_counter()
            fn(big)
            rows.append((label, np.mean(list(res[label].values())), time.perf_counter() - t0))
        inp = np.mean(list(score({}, all_tasks, imgs)["input"].values()))
        print("### Sampling steps: mean PSNR over the 8 tasks and seconds per megapixel (1 thread)\n")
        print(f"| model | mean PSNR (input {inp:.2f}) | s / MP |\n|---|---:|---:|")
        for label, p, s in rows:
            print(f"| {label} | {p:.2f} | {s:.2f} |")
        print()
    if "specialists" in parts:
        lh = {"L+H": COUPLED["L+H"]}
        ref = {"type": "guided_refiner"}
        s_alone = train(work, config("S_LH_alone", ref, lh, sit, root))
        s_ill = train(work, config("S_illumination", ref, {"low_light": "low_light"}, sit, root))
        s_wea = train(work, config("S_weather", ref, {"haze": "haze"}, sit, root))
        g = gens["0.3"]
        s_gs = train(work, config("S_LH_on_G", ref, lh, sit, root,
                                  objective={"type": "refine", "generalist": str(g)}))
        if not args.train_only:
            from gir.diffusion.specialists import Alone, Chain

            G = load(g)
            methods = {"G alone": runner(G), "S alone": runner(load(s_alone)),
                       "S1 -> S2 (illumination, weather)": runner(Chain([load(s_ill), Alone(load(s_wea))])),
                       "S -> G": runner(Chain([load(s_alone), G])),
                       "G -> S": runner(Chain([G, load(s_gs)]))}
            res = score(methods, lh, crops())
            print("### Specialists on L+H (low light + haze; paper 001's Table 3b in small)\n")
            print(table(res, ["L+H"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
