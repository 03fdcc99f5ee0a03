from decimal import Decimal

import pytest

from accounts.models import RiskTolerance
from accounts.profiles import PROFILES, SHORT, profile_for


def test_every_tolerance_has_a_profile():
    assert set(PROFILES) == set(RiskTolerance.values)


def test_limits_grow_with_tolerance():
    c, m, a = (profile_for(t) for t in ("Conservative", "Moderate", "Aggressive"))
    assert c.max_position_weight < m.max_position_weight < a.max_position_weight
    assert c.kelly_fraction < m.kelly_fraction < a.kelly_fraction
    assert c.var_budget_1d_95 < m.var_budget_1d_95 < a.var_budget_1d_95


def test_documented_values():
    assert profile_for("Conservative").max_position_weight == Decimal("0.10")
    assert profile_for("Moderate").kelly_fraction == Decimal("0.50")
    assert profile_for("Aggressive").var_budget_1d_95 == Decimal("0.04")


def test_only_aggressive_may_short():
    assert [p.name for p in PROFILES.values() if p.allows_shorting] == ["Aggressive"]
    assert SHORT not in profile_for("Moderate").allowed_actions


def test_unknown_tolerance_is_an_error():
    with pytest.raises(ValueError):
        profile_for("Reckless")


def test_as_dict_keeps_exact_fractions():
    data = profile_for("Conservative").as_dict()
    assert data["var_budget_1d_95"] == "0.015"
    assert data["allows_shorting"] is False
