"""The Backtesting lab's form: a system, its parameters, the period, costs and seed.

Every system's parameters are on the page (named ``<system>__<parameter>``); the script shows only the
chosen system's, and only those are sent to the service. A text parameter takes one value (``20``), a
list (``5,10,20``) or a range (``10:50:10``, stop included); lists and ranges make a sweep.
"""

from __future__ import annotations

from typing import Any

from django import forms

from backtesting.models import Execution
from backtesting.system_names import SYSTEM_CHOICES
from backtesting.systems import SYSTEMS, Param, parse_param_text


def param_field_name(system: str, param: str) -> str:
    return f"{system}__{param}"


def _field(param: Param) -> forms.Field:
    if param.kind == "bool":
        return forms.BooleanField(required=False, initial=param.default, label=param.name.replace("_", " "), help_text=param.help)
    if param.kind == "choice":
        return forms.ChoiceField(
            choices=[(c, c) for c in param.choices], required=False, initial=param.default, label=param.name, help_text=param.help
        )
    bounds = f" ({param.minimum:g} to {param.maximum:g})" if param.minimum is not None and param.maximum is not None else ""
    return forms.CharField(
        max_length=200,
        required=False,
        initial=str(param.default),
        label=param.name,
        help_text=param.help + bounds + (" A list 5,10,20 or a range 10:50:10 sweeps it." if param.sweepable else ""),
    )


class BacktestForm(forms.Form):
    system = forms.ChoiceField(choices=SYSTEM_CHOICES, initial="trend_ma")
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: the first prices.")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: the latest prices.")
    split_date = forms.DateField(
        required=False,
        label="Out-of-sample from",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: after 70 % of the trading days.",
    )
    commission_bps = forms.DecimalField(
        min_value=0, max_value=500, decimal_places=2, initial=1, label="Commission (bps)", help_text="Per trade."
    )
    slippage_bps = forms.DecimalField(
        min_value=0, max_value=500, decimal_places=2, initial=2, label="Slippage (bps)", help_text="Per trade."
    )
    execution = forms.ChoiceField(choices=Execution.choices, initial=Execution.NEXT_OPEN, label="Orders fill at")
    seed = forms.IntegerField(
        min_value=0, max_value=2**31 - 1, initial=0, help_text="Seed of the bootstrap and permutation test."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for system in SYSTEMS.values():
            for param in system.params:
                self.fields[param_field_name(system.name, param.name)] = _field(param)

    def common_fields(self) -> list[forms.BoundField]:
        """Period, costs, execution and seed (every system has them)."""
        return [self[name] for name in ("start", "end", "split_date", "commission_bps", "slippage_bps", "execution", "seed")]

    def system_fieldsets(self) -> list[dict[str, Any]]:
        """Per system: its label, description and bound parameter fields (for the template)."""
        return [
            {
                "name": system.name,
                "label": system.label,
                "description": system.description,
                "fields": [self[param_field_name(system.name, p.name)] for p in system.params],
            }
            for system in SYSTEMS.values()
        ]

    def parameters(self) -> dict[str, Any]:
        """The chosen system's parameters as the service takes them (typed text parsed)."""
        system = SYSTEMS[self.cleaned_data["system"]]
        out: dict[str, Any] = {}
        for param in system.params:
            value = self.cleaned_data.get(param_field_name(system.name, param.name))
            if param.kind != "bool" and value in (None, ""):
                continue  # the system's default
            if param.kind in ("int", "float"):
                value = parse_param_text(str(value))
            out[param.name] = value
        return out

    def service_field_map(self) -> dict[str, str]:
        """Service error keys (``parameters.fast``, ``period``) -> this form's field names."""
        system = self.cleaned_data.get("system", "")
        mapping: dict[str, str] = {}
        if system in SYSTEMS:
            for p in SYSTEMS[system].params:
                mapping[f"parameters.{p.name}"] = param_field_name(system, p.name)
        return mapping
