"""Claims: the declared criterion decides the verdict, a declared rule says "not tested", and nothing
half-measured is saved."""

import json
import math

import numpy as np
import pytest
import torch

from hopbook.book.claims import RUN_ENVIRONMENT, Claims, Run, leaves, recorded_names, verdict_summary
from hopbook.book.directives import Declared


def declared(criterion="residual < 1e-10", save_to="", **options):
    claim = Declared("c", "s", "Lemma 1", "exact", criterion, control={"seed": "1"}, **options)
    return Claims(Run("demo", params={"model_path": ""}, claims=[claim.as_dict()], save_to=save_to))


def test_verdict_is_the_criterion_evaluated_on_the_measurements():
    claims = declared()
    claims.measure("c", residual=torch.tensor(3e-16))
    assert (claims["c"].verdict, claims["c"].holds) == ("holds", True)
    other = declared()
    other.measure("c", residual=np.float64(1e-3))
    assert (other["c"].verdict, other["c"].holds) == ("does not hold", False) and other["c"].measured == {"residual": 1e-3}


def test_a_declared_rule_over_parameters_and_measurements_says_not_tested_with_its_reason():
    rule = {"tested_if": "'gpt2' in model_path or aligned > 0.5", "not_tested": "a sentence encoder is not GPT-2"}
    claims = declared(**rule)
    claims.measure("c", residual=0.0, aligned=0.1)  # the criterion would hold; the rule decides first
    assert (claims["c"].verdict, claims["c"].holds, claims["c"].reason) == ("not tested", None, rule["not_tested"])
    tested = declared(**rule)
    tested.measure("c", residual=1.0, aligned=0.9)
    assert (tested["c"].verdict, tested["c"].holds, tested["c"].reason) == ("does not hold", False, "")


def test_criterion_may_read_summaries_of_random_draws():
    claims = declared("gain['mean'] - 2 * gain['se'] > 0")
    claims.measure("c", gain={"mean": 1.0, "se": 0.1, "n": 100})
    assert claims["c"].holds


@pytest.mark.parametrize(
    ("criterion", "measured", "error"),
    [
        ("residual < 1e-10", {"other": 1.0}, "not measured"),
        ("residual", {"residual": 1.0}, "not a boolean"),
        ("residual < 1", {"residual": math.nan}, "NaN"),
        ("residual < 1", {"residual": object()}, "cannot record"),
    ],
)
def test_bad_measurements_raise(criterion, measured, error):
    with pytest.raises((ValueError, TypeError), match=error):
        declared(criterion).measure("c", **measured)


def test_claims_are_measured_once_and_only_if_declared():
    claims = declared()
    with pytest.raises(ValueError, match=r"not declared: write a \{claim\} d directive"):
        claims.measure("d", residual=0.0)
    claims.measure("c", residual=0.0)
    with pytest.raises(ValueError, match="measured twice"):
        claims.measure("c", residual=0.0)


def test_conclude_refuses_unmeasured_claims_and_saves_them_all_where_the_runner_asks(tmp_path):
    path = tmp_path / "claims.json"
    claims = declared(save_to=str(path))
    with pytest.raises(RuntimeError, match="never measured: c"):
        claims.conclude()
    assert not path.exists()
    claims.measure("c", residual=0.0)
    claims.conclude()
    saved = json.loads(path.read_text())
    assert saved["chapter"] == "demo"
    assert saved["claims"][0] == {
        "id": "c", "kind": "claim", "statement": "s", "source": "Lemma 1", "paper": "exact",
        "criterion": "residual < 1e-10", "control": "seed=1", "measured": {"residual": 0.0},
        "verdict": "holds", "holds": True, "reason": "",
    }


def test_a_chapter_run_by_hand_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    claims = declared()
    claims.measure("c", residual=0.0)
    claims.conclude()
    assert list(tmp_path.iterdir()) == []


def test_the_run_comes_from_the_runner_through_the_environment(monkeypatch):
    told = {"chapter": "copied", "profile": "smoke", "device": "cpu", "params": {"seed": 3}, "claims": [],
            "save_to": "/tmp/x.json"}
    monkeypatch.setenv(RUN_ENVIRONMENT, json.dumps(told))
    assert Claims().run == Run(**told)
    monkeypatch.delenv(RUN_ENVIRONMENT)
    assert Claims().run == Run()  # executed by hand, outside a notebook


def test_the_summary_counts_claims_and_checks_apart():
    claims = [{"id": "a", "kind": "claim", "verdict": "holds"}, {"id": "b", "kind": "claim", "verdict": "does not hold"},
              {"id": "c", "kind": "claim", "verdict": "not tested"}, {"id": "d", "kind": "check", "verdict": "holds"}]
    summary = verdict_summary(claims)
    assert summary["summary"] == "claims: 1 of 2 hold (1 not tested) · checks: 1 of 1 pass"
    assert (summary["failing"], summary["not_tested"]) == ("`b`", "`c`")


def test_every_recorded_value_has_one_name_for_the_prose():
    declared_claims = [Declared("thm-1", "s", "x", "y", "gap['mean'] > 0", control={"seed": "1"}),
                       Declared("lemma-2", "s", "x", "y", "all(e < 1 for e in errors)", kind="check")]
    claims = Claims(Run("demo", params={"seed": 0, "dataset": "digits"}, claims=[d.as_dict() for d in declared_claims]))
    claims.measure("thm-1", gap={"mean": 1.5, "se": 0.1, "n": 4}, by_setting={"class": {"top": 2.0}})
    claims.measure("lemma-2", errors=[0.1, 0.2])
    claims.record(n_images=901)
    verdicts = {f"verdicts.{name}" for name in ("n_claims", "n_tested", "n_hold", "n_not_tested", "n_checks", "n_pass",
                                                "failing", "not_tested", "summary")}
    assert recorded_names(claims.payload()) == {
        "param.seed", "param.dataset", "thm-1.gap.mean", "thm-1.gap.se", "thm-1.gap.n", "thm-1.by_setting.class.top",
        "lemma-2.errors.0", "lemma-2.errors.1", "run.n_images", *verdicts,
    }
    assert dict(leaves("thm-1", claims["thm-1"].measured))["thm-1.gap.mean"] == 1.5
    with pytest.raises(ValueError, match="recorded twice: n_images"):
        claims.record(n_images=900)
