"""Prometheus metrics in the text exposition format (version 0.0.4), written here: the few
counters, gauges and histograms the service needs do not justify another dependency.

Two kinds of values:

- this process's own (runs it executed, actions, webhooks, errors, the budget its sides last
  reported): counters and gauges updated as things happen;
- the deployment's state read from the store at scrape time (open conflicts, pairs): every
  process reports the same values, so dashboards take ``max`` across instances.

Label values are escaped as the format requires; names and label names are fixed in code.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

LabelValues = tuple[str, ...]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError("counter names end in _total")
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def replace(self, values: Iterable[tuple[Mapping[str, str], float]]) -> None:
        """Set the whole gauge at once (label sets not given disappear)."""
        fresh = {self._key(labels): float(v) for labels, v in values}
        with self._lock:
            self._values = fresh

    def value(self, **labels: str) -> float | None:
        return self._values.get(self._key(labels))

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


@dataclass
class _Buckets:
    counts: list[int]
    total: float = 0.0
    count: int = 0


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[LabelValues, _Buckets] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            series = self._series.setdefault(key, _Buckets([0] * len(self.buckets)))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series.counts[i] += 1
            series.total += value
            series.count += 1

    def lines(self) -> list[str]:
        out: list[str] = []
        with self._lock:
            items = sorted(self._series.items())
        for key, series in items:
            for bound, count in zip(self.buckets, series.counts, strict=True):
                le = f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {count}")
            inf = _labels(self.labelnames, key, 'le="+Inf"')
            out.append(f"{self.name}_bucket{inf} {series.count}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(series.total)}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {series.count}")
        return out


Collector = Callable[[], Awaitable[None]]


class Registry:
    """The metrics of one process; ``collectors`` refresh store-derived gauges at scrape."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Collector] = []

    def _add(self, metric: _Metric) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered twice")
        self._metrics[metric.name] = metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_text, labelnames)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        metric = Gauge(name, help_text, labelnames)
        self._add(metric)
        return metric

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), *, buckets: Sequence[float]
    ) -> Histogram:
        metric = Histogram(name, help_text, labelnames, buckets=buckets)
        self._add(metric)
        return metric

    def add_collector(self, collector: Collector) -> None:
        self._collectors.append(collector)

    async def render(self) -> str:
        """The exposition text. Collectors handle their own failures (a store that cannot be
        read leaves its gauges as they were and counts a scrape error)."""
        for collector in self._collectors:
            await collector()
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.header()
            lines += metric.lines()
        return "\n".join(lines) + "\n"


RUN_SECONDS_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class ServiceMetrics:
    """The service's metrics (``reconciler_*``) and how they are updated."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        r = self.registry
        self.runs = r.counter(
            "reconciler_runs_total", "Runs this process finished.", ("pair", "trigger", "status")
        )
        self.run_seconds = r.histogram(
            "reconciler_run_duration_seconds",
            "How long runs took.",
            ("trigger",),
            buckets=RUN_SECONDS_BUCKETS,
        )
        self.actions = r.counter(
            "reconciler_actions_total", "Actions applied by runs, per kind.", ("pair", "kind")
        )
        self.conflicts_opened = r.counter(
            "reconciler_conflicts_opened_total", "Conflicts runs opened.", ("pair",)
        )
        self.run_errors = r.counter(
            "reconciler_run_errors_total",
            "Runs that failed or reported errors, per error class.",
            ("pair", "error"),
        )
        self.requests = r.counter(
            "reconciler_side_requests_total",
            "Requests spent on each side account (HighLevel location) by this process's runs.",
            ("location",),
        )
        self.budget_left = r.gauge(
            "reconciler_side_budget_remaining_daily",
            "Daily request budget the side reported left after this process's last run on it.",
            ("location",),
        )
        self.webhooks = r.counter(
            "reconciler_webhooks_total", "Webhook deliveries, per outcome.", ("outcome",)
        )
        self.errors = r.counter(
            "reconciler_errors_total",
            "Unexpected errors, per component (scheduler, webhooks, metrics...).",
            ("component",),
        )
        self.skipped = r.counter(
            "reconciler_runs_skipped_total",
            "Run attempts that did not start (pair busy elsewhere, not due).",
            ("reason",),
        )
        self.leases_held = r.gauge(
            "reconciler_leases_held", "Pair leases this process holds right now."
        )
        self.scheduler_running = r.gauge(
            "reconciler_scheduler_running", "1 while this process's scheduler runs."
        )
        self.scheduled_pairs = r.gauge(
            "reconciler_scheduled_pairs", "Pairs this process's scheduler has a job for."
        )
        self.open_conflicts = r.gauge(
            "reconciler_open_conflicts", "Conflicts open now, per pair (from the store).", ("pair",)
        )
        self.pairs = r.gauge("reconciler_pairs", "Pairs in the store, enabled or not.", ("state",))

    def observe_run(
        self,
        *,
        pair_id: str,
        trigger: str,
        status: str,
        seconds: float,
        counts: Mapping[str, int],
        conflicts_opened: int,
        errors: Sequence[str],
        requests: Mapping[str, int],
        budget_left: Mapping[str, int | None],
    ) -> None:
        """Record a finished run; ``requests``/``budget_left`` are keyed by side account."""
        self.runs.inc(pair=pair_id, trigger=trigger, status=status)
        self.run_seconds.observe(seconds, trigger=trigger)
        for kind, count in counts.items():
            if count:
                self.actions.inc(count, pair=pair_id, kind=kind)
        if conflicts_opened:
            self.conflicts_opened.inc(conflicts_opened, pair=pair_id)
        for location, spent in requests.items():
            if spent:
                self.requests.inc(spent, location=location)
        for location, left in budget_left.items():
            if left is not None:
                self.budget_left.set(left, location=location)
        for error in errors:
            self.run_errors.inc(pair=pair_id, error=error_class(error))


def error_class(error: str) -> str:
    """A bounded label from an error message: its leading class-like word (``AuthError: ...``
    gives ``AuthError``), else ``other``; messages themselves would explode cardinality."""
    head = error.split(":", 1)[0].strip()
    return head if head.isidentifier() and len(head) <= 60 else "other"
