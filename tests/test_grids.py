"""GRIDS (paper 002): GGD fit and KL, the grouping search, model selection, and the `gir grids` commands."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from conftest import natural_image
from gir.errors import GirError
from gir.grids.ggd import GGD, fit_ggd, kl_ggd, log_kl, mean_ggd, moment_ratio
from gir.grids.grouping import (candidate_groups, drops_verifier, exhaustive_verifications, group_key,
                                search_groups)
from gir.grids.selection import Selector, select_group
from gir.grids.similarity import degradation_ggds, parse_ops, similarity_matrix


def _interpret_available() -> bool:
    try:
        import gir.interpret.features  # noqa: F401
    except ImportError:
        return False
    return True


needs_interpret = pytest.mark.skipif(not _interpret_available(),
                                     reason="gir.interpret.features (load_network, ddr_features) is not installed")


# ------------------------------------------------------------------------------------------------- GGD
@pytest.mark.parametrize("method", ["moments", "mle"])
@pytest.mark.parametrize("alpha", [0.8, 1.5, 2.0])
def test_fit_recovers_known_parameters(alpha, method):
    from scipy.stats import gennorm

    beta = 1.3
    x = gennorm(alpha, scale=beta).rvs(200_000, random_state=np.random.default_rng(7))
    g = fit_ggd(x, method=method)
    assert g.alpha == pytest.approx(alpha, rel=0.03)
    assert g.beta == pytest.approx(beta, rel=0.03)


def test_sigma_is_the_standard_deviation():
    for g in (GGD(0.8, 0.5), GGD(2.0, 1.0), GGD(3.5, 2.0)):
        from scipy.stats import gennorm

        assert g.sigma == pytest.approx(gennorm(g.alpha, scale=g.beta).std(), rel=1e-10)
        assert GGD.from_sigma(g.alpha, g.sigma).beta == pytest.approx(g.beta, rel=1e-12)
    assert GGD(2.0, 1.0).sigma == pytest.approx(1 / math.sqrt(2))  # Gaussian: beta = sqrt(2) sigma
    assert moment_ratio(2.0) == pytest.approx(math.pi / 2) and moment_ratio(1.0) == pytest.approx(2.0)


def test_fit_rejects_bad_samples():
    with pytest.raises(GirError, match="spread"):
        fit_ggd(np.zeros(10))
    with pytest.raises(GirError, match="finite"):
        fit_ggd(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(GirError, match="method"):
        fit_ggd(np.arange(5.0), method="bayes")


PAIRS = [(GGD(2.0, 1.0), GGD(1.0, 1.0)), (GGD(0.8, 0.5), GGD(1.5, 2.0)), (GGD(1.5, 1.3), GGD(0.7, 0.4)),
         (GGD(3.0, 1.0), GGD(2.0, 1.5)), (GGD(1.0, 0.2), GGD(1.0, 0.25))]


def test_kl_zero_for_identical_positive_otherwise():
    x = GGD(1.2, 0.7).sample(50_000, seed=3)
    a, b = fit_ggd(x), fit_ggd(x)
    assert kl_ggd(a, b) == 0.0
    assert log_kl(a, b) == -math.inf and log_kl(a, b, floor=1e-12) == pytest.approx(math.log(1e-12))
    for p, q in PAIRS:
        assert kl_ggd(p, q) > 0 and kl_ggd(q, p) > 0
        assert log_kl(p, q) == pytest.approx(math.log(kl_ggd(p, q)))


@pytest.mark.parametrize("p,q", PAIRS)
def test_kl_matches_numeric_integration(p, q):
    from scipy.integrate import quad

    integrand = lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x))  # noqa: E731 - symmetric: twice [0, inf)
    numeric = 2 * quad(integrand, 0, np.inf, limit=500, epsabs=0, epsrel=1e-11)[0]
    assert kl_ggd(p, q) == pytest.approx(numeric, rel=1e-4)


def test_mean_ggd_averages_alpha_and_sigma():
    g = mean_ggd([GGD.from_sigma(1.0, 2.0), GGD.from_sigma(2.0, 4.0)])
    assert g.alpha == pytest.approx(1.5) and g.sigma == pytest.approx(3.0)
    g = mean_ggd([GGD(1.0, 2.0), GGD(2.0, 4.0)], by="beta")
    assert (g.alpha, g.beta) == pytest.approx((1.5, 3.0))
    with pytest.raises(GirError):
        mean_ggd([])


# ------------------------------------------------------------------------------------------ similarity
def _fake_features(model, batch, layer=None):
    """Per crop: mean, std and gradient energy of each channel (N x 9), a deterministic stand-in for DDR."""
    b = np.asarray(batch, dtype=np.float64)
    gx = np.abs(np.diff(b, axis=2)).mean(axis=(1, 2))
    return np.concatenate([b.mean(axis=(1, 2)), b.std(axis=(1, 2)), 10 * gx], axis=1)


def test_degradation_ggds_and_matrix_with_given_features():
    images = [natural_image(64, 64, seed=s) for s in range(2)]
    ops = ["noise", "blur", "jpeg"]
    ggds = degradation_ggds(None, images, ops, crop=32, n_per_op=6, seed=1, features=_fake_features)
    again = degradation_ggds(None, images, ops, crop=32, n_per_op=6, seed=1, features=_fake_features)
    assert list(ggds) == ops and ggds == again  # deterministic
    names, m = similarity_matrix(ggds)
    assert names == ops and m.shape == (3, 3)
    assert np.all(np.isnan(np.diag(m))) and np.all(np.isfinite(m[~np.eye(3, dtype=bool)]))
    assert m[0, 1] == pytest.approx(math.log(kl_ggd(ggds["noise"], ggds["blur"])))


def test_parse_ops_defaults_and_errors():
    assert parse_ops(None) == ["blur", "motion_blur", "rl_artifact", "sr", "ringing", "defocus_blur", "jpeg",
                               "poisson_noise", "inpainting", "noise", "salt_pepper"]
    with pytest.raises(GirError, match="unknown op"):
        parse_ops("noise,fog")
    with pytest.raises(GirError, match="twice"):
        parse_ops("noise,noise")


# -------------------------------------------------------------------------------------------- grouping
def _planted(ops):
    """A 6x6 log-KL matrix with two tight clusters (ops[:3], ops[3:]) and a verifier that knows them."""
    rng = np.random.default_rng(0)
    n = len(ops)
    m = 4.0 + rng.uniform(0, 0.6, (n, n))
    for c in (range(0, 3), range(3, 6)):
        for i, j in itertools.product(c, c):
            m[i, j] = 1.0 + rng.uniform(0, 0.4)
    np.fill_diagonal(m, np.nan)
    cluster = {op: k // 3 for k, op in enumerate(ops)}
    calls = []

    def verify(group):
        calls.append(tuple(group))
        return 0.25 if len({cluster[o] for o in group}) == 1 else 1.9

    return m, verify, calls


def test_candidates_ranked_by_within_group_distance():
    ops = list("abcdef")
    m, _, _ = _planted(ops)
    top = candidate_groups(m, ops, 3)[:2]
    assert set(top) == {("a", "b", "c"), ("d", "e", "f")}
    assert len(candidate_groups(m, ops, 2)) == 15


def test_grouping_search_finds_planted_clusters_with_few_verifications():
    ops = list("abcdef")
    m, verify, calls = _planted(ops)
    res = search_groups(ops, m, verify, delta=0.7)
    assert sorted(res.groups) == [("a", "b", "c"), ("d", "e", "f")]
    assert res.l_max == 3 and res.m == 2
    assert len(calls) == len(set(calls)) == res.verifications  # no group verified twice
    assert res.verifications < exhaustive_verifications(6) == 57
    assert all(res.drops[group_key(g)] <= 0.7 for g in res.groups)
    assert any("L_max" in line for line in res.log)
    # strict delta: nothing but singletons
    strict = search_groups(ops, m, _planted(ops)[1], delta=0.1)
    assert strict.m == 6 and strict.l_max == 1


def test_drops_verifier_reads_any_order_and_names_missing_groups():
    v = drops_verifier({"b+a": 0.3})
    assert v(("a", "b")) == 0.3
    with pytest.raises(GirError, match="a\\+c"):
        v(("a", "c"))
    assert drops_verifier({"*": 2.0})(("a", "c")) == 2.0


# ------------------------------------------------------------------------------------------- selection
GROUP_GGDS = {"g0": GGD(0.7, 0.5), "g1": GGD(1.5, 1.0), "g2": GGD(2.5, 2.0)}


def test_selection_picks_the_closest_group():
    for k, (name, g) in enumerate(GROUP_GGDS.items()):
        sample = fit_ggd(g.sample(20_000, seed=k))
        chosen, div, all_div = select_group(sample, GROUP_GGDS)
        assert chosen == name
        assert div == min(all_div.values()) and set(all_div) == set(GROUP_GGDS)


def test_selector_flags_far_off_inputs_and_round_trips(tmp_path):
    sel = Selector({n: ((f"op{n}",), g) for n, g in GROUP_GGDS.items()}, model="random:srresnet", layer="x")
    assert sel.flag_ood(1.0) is None  # no threshold yet
    in_dist = [sel.select(fit_ggd(g.sample(2_000, seed=100 + i))).divergence
               for i, g in enumerate(list(GROUP_GGDS.values()) * 10)]
    thr = sel.calibrate(in_dist, percentile=95)
    assert thr == pytest.approx(np.percentile(in_dist, 95)) and "95th percentile" in sel.rule
    far = sel.select(fit_ggd(GGD(0.35, 25.0).sample(2_000, seed=1)))
    assert far.ood is True and far.divergence > thr
    near = sel.select(fit_ggd(GROUP_GGDS["g1"].sample(50_000, seed=2)))
    assert near.group == "g1" and near.ood is False
    loaded = Selector.load(sel.save(tmp_path))
    assert loaded.threshold == pytest.approx(thr) and loaded.rule == sel.rule
    assert loaded.groups["g1"][1] == GROUP_GGDS["g1"] and loaded.model == "random:srresnet"
    data = json.loads((tmp_path / "groups.json").read_text())
    assert data["g0"]["ops"] == ["opg0"] and {"alpha", "beta"} <= set(data["g0"])


# ------------------------------------------------------------------------------------------------- CLI
CLUSTERED = ["blur", "motion_blur", "rl_artifact", "noise", "salt_pepper", "poisson_noise"]


def _strict_json(path):
    def bad(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(path.read_text(), parse_constant=bad)


def test_cli_group_dry_run_writes_loadable_configs(tmp_path, capsys):
    from gir.cli import main
    from gir.training import load_config

    m, _, _ = _planted(CLUSTERED)
    rows = [[None if i == j else float(m[i, j]) for j in range(6)] for i in range(6)]
    (tmp_path / "matrix.json").write_text(json.dumps({"ops": CLUSTERED, "matrix": rows}))
    drops = {"*": 1.9}
    for c in (CLUSTERED[:3], CLUSTERED[3:]):
        for L in (2, 3):
            drops.update({"+".join(g): 0.25 for g in itertools.combinations(c, L)})
    (tmp_path / "drops.json").write_text(json.dumps(drops))
    train = tmp_path / "train"
    train.mkdir()
    from gir.io import write_image
    write_image(train / "a.png", natural_image(64, 64))
    out = tmp_path / "G"
    rc = main(["grids", "group", "--matrix", str(tmp_path / "matrix.json"), "--delta", "0.7", "--out", str(out),
               "--dry-run-verify", str(tmp_path / "drops.json"), "--train", str(train), "--val", str(train),
               "--iterations", "50"])
    assert rc == 0
    assert "2 group(s)" in capsys.readouterr().out
    configs = sorted(out.glob("group_*.yaml"))
    assert [p.name for p in configs] == ["group_0.yaml", "group_1.yaml"]
    seen = []
    for p in configs:
        cfg = load_config(p)
        assert cfg["data"]["train"]["mode"] == "mix" and cfg["train"]["iterations"] == 50
        seen.append(tuple(t["recipe"] for t in cfg["data"]["train"]["mix"]["tasks"]))
    assert sorted(seen) == sorted([tuple(CLUSTERED[:3]), tuple(CLUSTERED[3:])])
    grouping = _strict_json(out / "grouping.json")
    assert grouping["m"] == 2 and grouping["verifications"] < grouping["exhaustive"]
    # replaying the finished search from its own grouping.json gives the same groups
    rc = main(["grids", "group", "--matrix", str(tmp_path / "matrix.json"), "--out", str(tmp_path / "G2"),
               "--dry-run-verify", str(out / "grouping.json"), "--train", str(train)])
    assert rc == 0 and _strict_json(tmp_path / "G2" / "grouping.json")["groups"] == grouping["groups"]


def test_cli_group_reports_bad_matrix(tmp_path, capsys):
    from gir.cli import main

    (tmp_path / "m.json").write_text(json.dumps({"ops": ["noise", "blur"], "matrix": [[None, 1.0]]}))
    assert main(["grids", "group", "--matrix", str(tmp_path / "m.json"), "--out", str(tmp_path / "o"),
                 "--dry-run-verify", str(tmp_path / "m.json")]) == 2
    assert "expected 2x2" in capsys.readouterr().err


@pytest.fixture
def image_folder(tmp_path):
    from gir.io import write_image

    folder = tmp_path / "images"
    folder.mkdir()
    for s in range(3):
        write_image(folder / f"im{s}.png", natural_image(64, 72, seed=s))
    return folder


@needs_interpret
def test_cli_similarity_end_to_end(tmp_path, image_folder, capsys):
    from gir.cli import main

    out = tmp_path / "D"
    rc = main(["grids", "similarity", "--model", "random:srresnet", "--ops", "noise,blur,jpeg", "--crop", "48",
               "--max-images", "3", "--images", str(image_folder), "--out", str(out), "--n-per-op", "8"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "noise" in printed and "jpeg" in printed
    rec = _strict_json(out / "matrix.json")  # no NaN / Infinity tokens
    assert rec["ops"] == ["noise", "blur", "jpeg"] and rec["model"] == "random:srresnet" and rec["layer"]
    m = rec["matrix"]
    assert all(m[i][i] is None for i in range(3))
    assert all(isinstance(m[i][j], float) and math.isfinite(m[i][j]) for i in range(3) for j in range(3) if i != j)
    assert set(rec["ggd"]) == {"noise", "blur", "jpeg"} and all(v["alpha"] > 0 for v in rec["ggd"].values())
    assert (out / "matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_interpret
def test_build_selector_and_cli_select(tmp_path, image_folder, capsys):
    from gir.cli import main
    from gir.grids.selection import build_selector

    sel = build_selector("random:srresnet", image_folder, {"blurs": ["blur", "defocus_blur"], "noises": ["noise"]},
                         tmp_path / "E", crop=32, crops=4, n_per_op=6, per_op=2)
    assert sel.threshold is not None and sel.layer and (tmp_path / "E" / "groups.json").is_file()
    assert main(["grids", "select", str(image_folder / "im0.png"), "--experts", str(tmp_path / "E"),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    div = res["divergences"]
    assert set(div) == {"blurs", "noises"} and res["group"] == min(div, key=div.get)  # the closest group
    assert res["divergence"] == div[res["group"]]
    assert res["ops"] == {"blurs": ["blur", "defocus_blur"], "noises": ["noise"]}[res["group"]]
    assert res["threshold"] == pytest.approx(sel.threshold) and res["ood"] == (res["divergence"] > sel.threshold)


def test_verify_by_training_scores_and_caches(tmp_path, image_folder, monkeypatch):
    from gir.grids.grouping import TrainBudget, TrainingVerifier, verify_by_training

    kw = dict(arch={"type": "srcnn", "preset": "small"}, val_images=2, val_crop=32, device="cpu",
              budget=TrainBudget(iterations=2, batch_size=2, patch_size=16, warmup=1))
    v = verify_by_training(tmp_path / "work", [image_folder], image_folder, **kw)
    drop = v(("noise", "blur"))
    assert math.isfinite(drop) and v(("noise",)) == 0.0
    rec = json.loads((v.root / "groups" / "noise+blur.json").read_text())
    assert rec["drop"] == pytest.approx(drop) and set(rec["psnr"]) == {"noise", "blur"}

    def no_training(*a, **k):
        raise AssertionError("a finished group was trained again")
    monkeypatch.setattr(TrainingVerifier, "_train", no_training)
    again = verify_by_training(tmp_path / "work", [image_folder], image_folder, **kw)
    assert again(("noise", "blur")) == pytest.approx(drop)


def test_grouping_search_with_a_verification_budget_keeps_the_best_partition_found():
    ops = list("abcdef")
    m, verify, _ = _planted(ops)
    full = search_groups(ops, m, verify, delta=0.7)
    assert full.complete and full.to_dict()["complete"]
    for budget in (1, full.verifications // 2, full.verifications - 1):
        res = search_groups(ops, m, _planted(ops)[1], delta=0.7, max_verifications=budget)
        assert not res.complete and res.verifications == budget
        assert all(res.drops[group_key(g)] <= 0.7 for g in res.groups if len(g) > 1)  # only verified groups
        assert sorted(o for g in res.groups for o in g) == ops
        assert full.m <= res.m <= len(ops)
    assert "not a proven minimum" in res.describe()


def test_selection_by_diagnosis_follows_the_most_probable_family_and_breaks_ties_by_divergence():
    from gir.grids.selection import select_by_diagnosis

    groups = {"g0": ["blur", "ringing"], "g1": ["motion_blur", "sr"], "g2": ["noise", "salt_pepper"]}
    p = {"blur": 0.1, "ringing": 0.2, "resize": 0.3, "noise": 0.9, "impulse": 0.05}
    assert select_by_diagnosis(p, groups) == "g2"
    p.update(noise=0.1, blur=0.8)  # blur is the family of both g0 (blur) and g1 (motion_blur): a tie
    assert select_by_diagnosis(p, groups) == "g0"
    assert select_by_diagnosis(p, groups, {"g0": 0.5, "g1": 0.1, "g2": 0.01}) == "g1"  # g2 is not tied
    with pytest.raises(GirError, match="no analyzer family for op"):
        select_by_diagnosis(p, {"g": ["blur", "made_up"]})
