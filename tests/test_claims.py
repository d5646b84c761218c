"""Claims: the declared criterion decides the verdict, and nothing half-measured is saved."""

import json
import math

import numpy as np
import pytest
import torch

from hopbook.claims import RUN_ENVIRONMENT, Claims, Run, leaves, recorded_names


def declared(criterion="residual < 1e-10"):
    claims = Claims(Run("demo"))
    claims.declare("c", statement="s", source="Lemma 1", paper="exact", criterion=criterion)
    return claims


def test_verdict_is_the_criterion_evaluated_on_the_measurements():
    claims = declared()
    assert claims.measure("c", residual=torch.tensor(3e-16)) is True
    other = declared()
    assert other.measure("c", residual=np.float64(1e-3)) is False
    assert other["c"].holds is False and other["c"].measured == {"residual": 1e-3}


def test_criterion_may_read_summaries_of_random_draws():
    claims = declared("gain['mean'] - 2 * gain['se'] > 0")
    assert claims.measure("c", gain={"mean": 1.0, "se": 0.1, "n": 100})


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


def test_a_malformed_criterion_fails_at_declaration():
    with pytest.raises(SyntaxError):
        declared("residual <")


def test_claims_are_declared_and_measured_once():
    claims = declared()
    with pytest.raises(ValueError, match="declared twice"):
        claims.declare("c", statement="s", source="x", paper="y", criterion="True")
    claims.measure("c", residual=0.0)
    with pytest.raises(ValueError, match="measured twice"):
        claims.measure("c", residual=0.0)


def test_save_refuses_unmeasured_claims_and_writes_them_all(tmp_path):
    claims = declared()
    with pytest.raises(RuntimeError, match="never measured: c"):
        claims.save(tmp_path / "claims.json")
    assert not (tmp_path / "claims.json").exists()
    claims.measure("c", residual=0.0)
    claims.save(tmp_path / "claims.json")
    saved = json.loads((tmp_path / "claims.json").read_text())
    assert saved["chapter"] == "demo"
    assert saved["claims"][0] == {
        "id": "c", "statement": "s", "source": "Lemma 1", "paper": "exact",
        "criterion": "residual < 1e-10", "measured": {"residual": 0.0}, "holds": True,
    }


def test_the_run_comes_from_the_runner_through_the_environment(monkeypatch):
    monkeypatch.setenv(RUN_ENVIRONMENT, json.dumps({"chapter": "copied", "profile": "smoke", "device": "cpu",
                                                    "params": {"seed": 3}}))
    assert Claims().run == Run("copied", "smoke", "cpu", {"seed": 3})
    monkeypatch.delenv(RUN_ENVIRONMENT)
    assert Claims().run == Run()  # executed by hand


def test_every_recorded_value_has_one_name_for_the_prose():
    claims = Claims(Run("demo", params={"seed": 0, "dataset": "digits"}))
    claims.declare("thm-1", statement="s", source="x", paper="y", criterion="gap['mean'] > 0")
    claims.declare("lemma-2", statement="s", source="x", paper="y", criterion="all(e < 1 for e in errors)")
    claims.measure("thm-1", gap={"mean": 1.5, "se": 0.1, "n": 4}, by_setting={"class": {"top": 2.0}})
    claims.measure("lemma-2", errors=[0.1, 0.2])
    claims.record(n_images=901)
    assert recorded_names(claims.payload()) == {
        "param.seed", "param.dataset", "thm-1.gap.mean", "thm-1.gap.se", "thm-1.gap.n", "thm-1.by_setting.class.top",
        "lemma-2.errors.0", "lemma-2.errors.1", "run.n_images", "verdicts.n_hold", "verdicts.n_claims", "verdicts.failing",
    }
    assert dict(leaves("thm-1", claims["thm-1"].measured))["thm-1.gap.mean"] == 1.5
    with pytest.raises(ValueError, match="recorded twice: n_images"):
        claims.record(n_images=900)
