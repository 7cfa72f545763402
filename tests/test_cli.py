"""What every `gir` command shares: no abbreviated options, one output-flag spelling (old ones hidden aliases),
`gir train` / `python -m gir.training` taking the same options, YAML booleans for string options, and
`gir models` listing the shipped weights with their cards."""
from __future__ import annotations

import argparse

import pytest

from gir.cli import build_parser, main
from gir.models.shipped import WEIGHTS_DIR, card_title, shipped_models


def _parsers(parser: argparse.ArgumentParser, path: str = "gir"):
    """(command path, parser) for ``parser`` and every parser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_no_parser_takes_abbreviations():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 20
    assert [path for path, p in parsers if p.allow_abbrev] == []
    with pytest.raises(SystemExit):  # --mode is not --model
        build_parser().parse_args(["restore", "a.png", "-o", "b.png", "--mode", "gir-wunet-cpu"])


def test_one_output_flag_spelling_old_ones_hidden():
    for path, p in _parsers(build_parser()):
        for action in p._actions:
            flags = set(action.option_strings)
            if flags & {"--out", "--out-dir"}:  # an old spelling: a hidden alias of -o/--output
                assert action.dest == "output" and action.help == argparse.SUPPRESS, path
                assert not flags & {"-o", "--output"}, path
            elif "-o" in flags or "--output" in flags:
                assert flags == {"-o", "--output"} and action.dest == "output", path
    ap = build_parser()
    for flag in ("-o", "--output", "--out"):
        assert ap.parse_args(["bench", "compare", "a", "b", flag, "X"]).output == "X"
    with pytest.raises(SystemExit):
        ap.parse_args(["bench", "compare", "a", "b"])  # still required, by one spelling or another
    help_text = ap._subparsers._group_actions[0].choices["bench"]._subparsers._group_actions[0].choices[
        "compare"].format_help()
    assert "-o OUTPUT, --output OUTPUT" in help_text and "--out " not in help_text


@pytest.mark.parametrize("flag", ["-o", "--output", "--out-dir", "--out"])
def test_gir_train_and_python_m_gir_training_take_the_same_output_flags(flag, monkeypatch, tmp_path, capsys):
    import gir.training
    from gir.training.__main__ import main as training_main

    calls = []
    monkeypatch.setattr(gir.training, "run", lambda *a, **k: calls.append(k["out_dir"]) or tmp_path)
    assert main(["train", "c.yaml", flag, "R1", "--set", "train.amp=off"]) == 0
    assert training_main(["c.yaml", flag, "R2"]) == 0
    assert calls == ["R1", "R2"]


def test_yaml_booleans_are_accepted_for_string_options():
    from gir.training.config import load_config

    assert load_config({}, ["train.amp=off"])["train"]["amp"] == "off"  # YAML reads `off` as False
    assert load_config({"train": {"amp": False}})["train"]["amp"] == "off"
    assert load_config({}, ["data.train.single.name=yes"])["data"]["train"]["single"]["name"] == "on"


def test_typed_sections_are_checked_at_load():
    from gir.errors import ConfigError
    from gir.training.config import load_config

    for override, match in [("optim.momentum=0.9", r"config: optim: unknown key 'momentum' \(optimiser 'adamw'\)"),
                            ("schedule.warmupp=3", "config: schedule: unknown key 'warmupp'"),
                            ("loss.0.eps=1", r"config: loss\[0\]: unknown key 'eps' \(loss 'l1'\)"),
                            ("model.c3=8", "config: model: srcnn: unknown parameter"),
                            ("model.preset=huge", "unknown preset 'huge'"),
                            ("objective.gamma=2", "config: objective: unknown key 'gamma'")]:
        with pytest.raises(ConfigError, match=match):
            load_config({}, [override])


def test_gir_models_lists_the_shipped_weights_with_their_cards(monkeypatch, capsys):
    import gir.models.info

    monkeypatch.setattr(gir.models.info, "model_table", lambda **kw: [])  # the architectures: tested elsewhere
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    names = shipped_models()
    assert "gir-analyzer" in names and "gir-wunet-cpu" in names
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| gir-")}
    assert sorted(rows) == names
    for name in names:
        card = WEIGHTS_DIR / f"{name}.md"
        if not card.is_file():  # weights whose card is still to be written
            assert "(no card)" in rows[name]
            continue
        first = card.read_text(encoding="utf-8").splitlines()[0]
        assert card_title(name) and card_title(name) in first and card_title(name) in rows[name]
    assert card_title("gir-expert-jpeg") == "the `jpeg` expert of `gir restore`"  # the name and dash dropped
