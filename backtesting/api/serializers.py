"""Request and response shapes of ``/api/backtests/``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backtesting.models import BacktestRun, Execution
from backtesting.report import history_summary
from backtesting.system_names import SYSTEM_CHOICES
from quantai.api_fields import StrictDecimalField, StrictSerializer


class BacktestCreateSerializer(StrictSerializer):
    """Shapes only; the service validates the parameters per system, the period and the data."""

    system = serializers.ChoiceField(choices=SYSTEM_CHOICES)
    parameters = serializers.DictField(
        required=False,
        default=dict,
        help_text="Per parameter a value, a list of values, or {start, stop, step}; lists and ranges make a sweep "
        "(their cartesian product, at most 100 parameter sets). See GET /api/backtests/systems.",
    )
    start = serializers.DateField(required=False, allow_null=True, default=None)
    end = serializers.DateField(required=False, allow_null=True, default=None)
    split_date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="First out-of-sample day (default: after 70 % of the days)."
    )
    # 0-500 basis points (backtesting.services.MAX_COST_BPS): the schema's pattern spells the bound out.
    commission_bps = StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=500, required=False, default=None, allow_null=True
    )
    slippage_bps = StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=500, required=False, default=None, allow_null=True
    )
    execution = serializers.ChoiceField(choices=Execution.choices, required=False, default=Execution.NEXT_OPEN)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)


class RunListQuerySerializer(StrictSerializer):
    """The list's paging; invalid values are refused rather than silently replaced by defaults (a limit over
    500 is capped, as everywhere in the API), and so are unknown parameters."""

    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)


class BacktestCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="Where to poll for progress and results.")


class FirstModelSerializer(serializers.Serializer):
    """The history the first walk-forward model of an ``ml`` or ``engine`` run was fitted on."""

    date = serializers.DateField(help_text="The session it first predicted from (after that close).")
    history_sessions = serializers.IntegerField(help_text="Sessions of history it saw: the first stored one to `date`.")
    history_start = serializers.DateField()
    rows = serializers.IntegerField(help_text="Labelled (symbol, day) rows it was fitted on.")
    train_start = serializers.DateField()
    train_end = serializers.DateField()
    label_end = serializers.DateField(help_text="The last day any of its training labels looked at.")


class RunHistorySerializer(serializers.Serializer):
    """What a run could see before its period (the sessions stored before it, up to its end)."""

    sessions_before = serializers.IntegerField(help_text="Sessions with prices before the period's first.")
    first_session = serializers.DateField(allow_null=True, help_text="The first of them (null: none).")
    base_date = serializers.DateField(
        allow_null=True, help_text="The last session before the period: the equity curve starts at 1 at its close."
    )
    warmup_bars = serializers.IntegerField(help_text="Sessions before the period the indicators were computed on.")
    warmup_needed = serializers.IntegerField(
        allow_null=True, help_text="Sessions the indicators need before their first full value (null: no history read)."
    )
    first_model = FirstModelSerializer(allow_null=True, help_text="ml and engine runs: the first model's history.")
    summary = serializers.ListField(child=serializers.CharField(), help_text="The same in sentences, as the run page shows.")


class BacktestRunSerializer(serializers.ModelSerializer):
    """A run in a list: its request, state, headline figures and the history it saw before its period."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    headline = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta:
        model = BacktestRun
        fields = [
            "id",
            "owner",
            "system",
            "parameters",
            "start",
            "end",
            "split_date",
            "commission_bps",
            "slippage_bps",
            "execution",
            "seed",
            "status",
            "progress",
            "stage",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "headline",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(RunHistorySerializer(allow_null=True))
    def get_history(self, run: BacktestRun) -> dict[str, Any] | None:
        """``results["history"]`` with its sentences (null until the run succeeded)."""
        history = (run.results or {}).get("history")
        if not history:
            return None
        return {**history, "summary": history_summary(run.results)}

    def get_headline(self, run: BacktestRun) -> dict[str, Any] | None:
        """Sharpe, annual return and max drawdown of the strategy and SPY over the full period."""
        metrics = (run.results or {}).get("metrics")
        if not metrics:
            return None
        keys = ("sharpe", "annual_return", "max_drawdown")
        return {side: {k: metrics[side]["full"].get(k) for k in keys} for side in ("strategy", "spy")}


class BacktestRunDetailSerializer(BacktestRunSerializer):
    class Meta(BacktestRunSerializer.Meta):
        fields = [*BacktestRunSerializer.Meta.fields, "results", "equity_curve", "data_hash"]
        read_only_fields = fields


class ParameterSchemaSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "bool", "choice"])
    default = serializers.JSONField()
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField())
    sweepable = serializers.BooleanField()
    help = serializers.CharField()  # type: ignore[assignment]  # the parameter's help text, not Field.help


class SystemSchemaSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the system's name for people, not Field.label
    description = serializers.CharField()
    parameters = ParameterSchemaSerializer(many=True)
