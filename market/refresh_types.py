"""What the price refresh task needs when its module is imported: the default window and the transient-failure
exception it retries on. Light on purpose: the default Celery worker imports every task module at start, and
:mod:`market.refresh` (providers, pandas) is imported only when a refresh runs."""

from __future__ import annotations

#: How many recent sessions each refresh re-reads: covers a few missed runs and late corrections.
REFRESH_SESSIONS = 10


class ProviderTemporarilyFailing(Exception):
    """Some symbols failed for a transient reason (timeout, HTTP 5xx, error page): the task retries."""

    @classmethod
    def for_failures(cls, source: str, failures: dict[str, str]) -> ProviderTemporarilyFailing:
        listed = "; ".join(f"{symbol}: {message}" for symbol, message in sorted(failures.items()))
        # One string argument: the result backend and pickling rebuild exceptions from their args.
        return cls(f"{source} failed transiently for {len(failures)} symbol(s): {listed}")
