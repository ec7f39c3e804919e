"""Fault injection for the local stack (``LOCAL_FAULTS``), so tests can crash the very
handlers Lambda runs and watch the service recover.

``LOCAL_FAULTS`` is a comma-separated list of:

- ``fanout-crash``: the first fan-out batch with two or more records queues the deliveries
  of its first half, then the handler raises (as a Lambda that dies mid-batch would);
- ``delivery-crash``: the first delivery batch with two or more messages sends its first
  message, then the handler raises.

Each fault fires once and prints ``FAULT <name>`` on standard output.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

KNOWN = ("fanout-crash", "delivery-crash")


class InjectedCrash(RuntimeError):
    """The crash a fault injects."""


def _crash_mid_batch(name: str, original: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    armed = threading.Event()
    armed.set()
    lock = threading.Lock()

    def wrapper(records: list[Any], **options: Any) -> Any:
        with lock:
            fire = armed.is_set() and len(records) >= 2
            if fire:
                armed.clear()
        if not fire:
            return original(records, **options)  # e.g. the worker's lane
        original(records[: len(records) // 2], **options)
        print(f"FAULT {name}: crashed after {len(records) // 2} of {len(records)} records",
              flush=True)
        raise InjectedCrash(name)

    return wrapper


def install(spec: str) -> list[str]:
    """Install the faults ``spec`` names; return them."""
    from chalicelib.delivery import fanout, worker

    names = [part.strip() for part in spec.split(",") if part.strip()]
    for name in names:
        if name == "fanout-crash":
            fanout.fan_out = _crash_mid_batch(name, fanout.fan_out)
        elif name == "delivery-crash":
            worker.deliver = _crash_mid_batch(name, worker.deliver)
        else:
            raise SystemExit(f"LOCAL_FAULTS: unknown fault {name!r}; known: {', '.join(KNOWN)}")
    return names
