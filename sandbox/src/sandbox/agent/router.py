"""The OpenShift router's and an ingress controller's part: hosts and admission status.

OpenShift gives a Route without `spec.host` the host `<name>-<namespace>.<apps domain>` and admits
the oldest Route claiming a host; a later Route for the same host in another namespace is
rejected with `HostAlreadyClaimed`. Ingresses get the router's loopback address in their status.
"""

from __future__ import annotations

import time

from .kube import Kube, Obj, path_of
from .runtime import stamp


class Router:
    def __init__(self, kube: Kube, domain: str, routes: object) -> None:
        self.kube, self.domain, self.routes = kube, domain, routes
        self._seen: dict[str, int] = {}  # uid -> order first seen; breaks same-second ties

    def _order(self, route: Obj) -> tuple[str, int]:
        uid = route["metadata"]["uid"]
        seen = self._seen.setdefault(uid, len(self._seen))
        return route["metadata"]["creationTimestamp"], seen

    def reconcile_route(self, route: Obj) -> None:
        meta, spec = route["metadata"], route.get("spec", {})
        if meta.get("deletionTimestamp"):
            return
        self._order(route)
        host = spec.get("host")
        if not host:
            host = f"{meta['name']}-{meta['namespace']}.{self.domain}"
            self.kube.patch(path_of(route), {"spec": {"host": host}})
            return  # the change comes back through the watch
        owner = self._oldest_claim(host)
        admitted = owner is None or owner["metadata"]["uid"] == meta["uid"]
        condition: Obj = {"type": "Admitted", "status": "True" if admitted else "False"}
        if not admitted and owner is not None:
            condition["reason"] = "HostAlreadyClaimed"
            condition["message"] = (
                f"route {owner['metadata']['name']} already exposes {host} and is older"
            )
        ingress = {
            "host": host,
            "routerName": "default",
            "wildcardPolicy": "None",
            "routerCanonicalHostname": f"router-default.{self.domain}",
            "conditions": [condition],
        }
        current = (route.get("status") or {}).get("ingress") or []
        if current and _same(current[0], ingress):
            return
        condition["lastTransitionTime"] = stamp(time.time())
        self.kube.patch(path_of(route, "status"), {"status": {"ingress": [ingress]}})

    def _oldest_claim(self, host: str) -> Obj | None:
        claims = [
            r
            for r in self.routes.items()  # type: ignore[attr-defined]
            if r.get("spec", {}).get("host") == host and not r["metadata"].get("deletionTimestamp")
        ]
        claims.sort(key=self._order)
        return claims[0] if claims else None

    def reconcile_ingress(self, ingress: Obj) -> None:
        if ingress["metadata"].get("deletionTimestamp"):
            return
        want = [{"ip": "127.0.0.1"}]
        if (ingress.get("status") or {}).get("loadBalancer", {}).get("ingress") == want:
            return
        self.kube.patch(path_of(ingress, "status"), {"status": {"loadBalancer": {"ingress": want}}})


def _same(a: Obj, b: Obj) -> bool:
    strip = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in a.get("conditions", [])
    ]
    return (
        a.get("host") == b["host"]
        and a.get("routerName") == b["routerName"]
        and strip == b["conditions"]
    )
