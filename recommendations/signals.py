"""Signals the recommendations app sends for the apps above it, which it may not import (see ``.importlinter``).

- :data:`recommendation_answered` (``user_id``, ``recommendation_id``): an answer was recorded. Sent inside the
  answering transaction, so a receiver that queues work defers it with ``transaction.on_commit`` (a rolled-back
  answer then queues nothing). Not sent for a replayed answer, which changes nothing.
"""

from django.dispatch import Signal

recommendation_answered = Signal()
