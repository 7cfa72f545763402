"""gir.interpret: probe data, network features, the kNN probe (paper 004), DDR / CH / t-SNE (paper 000), CLI."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from gir.cli import main
from gir.errors import GirError
from gir.interpret import (calinski_harabasz, ddr_analysis, ddr_features, degraded_set, knn_probe, load_network,
                           multilevel_features, tsne_embedding, tsne_plot)
from gir.interpret.cli import split_ops
from gir.io import write_image

CROP = 48
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def smooth_images(n: int = 8, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Random smooth RGB images, float32 size x size x 3 in [0, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 4)
        img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6)
        out.append((0.1 + 0.8 * img).astype(np.float32))
    return out


@pytest.fixture(scope="module")
def samples() -> list[tuple[str, np.ndarray]]:
    return degraded_set(smooth_images(4), ["noise", "haze"], crop=CROP, seed=0)


@pytest.fixture(scope="module")
def wunet():
    return load_network("random:wavelet_unet")[0]


def two_clusters(n: int = 30, d: int = 8, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 0.1, (n, d)), rng.normal(5, 0.1, (n, d))])
    return x, ["a"] * n + ["b"] * n


# ------------------------------------------------------------------------------------------- probe data
def test_degraded_set_is_byte_identical_per_seed(samples):
    again = degraded_set(smooth_images(4), ["noise", "haze"], crop=CROP, seed=0)
    assert [lab for lab, _ in samples] == ["noise", "haze"] * 4
    assert all(a.tobytes() == b.tobytes() for (_, a), (_, b) in zip(samples, again))
    for _, img in samples:
        assert img.dtype == np.float32 and img.shape == (CROP, CROP, 3)
        assert 0.0 <= img.min() and img.max() <= 1.0
    other = degraded_set(smooth_images(4), ["noise"], crop=CROP, seed=1)
    assert other[0][1].tobytes() != samples[0][1].tobytes()


def test_degraded_set_seeds_do_not_depend_on_other_ops(samples):
    alone = degraded_set(smooth_images(4), ["noise(sigma=20)"], n_per_op=2, crop=CROP, seed=0)
    assert [lab for lab, _ in alone] == ["noise(sigma=20)"] * 2
    alone_bare = degraded_set(smooth_images(4), ["noise"], n_per_op=2, crop=CROP, seed=0)
    assert alone_bare[0][1].tobytes() == samples[0][1].tobytes()


def test_degraded_set_rejects_bad_input():
    with pytest.raises(GirError, match="unknown op 'fog'"):
        degraded_set(smooth_images(1), ["fog"], crop=CROP)
    with pytest.raises(GirError, match="smaller than"):
        degraded_set(smooth_images(1, size=32), ["noise"], crop=CROP)


def test_split_ops_keeps_recipe_commas():
    assert split_ops("noise(sigma=25),haze(A=0.9,beta=1.0), rain") == ["noise(sigma=25)", "haze(A=0.9,beta=1.0)",
                                                                       "rain"]


# ------------------------------------------------------------------------------------------- networks
@pytest.mark.parametrize("spec", ["random:wavelet_unet", "random:srcnn", "random:srcnn:small"])
def test_random_networks_load_deterministically(spec):
    state = torch.random.get_rng_state()
    a, label = load_network(spec)
    b, _ = load_network(spec)
    assert label == spec and not a.training
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q), n
    c, _ = load_network(spec, seed=1)
    assert any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


@pytest.mark.parametrize("spec, match", [("random:nope", "unknown architecture 'nope'"),
                                         ("random:srcnn:huge", "unknown preset"),
                                         ("no-such-model", "unknown model"),
                                         ("", "empty model spec")])
def test_bad_network_specs(spec, match):
    with pytest.raises(GirError, match=match):
        load_network(spec)


# ------------------------------------------------------------------------------------------- features
def test_multilevel_features_are_normalised_and_deterministic(samples, wunet):
    batch = [img for _, img in samples]
    f = multilevel_features(wunet, batch, batch_size=3)
    assert f.dtype == np.float32 and f.shape[0] == len(batch)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    again = multilevel_features(load_network("random:wavelet_unet")[0], batch)
    np.testing.assert_allclose(f, again, atol=1e-6)
    # same D for every image and for any crop size: grid^2 * sum of level channels
    small = multilevel_features(wunet, [img[:32, :32] for img in batch[:2]])
    assert small.shape[1] == f.shape[1] == 16 * (16 + 32 + 64 + 64)


def test_ddr_features_of_default_and_named_layers(samples, wunet):
    batch = [img for _, img in samples]
    d = ddr_features(wunet, batch)
    assert d.shape == (len(batch), 64)  # the middle block of the small preset: 64 channels
    srcnn = load_network("random:srcnn")[0]
    assert ddr_features(srcnn, batch, layer="net.0").shape[0] == len(batch)
    with pytest.raises(GirError, match="no module named"):
        ddr_features(wunet, batch, layer="nope")


# --------------------------------------------------------------------------------------------- probes
def test_knn_probe_separable_vs_random_labels():
    x, y = two_clusters()
    res = knn_probe(x, y, k=5, splits=5, seed=0)
    assert res["accuracy_mean"] == pytest.approx(1.0) and res["accuracy_std"] == pytest.approx(0.0)
    assert set(res["per_class"]) == {"a", "b"} and len(res["accuracies"]) == 5
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(200, 8))
    labels = list(rng.choice(["a", "b", "c", "d"], size=200))
    chance = knn_probe(noise, labels, k=5, splits=10, seed=0)
    assert abs(chance["accuracy_mean"] - 0.25) < 0.12
    assert json.loads(json.dumps(chance)) == chance


def test_knn_probe_rejects_too_few_samples():
    with pytest.raises(GirError, match="two classes"):
        knn_probe(np.zeros((6, 2)), ["a"] * 6)
    with pytest.raises(GirError, match="too few samples"):
        knn_probe(np.zeros((3, 2)), ["a", "b", "b"])


def test_calinski_harabasz_prefers_separated_clusters():
    x, y = two_clusters()
    shuffled = list(np.random.default_rng(0).permutation(y))
    assert calinski_harabasz(x, y) > 100 * calinski_harabasz(x, shuffled)


def test_tsne_plot_writes_a_png(tmp_path):
    x, y = two_clusters(n=10)
    emb = tsne_embedding(x, seed=0)
    assert emb.shape == (20, 2)
    path = tsne_plot(emb, y, tmp_path / "sub" / "t.png", title="two clusters")
    assert path.read_bytes()[:8] == PNG_MAGIC
    from PIL import Image

    with Image.open(path) as im:
        im.verify()


def _textbook_ch(x: np.ndarray, labels: list[str]) -> float:
    """Calinski-Harabasz by its definition: between-group over within-group dispersion, per degree of freedom."""
    x, labels = np.asarray(x, np.float64), np.asarray(labels)
    groups = [x[labels == g] for g in np.unique(labels)]
    between = sum(len(g) * np.sum((g.mean(0) - x.mean(0)) ** 2) for g in groups)
    within = sum(np.sum((g - g.mean(0)) ** 2) for g in groups)
    return float(between / (len(groups) - 1) / (within / (len(x) - len(groups))))


def test_ddr_analysis_runs(samples, wunet):
    res = ddr_analysis(wunet, samples, seed=0, label="w")
    assert res.layer == "middle" and res.embedding.shape == (len(samples), 2)
    assert res.labels == [lab for lab, _ in samples] and res.summary()["dim"] == 64
    np.testing.assert_array_equal(res.features, ddr_features(wunet, [img for _, img in samples], layer="middle"))
    assert res.calinski_harabasz == pytest.approx(_textbook_ch(res.features, res.labels), rel=1e-6)


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean")
    for i, img in enumerate(smooth_images(6, seed=3)):
        write_image(folder / f"img{i}.png", img)
    return folder


def test_cli_knn_end_to_end(image_dir, tmp_path, capsys):
    out = tmp_path / "knn"
    rc = main(["interpret", "knn", "--model", "random:srcnn", "--ops", "noise,low_light", "--images",
               str(image_dir), "--crop", str(CROP), "--splits", "3", "--out", str(out), "-q"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| model | kNN accuracy | CH index |" in text and "| random:srcnn |" in text
    record = json.loads((out / "knn.json").read_text())
    assert record["ops"] == ["noise", "low_light"] and record["n_samples"] == 12
    (m,) = record["models"]
    probe, confusion = m["knn"], np.array(m["knn"]["confusion"])
    assert len(probe["accuracies"]) == 3 and confusion.sum() == 3 * 4  # 3 splits x a third of 12 samples
    assert probe["accuracy_mean"] == pytest.approx(np.trace(confusion) / confusion.sum())  # the same test sizes
    assert f"| {m['calinski_harabasz']:.2f} |" in text
    assert (out / m["tsne"]).read_bytes()[:8] == PNG_MAGIC


def test_cli_ddr_end_to_end(image_dir, tmp_path, capsys):
    out = tmp_path / "ddr"
    rc = main(["interpret", "ddr", "--model", "random:srcnn", "--ops", "noise,rain", "--images", str(image_dir),
               "--max-images", "4", "--crop", str(CROP), "--out", str(out), "-q"])
    assert rc == 0
    record = json.loads((out / "ddr.json").read_text())
    assert record["models"][0]["layer"] == "net.3" and record["n_samples"] == 8
    assert "CH index" in capsys.readouterr().out


@pytest.mark.parametrize("extra, match", [(["--ops", "noise,fog"], "unknown op 'fog'"),
                                          (["--model", "random:nope"], "unknown architecture"),
                                          (["--images", "/nonexistent/folder"], "does not exist")])
def test_cli_bad_input_exits_2_with_one_line(image_dir, tmp_path, capsys, extra, match):
    args = ["interpret", "knn", "--model", "random:srcnn", "--images", str(image_dir), "--crop", str(CROP),
            "--out", str(tmp_path / "o"), "-q"]
    rc = main(args + extra)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("gir: error: ") and match in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "knn.json").exists()
