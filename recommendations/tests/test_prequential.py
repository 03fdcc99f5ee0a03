"""Time-ordered (prequential) quality of the bandit and the acceptance model: no model can see the future."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.core import bandit
from recommendations.core import prequential as pq


def test_auc_counts_ties_half_and_needs_both_classes():
    assert pq.auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert pq.auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert pq.auc([0, 1], [0.5, 0.5]) == 0.5
    assert pq.auc([1, 1], [0.2, 0.3]) is None


def test_reliability_table_has_at_most_ten_bins_and_leaves_empty_ones_out():
    rows = pq.reliability_table([0, 1, 1, 0], [0.05, 0.95, 1.0, 0.5])
    assert [(b.lower, b.upper, b.answers) for b in rows] == [(0.0, 0.1, 1), (0.5, 0.6, 1), (0.9, 1.0, 2)]
    assert rows[-1].accepted_rate == 1.0 and rows[-1].mean_predicted == pytest.approx(0.975)
    with pytest.raises(ValueError):
        pq.reliability_table([1], [0.5], bins=11)


class Recorder:
    """Remembers what it was shown: at each prediction it must have learned exactly the earlier answers."""

    def __init__(self) -> None:
        self.learned: list[int] = []
        self.seen_at_predict: list[list[int]] = []

    def predict(self, item: int) -> float:
        self.seen_at_predict.append(list(self.learned))
        return 0.5

    def learn(self, item: int, accepted: bool) -> None:
        self.learned.append(item)


def test_online_evaluation_scores_each_answer_before_learning_it_in_time_order_whatever_the_given_order():
    items = [3, 1, 2, 0]
    times = [30, 10, 20, 0]  # given out of order: the evaluation sorts by time itself
    learner = Recorder()
    result = pq.prequential_online(items, [True, False, True, False], times, learner)
    assert learner.seen_at_predict == [[], [0], [0, 1], [0, 1, 2]]
    assert result.answers == 4 and result.accepted == 2


def test_a_model_that_memorises_labels_gains_nothing_when_the_labels_are_fresh_coin_flips():
    """An 'oracle' that would be perfect if it saw the current label can only replay the past: AUC ~ 0.5."""
    rng = np.random.default_rng(1)
    y = rng.random(2000) < 0.5

    class Memoriser:
        last = 0.5

        def predict(self, item: int) -> float:
            return self.last

        def learn(self, item: int, accepted: bool) -> None:
            self.last = 1.0 if accepted else 0.0

    result = pq.prequential_online(list(range(2000)), list(y), list(range(2000)), Memoriser())
    assert result.auc is not None and abs(result.auc - 0.5) < 0.05


def test_block_evaluation_fits_each_block_on_the_past_only():
    seen: list[tuple[list[int], list[int]]] = []

    def fit(past, y):
        def score(block):
            seen.append((list(past), list(block)))
            return [0.5] * len(block)

        return score

    items = list(range(12))
    result = pq.prequential_blocks(items, [i % 2 == 0 for i in items], list(reversed(range(12))), fit, blocks=5)
    # times are reversed: item 11 is the oldest
    assert len(seen) == 5
    for past, block in seen:
        assert min(past) > max(block)  # everything fitted on is older (a higher item number is older here)
    assert result.answers == 10 and pq.block_starts(12, 5) == [2, 4, 6, 8, 10]


def _synthetic_answers(rng, *, signal: bool, users: int = 20, per_user: int = 60):
    """Answers to BUY/SELL cards; with ``signal`` each user accepts a fixed favourite symbol and high confidence."""
    items, labels, times = [], [], []
    t = 0
    for _day in range(per_user):
        for u in range(users):
            symbol = bandit.SYMBOLS[int(rng.integers(len(bandit.SYMBOLS)))]
            confidence = float(rng.uniform(0.5, 0.75))
            x = bandit.context_vector(symbol=symbol, action="BUY", confidence=confidence, risk_score=0.3, size_pct=0.05)
            liked = symbol == bandit.SYMBOLS[u % 5] or confidence >= 0.66
            p = (0.85 if liked else 0.15) if signal else 0.5
            items.append(pq.BanditAnswer(user_id=u, group=("Moderate", "Beginner"), context=x))
            labels.append(bool(rng.random() < p))
            times.append(t)
            t += 1
    return items, labels, times


def test_bandit_learns_a_known_signal_and_not_noise():
    rng = np.random.default_rng(7)
    good = pq.bandit_quality(*_synthetic_answers(rng, signal=True))
    noise = pq.bandit_quality(*_synthetic_answers(rng, signal=False))
    assert good.answers == noise.answers == 1200
    assert good.auc is not None and good.auc > 0.75
    assert noise.auc is not None and abs(noise.auc - 0.5) < 0.06
    assert good.brier is not None and noise.brier is not None and good.brier < noise.brier
    assert 1 <= len(good.reliability) <= 10 and sum(b.answers for b in good.reliability) == 1200


def test_bandit_scores_a_first_answer_with_the_population_prior_only():
    x = bandit.context_vector(symbol="AAPL", action="BUY", confidence=0.6, risk_score=0.3, size_pct=0.05)
    learner = pq.BanditLearner()
    assert learner.predict(pq.BanditAnswer(1, "g", x)) == pytest.approx(0.5)
    for _ in range(50):
        learner.learn(pq.BanditAnswer(2, "g", x), True)  # another user who accepts everything
    assert learner.predict(pq.BanditAnswer(1, "g", x)) > 0.8  # the newcomer starts where people like them are
    # a user's own answers do not count twice (in their prior and in their statistics)
    solo = pq.BanditLearner()
    for _ in range(5):
        solo.learn(pq.BanditAnswer(3, "h", x), False)
    own_only = bandit.ridge_mean(solo.users[3], prior_mean=bandit.default_prior(), strength=bandit.PRIOR_STRENGTH)
    assert solo.predict(pq.BanditAnswer(3, "h", x)) == pytest.approx(float(np.clip(x @ own_only, 0, 1)))


def test_acceptance_style_block_learner_sees_signal_and_not_noise():
    rng = np.random.default_rng(3)
    n = 1200
    feature = rng.random(n)

    def fit(past, y):
        if len(set(y.tolist())) < 2:
            return None
        past_f = np.asarray(past)
        rate_hi = y[past_f >= 0.5].mean()
        rate_lo = y[past_f < 0.5].mean()
        return lambda block: [rate_hi if f >= 0.5 else rate_lo for f in block]

    signal = pq.prequential_blocks(list(feature), list(rng.random(n) < np.where(feature >= 0.5, 0.8, 0.2)), list(range(n)), fit)
    noise = pq.prequential_blocks(list(feature), list(rng.random(n) < 0.5), list(range(n)), fit)
    assert signal.auc is not None and signal.auc > 0.7 and len(signal.block_aucs) == 5
    assert noise.auc is not None and abs(noise.auc - 0.5) < 0.06
    assert signal.answers == 5 * (n // 6)  # the first block only trains
