"""Observable gauges with many sources in one process.

OpenTelemetry keeps the first instrument of a name and ignores the callbacks of later ones, so
two controllers each creating ``threeport.reconcile.queue_depth`` would leave the second
unobserved. ``observe`` creates each gauge once and asks every live source on collection;
sources are held weakly, so a stopped controller simply disappears from the metrics.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from threeport_runtime.telemetry import meter

Source = Callable[[Any], Iterable[Observation]]

_lock = threading.Lock()
_sources: dict[str, weakref.WeakKeyDictionary[Any, Source]] = {}


def observe(name: str, owner: Any, source: Source, *, description: str = "", unit: str = "") -> None:
    """Reports ``source(owner)`` under the gauge ``name`` for as long as ``owner`` lives."""
    with _lock:
        owners = _sources.get(name)
        if owners is None:
            owners = _sources[name] = weakref.WeakKeyDictionary()
            meter().create_observable_gauge(name, callbacks=[_collector(name)], description=description, unit=unit)
        owners[owner] = source


def _collector(name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def collect(_options: CallbackOptions) -> Iterable[Observation]:
        with _lock:
            current = list(_sources[name].items())
        return [observation for owner, source in current for observation in source(owner)]

    return collect
