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


class IncidentKind(models.TextChoices):
    """Why a provider's answer for a symbol was not stored. Transient kinds are retried with backoff."""

    TIMEOUT = "timeout", "Timed out"
    CONNECTION = "connection", "Connection failed"
    HTTP_ERROR = "http_error", "HTTP error"
    ERROR_PAGE = "error_page", "Error page instead of data"
    RATE_LIMITED = "rate_limited", "Rate limited"
    BAD_RESPONSE = "bad_response", "Rejected or unreadable response"
    NO_DATA = "no_data", "No data"
    INVALID_BAR = "invalid_bar", "Impossible bar values"
    IMPLAUSIBLE = "implausible", "Implausible price move"
    FUTURE_DATE = "future_date", "Bar dated in the future"
    STALE = "stale", "Stale data"
    BUDGET_EXHAUSTED = "budget_exhausted", "Daily call budget spent"
    CONFIG = "config", "Provider misconfigured"


class ProviderIncident(models.Model):
    """A price provider failing for a symbol (or, with an empty ``symbol``, as a whole): the operators' record.

    One open incident per (provider, symbol, kind): a repeat bumps ``occurrences`` and
    ``last_seen_at``. ``open_key`` holds ``provider:symbol:kind`` while the incident is open and
    ``NULL`` once resolved, so a plain unique constraint (which SQLite and MariaDB both enforce,
    unlike a conditional one) allows exactly one open row and any number of resolved ones. A
    successful load of the symbol from the provider resolves its open incidents.
    """

    provider = models.CharField(max_length=16, choices=PriceSource.choices)
    symbol = models.CharField(max_length=8, blank=True, help_text="Empty when the provider as a whole is affected")
    kind = models.CharField(max_length=24, choices=IncidentKind.choices)
    transient = models.BooleanField(help_text="Retried with backoff by the refresh task")
    message = models.TextField(help_text="The latest failure's message")
    occurrences = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When operators were mailed about it")
    open_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [models.Index(fields=["provider", "-last_seen_at"], name="incident_provider_seen_idx")]

    def __str__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return f"{self.provider} {self.symbol or '*'} {self.kind} ({state}, {self.occurrences}x)"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ProviderCallCount(models.Model):
    """Calls made to a metered provider on one UTC day, reserved before each call (see ``market.budget``)."""

    provider = models.CharField(max_length=16, choices=PriceSource.choices)
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "provider"]
        constraints = [models.UniqueConstraint(fields=["provider", "day"], name="provider_call_count_day_uniq")]

    def __str__(self) -> str:
        return f"{self.provider} {self.day}: {self.calls} calls"


class PriceFetch(models.Model):
    """When prices were last fetched from one provider, and its latest failure: one row per provider.

    The pages say where their prices come from and when they were fetched (``fetched_at``: the last
    load or refresh that stored or confirmed bars; for the synthetic market, when it was generated).
    ``failed_at``/``failure`` keep the last attempt that delivered nothing, so a page can say why
    real prices are not shown (Yahoo Finance not reachable at start-up, for instance).
    """

    source = models.CharField(max_length=16, choices=PriceSource.choices, unique=True)
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="The last fetch that delivered bars")
    latest_session = models.DateField(null=True, blank=True, help_text="The newest session that fetch delivered")
    failed_at = models.DateTimeField(null=True, blank=True, help_text="The last attempt that delivered nothing")
    failure = models.TextField(blank=True, help_text="Why that attempt failed")

    class Meta:
        ordering = ["source"]

    def __str__(self) -> str:
        return f"{self.source}: fetched {self.fetched_at or 'never'}"
