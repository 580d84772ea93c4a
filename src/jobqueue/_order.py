"""The order a worker tries its queues in for one fetch: by weight at random, or strictly."""

from __future__ import annotations

import random

from jobqueue.settings import QueueSettings

__all__ = ["queue_order"]


def queue_order(settings: QueueSettings) -> tuple[str, ...]:
    """One fetch's queue order.

    asynq's semantics: the chance that a queue comes first is its share of the total weight, so
    while every queue has work, fetches split by weight and no queue starves. With
    `strict_priority`, always the highest weight first.
    """
    names = list(settings.queue_names)
    if settings.strict_priority or len(names) == 1:
        return tuple(names)
    weights = [settings.queues[n] for n in names]
    order = []
    while names:
        (pick,) = random.choices(range(len(names)), weights)
        order.append(names.pop(pick))
        weights.pop(pick)
    return tuple(order)
