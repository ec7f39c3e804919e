"""Structured logs and metrics (Powertools for AWS Lambda), and which function is running.

Every function logs JSON lines through one Powertools ``Logger`` and counts through one
Powertools ``Metrics`` in CloudWatch Embedded Metric Format (EMF): a metric is a JSON log
line that CloudWatch turns into a metric, with no API call on the hot path. See the
README's "Operating it" for the lines and metrics.

``running(name)`` marks the Lambda function whose code runs in this context (a context
variable, so it holds per thread and per invocation, also in the local stack where all
four functions share one process): log lines carry it as ``function``, metrics are flushed
when it ends, and AWS calls are attributed to it (``local/aws_calls.py``). Work handed to
threads keeps it through ``in_this_context``.
"""
from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "clockodo-webhooks"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ClockodoWebhooks")

P = ParamSpec("P")
R = TypeVar("R")

_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("function",
                                                                         default=None)


class _FunctionName(logging.Filter):
    """Adds the running function's name to every record (``function`` in the JSON)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.function = _function.get()
        return True


logger = Logger(service=SERVICE, level=os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
logging.getLogger(SERVICE).addFilter(_FunctionName())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Powertools keeps one metric set per process; the local stack's threads share it.
_metrics_lock = threading.Lock()


def current_function() -> str | None:
    """The name of the Lambda function whose code runs in this context, if any."""
    return _function.get()


@contextmanager
def running(function_name: str) -> Iterator[None]:
    """Run the body as the Lambda function ``function_name``; flush metrics at the end."""
    token = _function.set(function_name)
    try:
        yield
    finally:
        _function.reset(token)
        flush()


def handler(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate an event handler: its body runs as the function of its own name."""
    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with running(function.__name__):
            return function(*args, **kwargs)
    return run


def in_this_context(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` bound to a copy of the current context, for a worker thread (threads
    start with an empty context: the running function would be lost)."""
    context = contextvars.copy_context()

    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(function, *args, **kwargs)
    return run


def count(name: str, value: float = 1, unit: str = "Count") -> None:
    """Add to a metric of this invocation (sent when the function's work ends)."""
    if value:
        with _metrics_lock:
            metrics.add_metric(name=name, unit=unit, value=value)


def count_by(name: str, dimension: str, values: Counter[str]) -> None:
    """One metric per value of a dimension, e.g. failed attempts by reason."""
    for value, number in sorted(values.items()):
        with single_metric(name=name, unit=MetricUnit.Count, value=number,
                           namespace=NAMESPACE) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            metric.add_dimension(name=dimension, value=value)


def flush() -> None:
    """Print the metrics gathered so far as one EMF line (nothing when there are none)."""
    with _metrics_lock:
        if metrics.metric_set:
            metrics.flush_metrics()
