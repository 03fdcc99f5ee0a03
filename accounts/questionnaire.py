"""The risk questionnaire and its scoring, in one transparent table. No Django here.

Seven questions, each answer worth 0 to 4 points. The sum (0 to 28) sets the risk tolerance:

    ====================  ===========
    total points          tolerance
    ====================  ===========
    0 to 11               Conservative
    12 to 19              Moderate
    20 to 28              Aggressive
    ====================  ===========

One safety rule on top: someone with no experience or under two years of it
(``experience`` answer "none" or "under_2y") is capped at Moderate, whatever the points say.

Investment experience comes from the experience question alone:
"none" and "under_2y" -> Beginner, "2_to_5y" -> Intermediate, "over_5y" -> Advanced.

Why the points run the way they do:
- horizon: a longer horizon leaves time to recover from a drawdown (more points);
- drawdown reaction: what someone says they would do after a 20 % fall is the best single
  predictor of whether they will sell at the bottom;
- income stability: a stable income means losses need not be realised to pay bills;
- experience: people who have been through a bear market misjudge risk less;
- share of savings: the larger the share put at risk, the less room to take risk with it;
- goal: preserving capital and drawing income call for less risk than growth;
- checking frequency: people who look at their portfolio very often react more to short-term
  losses (myopic loss aversion), so frequent checking scores lower.

``score_questionnaire`` is a pure function: the same answers always give the same profile. Any
change to the table must bump ``QUESTIONNAIRE_VERSION`` (stored answers record the version used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QUESTIONNAIRE_VERSION = 1

CONSERVATIVE = "Conservative"
MODERATE = "Moderate"
AGGRESSIVE = "Aggressive"
BEGINNER = "Beginner"
INTERMEDIATE = "Intermediate"
ADVANCED = "Advanced"

#: Inclusive lower bound of the total for each tolerance, highest first.
TOLERANCE_THRESHOLDS: tuple[tuple[int, str], ...] = ((20, AGGRESSIVE), (12, MODERATE), (0, CONSERVATIVE))
#: Experience answers that cap the tolerance at Moderate.
CAPPED_EXPERIENCE = frozenset({"none", "under_2y"})
EXPERIENCE_LEVEL = {"none": BEGINNER, "under_2y": BEGINNER, "2_to_5y": INTERMEDIATE, "over_5y": ADVANCED}


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    points: int


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    options: tuple[Option, ...]

    def points_for(self, value: str) -> int:
        for option in self.options:
            if option.value == value:
                return option.points
        raise KeyError(value)

    @property
    def max_points(self) -> int:
        return max(o.points for o in self.options)


QUESTIONS: tuple[Question, ...] = (
    Question(
        "horizon",
        "How long do you plan to keep this money invested?",
        (
            Option("under_1y", "Less than 1 year", 0),
            Option("1_to_3y", "1 to 3 years", 1),
            Option("3_to_5y", "3 to 5 years", 2),
            Option("5_to_10y", "5 to 10 years", 3),
            Option("over_10y", "More than 10 years", 4),
        ),
    ),
    Question(
        "drawdown_reaction",
        "Your portfolio falls 20 % in a month. What do you do?",
        (
            Option("sell_all", "Sell everything to stop the losses", 0),
            Option("sell_some", "Sell some of it", 1),
            Option("hold", "Hold and wait", 3),
            Option("buy_more", "Buy more at the lower prices", 4),
        ),
    ),
    Question(
        "income_stability",
        "How stable is your income over the next few years?",
        (
            Option("very_unstable", "Very unstable or none", 0),
            Option("unstable", "Somewhat unstable", 1),
            Option("stable", "Stable", 3),
            Option("very_stable", "Very stable, with savings for emergencies", 4),
        ),
    ),
    Question(
        "experience",
        "How long have you invested in individual stocks?",
        (
            Option("none", "Never", 0),
            Option("under_2y", "Less than 2 years", 1),
            Option("2_to_5y", "2 to 5 years", 3),
            Option("over_5y", "More than 5 years", 4),
        ),
    ),
    Question(
        "savings_share",
        "What share of your savings will you invest here?",
        (
            Option("over_75", "More than 75 %", 0),
            Option("50_to_75", "50 to 75 %", 1),
            Option("25_to_50", "25 to 50 %", 2),
            Option("10_to_25", "10 to 25 %", 3),
            Option("under_10", "Less than 10 %", 4),
        ),
    ),
    Question(
        "goal",
        "What is your main goal?",
        (
            Option("preserve", "Keep what I have", 0),
            Option("income", "A steady income", 1),
            Option("balanced", "Balanced growth", 2),
            Option("growth", "Growth", 3),
            Option("max_growth", "Maximum growth, accepting large swings", 4),
        ),
    ),
    Question(
        "check_frequency",
        "How often would you check your portfolio?",
        (
            Option("hourly", "Several times a day", 0),
            Option("daily", "Daily", 1),
            Option("weekly", "Weekly", 2),
            Option("monthly", "Monthly", 3),
            Option("rarely", "A few times a year", 4),
        ),
    ),
)

QUESTIONS_BY_KEY: dict[str, Question] = {q.key: q for q in QUESTIONS}
MAX_SCORE = sum(q.max_points for q in QUESTIONS)


class InvalidAnswers(ValueError):
    """Missing, unknown or invalid answers; ``errors`` maps each question key to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class QuestionnaireResult:
    risk_tolerance: str
    investment_experience: str
    score: int
    max_score: int
    points: dict[str, int] = field(default_factory=dict)
    capped: bool = False
    version: int = QUESTIONNAIRE_VERSION

    def as_record(self, answers: dict[str, str]) -> dict[str, Any]:
        """What is stored on the user: enough to explain the profile later."""
        return {
            "version": self.version,
            "answers": dict(answers),
            "points": dict(self.points),
            "score": self.score,
            "max_score": self.max_score,
            "capped": self.capped,
            "risk_tolerance": self.risk_tolerance,
            "investment_experience": self.investment_experience,
        }


def tolerance_for_score(score: int) -> str:
    """The tolerance band a total falls in (before the experience cap)."""
    if not 0 <= score <= MAX_SCORE:
        raise ValueError(f"score {score} outside 0..{MAX_SCORE}")
    for lower, tolerance in TOLERANCE_THRESHOLDS:
        if score >= lower:
            return tolerance
    raise AssertionError("unreachable: the lowest threshold is 0")


def score_questionnaire(answers: dict[str, str]) -> QuestionnaireResult:
    """Map the seven answers to a risk tolerance and an experience level (see the module table)."""
    errors: dict[str, str] = {}
    for key in answers:
        if key not in QUESTIONS_BY_KEY:
            errors[key] = "Unknown question."
    points: dict[str, int] = {}
    for question in QUESTIONS:
        if question.key not in answers:
            errors[question.key] = "This question needs an answer."
            continue
        try:
            points[question.key] = question.points_for(answers[question.key])
        except (KeyError, TypeError):
            errors[question.key] = "Not one of the offered answers."
    if errors:
        raise InvalidAnswers(errors)

    score = sum(points.values())
    tolerance = tolerance_for_score(score)
    capped = tolerance == AGGRESSIVE and answers["experience"] in CAPPED_EXPERIENCE
    if capped:
        tolerance = MODERATE
    return QuestionnaireResult(
        risk_tolerance=tolerance,
        investment_experience=EXPERIENCE_LEVEL[answers["experience"]],
        score=score,
        max_score=MAX_SCORE,
        points=points,
        capped=capped,
    )
