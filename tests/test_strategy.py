"""Training strategies over a task list (paper 001, Table 3a): Mix-, Combine-, Sequence-Train and
incremental learning, as the ``strategy`` data mode."""
from __future__ import annotations

from collections import Counter

import pytest

from gir.data.datasets import build_train_set, sample_rng
from gir.data.errors import ConfigError
from gir.data.tasks import build_task_sampler
from gir.io import write_image
from tests.conftest import natural_image

RECIPES = ["noise(sigma=10)", "blur(sigma=1.0)", "jpeg(quality=30)", "noise(sigma=10) > jpeg(quality=30)",
           "blur(sigma=1.0) > noise(sigma=10)"]
NAMES = ["noise", "blur", "jpeg", "noise+jpeg", "blur+noise"]
TASKS = [{"recipe": r, "name": n} for r, n in zip(RECIPES, NAMES)]
ISOLATED, COUPLED = set(NAMES[:3]), set(NAMES[3:])


def _tasks(kind, per_it=4, iterations=30, **kw):
    s = build_task_sampler("strategy", {"type": kind, "tasks": TASKS, **kw}, "data.train.strategy")
    s.bind_iterations(per_it, iterations)
    return [[s.draw_at(sample_rng(0, i), i).task for i in range((it - 1) * per_it, it * per_it)]
            for it in range(1, iterations + 1)]


def test_incremental_trains_isolated_first_then_isolated_and_coupled_together():
    its = _tasks("incremental", iterations=30)
    assert all(t in ISOLATED for batch in its[:10] for t in batch)  # n = a third of the run
    for batch in its[10:]:
        assert all(t in ISOLATED for t in batch[0::2]) and all(t in COUPLED for t in batch[1::2])
    its = _tasks("incremental", iterations=30, isolated_iterations=5)
    assert all(t in ISOLATED for b in its[:5] for t in b) and any(t in COUPLED for t in its[5])


def test_combine_gives_every_task_the_same_share_and_sequence_one_task_at_a_time():
    counts = Counter(t for b in _tasks("combine", per_it=5, iterations=8) for t in b)
    assert set(counts) == set(NAMES) and len(set(counts.values())) == 1
    seq = _tasks("sequence", per_it=2, iterations=10)
    assert [set(b) for b in seq] == [{NAMES[k // 2]} for k in range(10)]
    mix = Counter(t for b in _tasks("mix", per_it=8, iterations=50) for t in b)
    assert set(mix) == set(NAMES)


def test_samples_are_a_function_of_seed_and_index(tmp_path):
    for i in range(2):
        write_image(tmp_path / f"t{i}.png", natural_image(40, 40, seed=i))
    section = {"mode": "strategy", "roots": [str(tmp_path)], "strategy": {"type": "incremental", "tasks": TASKS}}
    a = build_train_set(section, 3, 16, samples_per_iteration=2, iterations=9)
    b = build_train_set(section, 3, 16, samples_per_iteration=2, iterations=9)
    for i in (0, 7, 13):
        assert a[i]["task"] == b[i]["task"] and (a[i]["lq"] == b[i]["lq"]).all()
    assert a[13]["task"] in COUPLED  # iteration 7 > n = 3, odd position


@pytest.mark.parametrize("section, match", [
    ({"type": "incremental", "tasks": TASKS[:3]}, "needs isolated"),
    ({"type": "curriculum", "tasks": TASKS}, "expected one of"),
    ({"type": "mix", "tasks": TASKS, "isolated_iterations": 0}, "positive integer"),
])
def test_bad_strategy_configs(section, match):
    with pytest.raises(ConfigError, match=match):
        build_task_sampler("strategy", section, "data.train.strategy")
