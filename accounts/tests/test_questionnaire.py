"""The points table maps answers to a profile transparently; boundaries are where bugs hide."""

import pytest

from accounts import questionnaire as q
from accounts.models import InvestmentExperience, RiskTolerance


def _answers_scoring(total: int, experience: str | None = None) -> dict[str, str]:
    """Answers whose points add up to ``total`` (experience fixed), built from the table itself."""
    if experience is None:
        experience = "over_5y" if total >= 4 else "none"
    answers = {"experience": experience}
    remaining = total - q.QUESTIONS_BY_KEY["experience"].points_for(experience)
    for question in q.QUESTIONS:
        if question.key == "experience":
            continue
        # the highest option that does not overshoot what is left
        option = max((o for o in question.options if o.points <= remaining), key=lambda o: o.points)
        answers[question.key] = option.value
        remaining -= option.points
    assert remaining == 0, f"cannot reach {total}"
    return answers


def test_every_question_has_seven_keys_and_points_from_zero_to_four():
    assert len(q.QUESTIONS) == 7
    assert {qq.key for qq in q.QUESTIONS} == {
        "horizon",
        "drawdown_reaction",
        "income_stability",
        "experience",
        "savings_share",
        "goal",
        "check_frequency",
    }
    for question in q.QUESTIONS:
        points = [o.points for o in question.options]
        assert min(points) == 0 and max(points) == 4
        assert len({o.value for o in question.options}) == len(question.options)
    assert q.MAX_SCORE == 28


@pytest.mark.parametrize(
    ("total", "expected"),
    [(0, "Conservative"), (11, "Conservative"), (12, "Moderate"), (19, "Moderate"), (20, "Aggressive"), (28, "Aggressive")],
)
def test_tolerance_bands_at_their_boundaries(total, expected):
    result = q.score_questionnaire(_answers_scoring(total))
    assert result.score == total
    assert result.risk_tolerance == expected
    assert q.tolerance_for_score(total) == expected


def test_scores_outside_the_range_are_refused():
    with pytest.raises(ValueError):
        q.tolerance_for_score(-1)
    with pytest.raises(ValueError):
        q.tolerance_for_score(q.MAX_SCORE + 1)


@pytest.mark.parametrize(
    ("experience", "level"),
    [("none", "Beginner"), ("under_2y", "Beginner"), ("2_to_5y", "Intermediate"), ("over_5y", "Advanced")],
)
def test_experience_level_comes_from_the_experience_answer(experience, level):
    answers = _answers_scoring(q.QUESTIONS_BY_KEY["experience"].points_for(experience) + 10, experience)
    assert q.score_questionnaire(answers).investment_experience == level


def test_a_beginner_with_aggressive_points_is_capped_at_moderate():
    answers = _answers_scoring(21, experience="under_2y")
    result = q.score_questionnaire(answers)
    assert result.score == 21
    assert result.risk_tolerance == "Moderate"
    assert result.capped is True


def test_an_experienced_investor_with_the_same_points_is_aggressive():
    result = q.score_questionnaire(_answers_scoring(21, experience="2_to_5y"))
    assert result.risk_tolerance == "Aggressive"
    assert result.capped is False


def test_points_per_question_are_reported_and_sum_to_the_score():
    result = q.score_questionnaire(_answers_scoring(15))
    assert set(result.points) == {qq.key for qq in q.QUESTIONS}
    assert sum(result.points.values()) == result.score == 15


def test_missing_unknown_and_invalid_answers_are_all_reported():
    answers = _answers_scoring(15)
    del answers["goal"]
    answers["horizon"] = "forever"
    answers["favourite_colour"] = "blue"
    with pytest.raises(q.InvalidAnswers) as info:
        q.score_questionnaire(answers)
    assert set(info.value.errors) == {"goal", "horizon", "favourite_colour"}


def test_same_answers_same_result():
    answers = _answers_scoring(17)
    assert q.score_questionnaire(answers) == q.score_questionnaire(dict(answers))


def test_labels_match_the_user_model_choices():
    assert {q.CONSERVATIVE, q.MODERATE, q.AGGRESSIVE} == set(RiskTolerance.values)
    assert {q.BEGINNER, q.INTERMEDIATE, q.ADVANCED} == set(InvestmentExperience.values)
