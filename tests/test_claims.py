"""Claims: the declared criterion decides the verdict, and nothing half-measured is saved."""

import json
import math

import numpy as np
import pytest
import torch

from hopbook.claims import Claims


def declared(criterion="residual < 1e-10"):
    claims = Claims("demo", device="cpu")
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
    assert saved["device"] == "cpu"
    assert saved["claims"][0] == {
        "id": "c", "statement": "s", "source": "Lemma 1", "paper": "exact",
        "criterion": "residual < 1e-10", "measured": {"residual": 0.0}, "holds": True,
    }
