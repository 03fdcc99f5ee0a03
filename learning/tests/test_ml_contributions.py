"""What moved a prediction: the Random Forest's path decomposition, and the predictor's tree contributions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from learning import predictor
from learning.ml.ensemble import StackedEnsemble
from learning.ml.models import make_model
from learning.tests.ml_synthetic import SMALL, planted


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return planted(n_days=900, n_symbols=3, seed=3)


def test_forest_contributions_plus_bias_equal_its_probability_and_credit_the_signal(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    forest = make_model("rf", **SMALL["rf"]).fit(X, y)

    table = forest.contributions(X.iloc[:300])

    assert list(table.columns) == [*X.columns, "bias"]
    np.testing.assert_allclose(table.sum(axis=1).to_numpy(), forest.predict_proba(X.iloc[:300]), atol=1e-9)
    # The label follows "signal": it carries most of the credit.
    assert table.drop(columns="bias").abs().mean().idxmax() == "signal"


@pytest.mark.parametrize("kinds", [["rf"], ["xgb"], ["rf", "xgb"]])
def test_an_ensemble_with_tree_models_always_says_what_moved_it(data: tuple[pd.DataFrame, pd.Series], kinds: list[str]) -> None:
    X, y = data
    base: dict[str, dict[str, Any]] = {k: dict(SMALL[k]) for k in kinds}
    ensemble = StackedEnsemble(base=base, inner_years=2, horizon=5, embargo=5).fit(X, y)
    rows = X.loc[X["signal"].abs().nlargest(6).index]  # rows where the signal is unmistakable

    explained = predictor._contributions(ensemble, rows)

    assert set(explained) == set(rows.index)
    for items in explained.values():
        assert 1 <= len(items) <= predictor.TOP_CONTRIBUTIONS
        sizes = [abs(v) for _, v in items]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0
        assert items[0][0] == "signal"
