"""Low light read from the whole photo: a logistic model on the luma's distribution.

The analyzer network reads full-resolution windows of 128 px (:mod:`gir.analysis.analyze`), and a window of
an underexposed photo looks much like a dark part of a normally exposed one: on the nine LIME photos of
``../shared/data/real`` it gave ``low_light`` 0.17-0.30 on four (mean luma 0.10-0.17). Exposure is a property
of the whole photo, so this reads the whole photo, shrunk: :func:`features` (mean and quantiles of the luma,
the share of near-black and near-white pixels) and a logistic regression (scikit-learn's, fitted here) between
the 571 training photos as they are, under other degradations, or cropped, and the same photos through the
library's ``underexposure`` and ``low_light`` ops (with camera noise or JPEG after some); only a photo darker
than :data:`DARK_BELOW` on average is read at all. The fitted coefficients are
``exposure.json`` beside this file; :func:`fit` re-creates them::

    python -m gir.analysis.exposure ../shared/data/train -o src/gir/analysis/exposure.json

:func:`fuse_exposure` puts the probability into a diagnosis: ``low_light``'s p becomes the larger of the
network's and this one, and ``clean`` at most 1 - this one.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("exposure.json")
SIDE = 256  # the photo is shrunk (area mean) to this long side before the statistics
CROP = 160  # side of the crops of the training photos that teach the model a dark part of a normal photo
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.9, 0.99)
FEATURES = ("mean", *(f"q{int(q * 100)}" for q in QUANTILES), "black", "white")
DARK_BELOW = 0.2
"""Only a photo darker than this on average (mean luma, 0-1) is read as low light: the model alone also fires
on normally exposed photos with large dark parts, and on 256-px crops of them (scikit-image's rocket and
camera, mean luma 0.21-0.28: 4 of 28 clean tiles; RNI15's Frog, Pattern1 and Stars; two old prints), while real
low-light photos are darker (LOL 0.04-0.10; LIME 0.06-0.17, one at 0.31). It is also the darkness the
brightening step acts under (:data:`gir.restore.classical.DARK_MAX`)."""


def features(rgb: np.ndarray) -> np.ndarray:
    """The luma statistics the model reads, of float HxWx3 ``rgb`` in [0, 1]: square roots of the mean and
    the :data:`QUANTILES` (dark values spread out), the share under 0.05 and the share over 0.9."""
    import cv2

    from gir.data.patches import fit_side

    img = fit_side(np.ascontiguousarray(np.clip(rgb, 0.0, 1.0), np.float32), SIDE)
    luma = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).ravel()
    stats = [luma.mean(), *np.quantile(luma, QUANTILES)]
    return np.array([*np.sqrt(np.maximum(stats, 0.0)), (luma < 0.05).mean(), (luma > 0.9).mean()], np.float64)


@lru_cache(maxsize=1)
def _model(path: str = str(MODEL_PATH)) -> dict:
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    if tuple(m["features"]) != FEATURES:
        raise ValueError(f"{path}: fitted on features {m['features']}, this code reads {list(FEATURES)}")
    return {k: np.asarray(m[k], np.float64) for k in ("mean", "scale", "coef")} | {"intercept": m["intercept"]}


def model_probability(f: np.ndarray) -> float:
    """The fitted model's probability for a feature vector of :func:`features` (``exposure.json``)."""
    m = _model()
    z = float(((f - m["mean"]) / m["scale"]) @ m["coef"] + m["intercept"])
    return float(1.0 / (1.0 + np.exp(-z)))


def low_light_probability(rgb: np.ndarray) -> float:
    """P(the photo is underexposed): the fitted model's, for a photo whose mean luma is under
    :data:`DARK_BELOW`; 0 for a brighter one."""
    f = features(rgb)
    if f[0] ** 2 >= DARK_BELOW:
        return 0.0
    return model_probability(f)


def fuse_exposure(diag, p: float) -> None:
    """Put the whole-photo probability ``p`` into ``diag``'s ``low_light`` finding (in place): its p becomes
    the larger of the two, ``clean`` at most 1 - ``p``, and the source says where it came from."""
    f = diag.findings["low_light"]
    f.strength["p_exposure"] = round(float(p), 4)
    if p > f.p:
        f.p = float(p)
        if "exposure" not in f.source:
            f.source += " + exposure"
    diag.clean = min(diag.clean, 1.0 - float(p))


# ------------------------------------------------------------------------------------------------ fitting
DARK_OPS = ("underexposure", "low_light")
OTHER_OPS = ("noise", "camera_noise", "jpeg", "blur", "haze", "resize", "snow")


def training_set(roots, seed: int = 0, side: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """(features N x F, labels N) from the photos under ``roots``, each shrunk to ``side`` px: the photo as it
    is (0), under one of :data:`OTHER_OPS` (0), two random :data:`CROP`-px crops of it (0: a dark part of a
    normally exposed photo is not low light), and through each of :data:`DARK_OPS` with random parameters,
    half of them followed by camera noise or JPEG (1), with a crop of the first (1)."""
    from gir.data.patches import fit_side
    from gir.degradations.base import OPS
    from gir.io import read_rgb

    rng = np.random.default_rng(seed)
    files = sorted(p for r in roots for p in Path(r).rglob("*")
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if not files:
        raise ValueError(f"no photos under {[str(r) for r in roots]}")

    def draw(img, name):
        op = OPS.get(name)
        return np.clip(op.apply(img, rng, op.sample_params(rng)), 0.0, 1.0).astype(np.float32)

    def crop(img):
        h, w = img.shape[:2]
        c = min(h, w, CROP)
        y0, x0 = rng.integers(h - c + 1), rng.integers(w - c + 1)
        return img[y0:y0 + c, x0:x0 + c]

    x, y = [], []
    for f in files:
        img = fit_side(read_rgb(f), side)
        darks = []
        for name in DARK_OPS:
            dark = draw(img, name)
            if rng.random() < 0.5:
                dark = draw(dark, ("camera_noise", "jpeg")[rng.integers(2)])
            darks.append(dark)
        for sample, label in ((img, 0), (draw(img, OTHER_OPS[rng.integers(len(OTHER_OPS))]), 0),
                              (crop(img), 0), (crop(img), 0), *((d, 1) for d in darks), (crop(darks[0]), 1)):
            x.append(features(sample))
            y.append(label)
    return np.array(x), np.array(y)


def fit(roots, out: Path = MODEL_PATH, seed: int = 0) -> dict:
    """Fit the logistic model on :func:`training_set` and write it to ``out`` (JSON); returns what it wrote."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_set(roots, seed)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    clf = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    acc = float(clf.score((x - mean) / scale, y))
    model = {"features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
             "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0]),
             "fitted_on": {"roots": [str(r) for r in roots], "samples": int(len(y)), "seed": seed,
                           "train_accuracy": round(acc, 4)}}
    Path(out).write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    _model.cache_clear()
    return model


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="fit the whole-photo low-light model (gir.analysis.exposure)")
    ap.add_argument("roots", nargs="+", help="folders of clean training photos")
    ap.add_argument("-o", "--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    m = fit(args.roots, args.out, args.seed)
    print(f"wrote {args.out}: {m['fitted_on']['samples']} samples, training accuracy "
          f"{m['fitted_on']['train_accuracy']:.3f}")


if __name__ == "__main__":
    main()
