"""A small dict-in, dict-out client over the kubernetes package's ApiClient (any path, CRDs too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

Obj = dict[str, Any]


class KubeError(Exception):
    """An API answer outside 2xx, with its status code."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"{status} {reason}: {body[:300]}")
        self.status, self.reason, self.body = status, reason, body


class Kube:
    """Talks to the apiserver with a token kubeconfig (the only kind the sandbox writes)."""

    def __init__(self, kubeconfig: str) -> None:
        config = yaml.safe_load(Path(kubeconfig).read_text())
        cluster = config["clusters"][0]["cluster"]
        self.server = cluster["server"]
        self.headers = {
            "Authorization": f"Bearer {config['users'][0]['user']['token']}",
            "Accept": "application/json",
        }
        self.pool = urllib3.PoolManager(
            maxsize=16, cert_reqs="CERT_REQUIRED", ca_certs=cluster["certificate-authority"]
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, Any]] | None = None,
        content_type: str = "application/json",
        stream: bool = False,
        timeout: float | None = 30,
    ) -> Any:
        url = self.server + path
        if query:
            url += "?" + urlencode(query)
        resp = self.pool.request(
            method,
            url,
            body=None if body is None else json.dumps(body).encode(),
            headers={**self.headers, "Content-Type": content_type},
            preload_content=not stream,
            timeout=urllib3.Timeout(connect=5, read=timeout),
            retries=False,
        )
        if resp.status >= 400:
            data = resp.data.decode(errors="replace")
            resp.release_conn()
            raise KubeError(resp.status, resp.reason or "", data)
        if stream:
            return resp
        return json.loads(resp.data) if resp.data else None

    def get(self, path: str) -> Obj | None:
        try:
            result: Obj = self.request("GET", path)
            return result
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str) -> Obj:
        result: Obj = self.request("GET", path)
        return result

    def create(self, path: str, body: Obj) -> Obj | None:
        """Create; an object that already exists is left as it is (None)."""
        try:
            result: Obj = self.request("POST", path, body)
            return result
        except KubeError as exc:
            if exc.status == 409:
                return None
            raise

    def patch(self, path: str, body: Obj) -> Obj | None:
        try:
            result: Obj = self.request(
                "PATCH", path, body, content_type="application/merge-patch+json"
            )
            return result
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, path: str, body: Obj | None = None) -> None:
        try:
            self.request("DELETE", path, body)
        except KubeError as exc:
            if exc.status not in (404, 409):
                raise

    def watch(self, path: str, resource_version: str, timeout: int = 240) -> Iterator[Obj]:
        resp = self.request(
            "GET",
            path,
            query=[
                ("watch", "true"),
                ("resourceVersion", resource_version),
                ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", timeout),
            ],
            stream=True,
            timeout=timeout + 30,
        )
        buf = b""
        try:
            for chunk in resp.stream(4096, decode_content=False):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()


def path_of(obj: Obj, subresource: str = "") -> str:
    """The REST path of an object from its apiVersion, kind and name (kinds the agent handles)."""
    api_version = obj["apiVersion"]
    meta = obj["metadata"]
    plural = PLURALS[obj["kind"]]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    ns = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    tail = f"/{subresource}" if subresource else ""
    return f"{prefix}{ns}/{plural}/{meta['name']}{tail}"


PLURALS = {
    "Pod": "pods",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "PersistentVolume": "persistentvolumes",
    "Route": "routes",
    "Ingress": "ingresses",
    "ReplicaSet": "replicasets",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "Node": "nodes",
}
