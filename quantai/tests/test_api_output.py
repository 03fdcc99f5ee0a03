"""quantai.api_output: a prebuilt serializer gives exactly what ``.data`` gives, and is built once."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from quantai import api_output
from quantai.api_output import prebuilt, represent, represent_many


@dataclass
class Line:
    name: str
    amount: Decimal
    when: datetime | None


@dataclass
class Sheet:
    owner: str
    day: date
    lines: list[Line]
    total: Line


class LineSerializer(serializers.Serializer):
    name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    when = serializers.DateTimeField(allow_null=True)
    caption = serializers.SerializerMethodField()

    def get_caption(self, obj: Line) -> str:
        return f"{obj.name}: {obj.amount}"


class SheetSerializer(serializers.Serializer):
    owner = serializers.CharField()
    day = serializers.DateField()
    lines = LineSerializer(many=True)
    total = LineSerializer()


def _sheet(n: int) -> Sheet:
    lines = [Line(f"l{i}", Decimal(i) / 3, datetime(2024, 1, 2, 3, 4, 5, i, tzinfo=UTC) if i % 2 else None) for i in range(n)]
    return Sheet(owner="ann", day=date(2024, 5, 6), lines=lines, total=Line("total", Decimal("12.346"), None))


def test_the_output_is_what_data_gives_to_the_byte():
    render = JSONRenderer().render
    for n in (0, 1, 4):
        sheet = _sheet(n)
        assert render(represent(SheetSerializer, sheet)) == render(SheetSerializer(sheet).data)
    lines = _sheet(5).lines
    assert render(represent_many(LineSerializer, lines)) == render(LineSerializer(lines, many=True).data)
    assert represent(SheetSerializer, _sheet(1))["total"]["amount"] == "12.35"  # the field's own rounding and format


def test_the_serializer_is_built_once_with_its_nested_fields(monkeypatch):
    monkeypatch.setattr(api_output, "_built", {})
    built = []
    real_get_fields = serializers.Serializer.get_fields

    def counting(self):
        built.append(type(self).__name__)
        return real_get_fields(self)

    monkeypatch.setattr(serializers.Serializer, "get_fields", counting)
    represent(SheetSerializer, _sheet(3))
    assert sorted(built) == ["LineSerializer", "LineSerializer", "SheetSerializer"]  # the list's child and `total`
    represent(SheetSerializer, _sheet(2))
    represent_many(SheetSerializer, [_sheet(1), _sheet(4)])
    assert len(built) == 3  # nothing built again


def test_concurrent_first_uses_share_one_instance(monkeypatch):
    monkeypatch.setattr(api_output, "_built", {})
    seen = []
    start = threading.Barrier(8)

    def first_use():
        start.wait()
        seen.append(prebuilt(SheetSerializer))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(s) for s in seen}) == 1
