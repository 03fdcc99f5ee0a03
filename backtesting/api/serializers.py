"""Request and response shapes of ``/api/backtests/``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backtesting.models import BacktestRun, BacktestSystem, Execution


class BacktestCreateSerializer(serializers.Serializer):
    """Shapes only; the service validates the parameters per system, the period and the data."""

    system = serializers.ChoiceField(choices=BacktestSystem.choices)
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
    commission_bps = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, default=None, allow_null=True)
    slippage_bps = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, default=None, allow_null=True)
    execution = serializers.ChoiceField(choices=Execution.choices, required=False, default=Execution.NEXT_OPEN)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)


class RunListQuerySerializer(serializers.Serializer):
    """The list's paging; invalid values are refused rather than silently replaced by defaults."""

    limit = serializers.IntegerField(required=False, min_value=1, max_value=500)
    offset = serializers.IntegerField(required=False, min_value=0)


class BacktestCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="Where to poll for progress and results.")


class BacktestRunSerializer(serializers.ModelSerializer):
    """A run in a list: its request, state and headline figures."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    headline = serializers.SerializerMethodField()

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
        ]
        read_only_fields = fields

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
