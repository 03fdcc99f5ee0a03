"""Shapes of the learning API: training requests and runs, and the performance summary (its ``live`` block of
recommendation figures is added by :mod:`insights.api.serializers`)."""

from __future__ import annotations

from rest_framework import serializers

from learning.models import TrainingRun
from learning.services.config import KIND_ORDER
from quantai.api_fields import StrictSerializer


class TrainRequestSerializer(StrictSerializer):
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=KIND_ORDER),
        required=False,
        allow_empty=True,
        max_length=8,
        help_text="Base models of the ensemble (rf, xgb, lstm, rl where installed). Empty or absent: the configured default.",
    )
    until = serializers.DateField(required=False, allow_null=True, help_text="Train on bars up to this day. Absent: all.")


class TrainingRunSerializer(serializers.ModelSerializer):
    triggered_by = serializers.SerializerMethodField(help_text="Username, or null for the schedule and commands.")

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "progress",
            "stage",
            "trigger",
            "triggered_by",
            "kinds",
            "until",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "error",
            "result",
        ]
        read_only_fields = fields

    def get_triggered_by(self, run: TrainingRun) -> str | None:
        return run.triggered_by.get_username() if run.triggered_by is not None else None


class TrainAcceptedSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    run = TrainingRunSerializer()


class MetricsSerializer(serializers.Serializer):
    """Out-of-sample metrics of one model or baseline (null where a metric does not apply)."""

    accuracy = serializers.FloatField(required=False, allow_null=True)
    balanced_accuracy = serializers.FloatField(required=False, allow_null=True)
    auc = serializers.FloatField(required=False, allow_null=True)
    log_loss = serializers.FloatField(required=False, allow_null=True)
    brier = serializers.FloatField(required=False, allow_null=True)
    brier_skill = serializers.FloatField(required=False, allow_null=True)
    ic = serializers.FloatField(required=False, allow_null=True)
    top20_accuracy = serializers.FloatField(required=False, allow_null=True)
    strategy_return = serializers.FloatField(required=False, allow_null=True)
    strategy_sharpe = serializers.FloatField(required=False, allow_null=True)
    strategy_max_drawdown = serializers.FloatField(required=False, allow_null=True)


class WindowSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    base_rate = serializers.FloatField()
    start = serializers.DateField()
    end = serializers.DateField()


class ActiveVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    version = serializers.IntegerField()
    name = serializers.CharField(help_text='For example "ensemble v3".')
    status = serializers.CharField()
    status_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    train_start = serializers.DateField()
    train_end = serializers.DateField()
    data_hash = serializers.CharField()
    features = serializers.IntegerField(help_text="Number of features.")
    training_run = serializers.IntegerField(allow_null=True)
    gate_fold = serializers.CharField(allow_null=True, help_text="The walk-forward fold the promotion gate compared on.")
    gate_metrics = MetricsSerializer()


class FoldSerializer(serializers.Serializer):
    fold = serializers.CharField(help_text="Test year.")
    train = WindowSerializer()
    test = WindowSerializer()
    models = serializers.DictField(child=MetricsSerializer(), help_text="Per model kind (and `ensemble`).")
    baselines = serializers.DictField(child=MetricsSerializer(), help_text="always_up, momentum, buy_and_hold.")


class ReliabilityBinSerializer(serializers.Serializer):
    mean_predicted = serializers.FloatField()
    observed = serializers.FloatField()
    count = serializers.IntegerField()


class EdgeSerializer(serializers.Serializer):
    found = serializers.BooleanField(help_text="False: the latest ensemble showed no out-of-sample edge and was not promoted.")
    message = serializers.CharField(
        help_text='In plain words, e.g. "No edge found: the direction model showed no out-of-sample skill (AUC 0.50); '
        'recommendations use the risk-only policy."'
    )
    version = serializers.CharField(help_text="The ensemble version the figures are from.")
    version_id = serializers.IntegerField()
    auc = serializers.FloatField(allow_null=True, help_text="AUC on the evaluation folds (pairs within a fold).")
    probability_std = serializers.FloatField(allow_null=True, help_text="Spread of P(up) within a fold, averaged.")
    min_auc = serializers.FloatField(allow_null=True, help_text="The edge rule: AUC must be above this.")
    min_probability_std = serializers.FloatField(allow_null=True, help_text="The edge rule: the spread must reach this.")
    hit_rate = serializers.FloatField(allow_null=True, help_text="Share of evaluation rows whose predicted direction came true.")
    brier_skill = serializers.FloatField(allow_null=True, help_text="Brier skill score against the training base rate.")
    skill = serializers.FloatField(allow_null=True, help_text="max(0, AUC - 0.5) * 2; 0 without an edge.")
    rows = serializers.IntegerField(allow_null=True)


class PerformanceSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    horizon_days = serializers.IntegerField()
    active = ActiveVersionSerializer(many=True)
    folds = FoldSerializer(many=True, help_text="Walk-forward folds of the active ensemble's training run, oldest first.")
    reliability = ReliabilityBinSerializer(many=True, help_text="Calibration of the active ensemble on its gate fold.")
    feature_importance = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField()), help_text="Per tree model: feature -> share."
    )
    weights = serializers.DictField(
        child=serializers.FloatField(),
        help_text="The combiner's weight per base model (stacker coefficients, 1/k for the average, 1 for the best single).",
    )
    combiner = serializers.CharField(
        allow_null=True, help_text="stacked, average or best: chosen on the inner out-of-fold predictions by log loss."
    )
    edge = EdgeSerializer(
        allow_null=True, help_text="Whether the direction model has an out-of-sample edge (null before any ensemble has figures)."
    )
