"""The watch's counters: streams restarted (dropped, silent, refused) and relists (410, resync)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


def _kind(stream: str) -> str:
    return stream.split("/", 1)[0]  # "Secret/<namespace>" counts as Secret: bounded labels


class WatchMetrics:
    """``Hooks`` of every stream; labels are kinds and fixed words, never cluster data."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.restarts = Counter(
            "litemaas_watch_restarts",
            "Watch streams restarted after a drop, a silence or a refusal, by kind",
            ["kind"],
            registry=registry,
        )
        self.relists = Counter(
            "litemaas_watch_relists",
            "Full relists by kind and why: gone (410, the resourceVersion was compacted) or resync",
            ["kind", "why"],
            registry=registry,
        )

    def restarted(self, stream: str, why: str) -> None:
        self.restarts.labels(_kind(stream)).inc()

    def relisted(self, stream: str, why: str) -> None:
        self.relists.labels(_kind(stream), why).inc()
