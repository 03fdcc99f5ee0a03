"""Daily price bars.

Prices are adjusted (splits and dividends) as the providers deliver them, stored as
``Decimal`` with four decimals; ``source`` says where a bar came from, so synthetic demo
data is always recognisable as such.
"""

from django.db import models

from market.symbols import Symbol


class PriceSource(models.TextChoices):
    CSV = "csv", "CSV file"
    YFINANCE = "yfinance", "Yahoo Finance"
    ALPHAVANTAGE = "alphavantage", "Alpha Vantage"
    FINAZON = "finazon", "Finazon"
    DEMO = "demo", "Synthetic demo market"


class PriceBar(models.Model):
    symbol = models.CharField(max_length=8, choices=Symbol.choices)
    date = models.DateField(help_text="NYSE trading session date")
    open = models.DecimalField(max_digits=14, decimal_places=4)
    high = models.DecimalField(max_digits=14, decimal_places=4)
    low = models.DecimalField(max_digits=14, decimal_places=4)
    close = models.DecimalField(max_digits=14, decimal_places=4)
    adj_close = models.DecimalField(max_digits=14, decimal_places=4)
    volume = models.BigIntegerField()
    source = models.CharField(max_length=16, choices=PriceSource.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol", "date"]
        constraints = [
            # Also serves date-range reads per symbol.
            models.UniqueConstraint(fields=["symbol", "date"], name="pricebar_symbol_date_uniq"),
            models.CheckConstraint(
                condition=models.Q(open__gt=0, high__gt=0, low__gt=0, close__gt=0, adj_close__gt=0),
                name="pricebar_prices_positive",
            ),
            models.CheckConstraint(condition=models.Q(high__gte=models.F("low")), name="pricebar_high_gte_low"),
            models.CheckConstraint(condition=models.Q(volume__gte=0), name="pricebar_volume_nonnegative"),
        ]
        indexes = [
            # "Latest bar per symbol" and "all symbols on a date".
            models.Index(fields=["symbol", "-date"], name="pricebar_symbol_latest_idx"),
            models.Index(fields=["date"], name="pricebar_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.date} close {self.close}"
