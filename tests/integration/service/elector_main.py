"""An elector alone in its process (``ElectorProcess``): prints ``leads`` when it leads, until
killed.  Arguments: kubeconfig namespace identity lease renew-deadline retry."""

from __future__ import annotations

import asyncio
import sys

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.leader import Elector, Timings


class Printer:
    def leading(self, now: bool) -> None:
        print("leads" if now else "stopped", flush=True)


async def main(kubeconfig: str, namespace: str, identity: str, *timings: str) -> None:
    lease, renew, retry = (float(t) for t in timings)
    elector = Elector(KubeClient(kubeconfig), namespace, identity, Timings(lease, renew, retry),
                      Printer())  # fmt: skip
    await elector.run(asyncio.Event().wait)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
