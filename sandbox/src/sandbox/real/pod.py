"""A real pod: its network namespace, volumes and containers, driven by one thread as a kubelet's
pod worker drives them — init containers in order, then the containers, restarts with back-off,
probes, faults — and stopped with the grace the pod allows before its deletion is confirmed."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from ..agent.kube import Obj
from . import images, names, volumes
from .container import Container, backoff, crash_loop_message
from .environment import ConfigError, Fetch, argv, resolve_env
from .kubernetes_service import KubernetesService
from .network import PodNetwork
from .probes import Prober, run_probe
from .rootfs import launch_argv, setup_script

log = logging.getLogger("sandbox.real")
TICK = 0.25  # how often a pod worker looks at its processes when nothing wakes it
MAX_GRACE = 10.0  # the sandbox caps terminationGracePeriodSeconds: tests should not wait 30 s
PULL_RETRY = 1.0
PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")
CRASH_AFTER = 0.5  # how long a process runs before the crashloop fault kills it


@dataclass
class PodContext:
    """What every pod worker shares: the runtime's services."""

    state_dir: Path
    network: PodNetwork
    fetch_for: Callable[[str], Fetch]  # namespace -> fetch(kind, name)
    claim_path_for: Callable[[str], volumes.ClaimPath]  # namespace -> claim directory lookup
    endpoints: Callable[[], list[Obj]]
    kubernetes: KubernetesService  # the API server's Service inside pods
    notify: Callable[[str], None]  # "namespace/name": the pod's status changed
    probe_pool: Executor
    openshift: bool = False  # the profile's: what stands for the SCC's fsGroup (volumes.fs_group)
    time_scale: float = 1.0


def _user(pod: Obj, spec: Obj, image: images.Image) -> tuple[int, int] | None:
    """runAsUser/runAsGroup of the container, else of the pod, else the image's USER; None:
    root."""
    pod_sc = pod["spec"].get("securityContext") or {}
    sc = spec.get("securityContext") or {}
    default_uid, default_gid = image.user or (None, 0)
    uid = sc.get("runAsUser", pod_sc.get("runAsUser", default_uid))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup", default_gid))
    return None if uid in (None, 0) else (int(uid), int(gid))


def _groups(pod: Obj, fs_group: int | None) -> list[int]:
    """The supplementary groups of the pod's processes: its fsGroup and supplementalGroups."""
    pod_sc = pod["spec"].get("securityContext") or {}
    extra = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    return ([] if fs_group is None else [fs_group]) + extra


class PodWorker:
    def __init__(self, pod: Obj, ctx: PodContext) -> None:
        meta = pod["metadata"]
        self.pod, self.ctx = pod, ctx
        self.uid, self.key = meta["uid"], f"{meta['namespace']}/{meta['name']}"
        self.dir = ctx.state_dir / "pods" / self.uid
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)  # Secrets are written here
        self.logs = ctx.state_dir / "logs" / "pods"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.policy = pod["spec"].get("restartPolicy", "Always")
        self.init = [Container(c, _image(c), True) for c in pod["spec"].get("initContainers", [])]
        self.main = [Container(c, _image(c), False) for c in pod["spec"]["containers"]]
        self.fault: str | None = None
        self.volumes: dict[str, Path] | None = None
        self.hosts = self.dir / "hosts"
        self.resolv = self.dir / "resolv.conf"
        self.netns, self.ip = ctx.network.add_pod(self.uid)
        self.service_env = ctx.kubernetes.attach(self.uid, self.netns)
        self.write_names()
        self.resolv.write_text(names.resolv_conf(meta["namespace"]))
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._grace = MAX_GRACE
        self.done = threading.Event()
        self._published = ""
        self._snapshot: tuple[list[Obj], list[Obj]] = self._statuses(time.time())
        self._thread = threading.Thread(target=self._run, name=f"pod {self.key}", daemon=True)
        self._thread.start()

    # -- what the runtime asks -------------------------------------------------------------
    def snapshot(self) -> tuple[list[Obj], list[Obj]]:
        with self._lock:
            return self._snapshot

    def set_fault(self, fault: str | None) -> None:
        if fault != self.fault:
            self.fault = fault
            self._wake.set()

    def request_stop(self, grace: float | None = None) -> None:
        if not self._stop.is_set():
            seconds = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
            self._grace = min(float(seconds if grace is None else grace), MAX_GRACE)
            self._stop.set()
            self._wake.set()

    def write_names(self) -> None:
        text = names.render(self.pod, self.ip, self.ctx.endpoints(), self.ctx.kubernetes.names())
        names.write_in_place(self.hosts, text)

    # -- the worker ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                finished = self._step(time.time())
                self._publish()
                if finished:
                    log.info("pod %s finished", self.key)
                    break
                self._wake.wait(TICK)
                self._wake.clear()
        except Exception:
            log.exception("pod %s: worker failed; stopping its containers", self.key)
        finally:
            try:
                self._shutdown()
            finally:
                self.done.set()  # even a failed teardown must not hold the pod's deletion forever

    def _step(self, now: float) -> bool:
        """Advance every container; True when the pod has ended for good (a finished Job)."""
        for c in self.init + self.main:
            self._reap(c, now)
        pending = next((c for c in self.init if not c.succeeded), None)
        if pending is not None:
            self._drive(pending, now)
            return False
        for c in self.main:
            self._drive(c, now)
            self._probe(c, now)
        return all(c.terminated is not None for c in self.main)

    def _reap(self, c: Container, now: float) -> None:
        termination = c.reap(now)
        if termination is None:
            return
        failed = termination["exitCode"] != 0
        if self._stop.is_set():  # the pod is going away: nothing restarts
            c.terminated = termination
            return
        if c.init:
            restart = failed and self.policy != "Never"
        else:
            restart = self.policy == "Always" or (failed and self.policy == "OnFailure")
        log.info(
            "pod %s container %s exited with %s%s",
            self.key,
            c.name,
            termination["exitCode"],
            "; restarting" if restart else "",
        )
        if not restart:
            c.terminated = termination
            return
        c.last = termination
        c.restarts += 1
        c.crashes += 1
        delay = backoff(c.crashes, self.ctx.time_scale)
        c.next_start = now + delay
        c.waiting = crash_loop_message(c, self.pod["metadata"]["name"], delay) if delay else None

    def _drive(self, c: Container, now: float) -> None:
        if self.fault == "imagepull":
            if c.running:
                c.signal(signal.SIGKILL)
            if c.terminated is None:
                pulling = c.waiting is not None and c.waiting[0] in PULL_REASONS
                since = c.next_start if pulling else now
                c.next_start = since
                reason = "ErrImagePull" if now - since < PULL_RETRY else "ImagePullBackOff"
                c.waiting = (reason, f'Back-off pulling image "{c.spec["image"]}"')
            return
        if c.running:
            c.hold_namespace()
            self._apply_fault(c, now)
            return
        if c.terminated is None and now >= c.next_start:
            self._start(c, now)

    def _apply_fault(self, c: Container, now: float) -> None:
        if self.fault in ("crashloop", "oomkilled", "fail") and now - c.started_at >= CRASH_AFTER:
            c.kill_reason = "OOMKilled" if self.fault == "oomkilled" else None
            c.signal(signal.SIGKILL)
        if c.kill_deadline is not None and now >= c.kill_deadline:
            c.kill_all()

    def _start(self, c: Container, now: float) -> None:
        meta = self.pod["metadata"]
        group = volumes.fs_group(self.pod, self.ctx.openshift)
        try:
            fetch = self.ctx.fetch_for(meta["namespace"])
            if self.volumes is None:
                self.volumes = volumes.prepare(
                    self.pod, self.dir, fetch, self.ctx.claim_path_for(meta["namespace"]), group
                )
            env = {**c.image.env, **self.service_env, "HOSTNAME": meta["name"]}
            env.update(resolve_env(c.spec, self.pod, self.ip, fetch))
            env.update(c.image.overrides)
            env.setdefault("HOME", "/root")
            program = argv(c.spec, c.image.entrypoint, c.image.cmd, env)
            if not program:
                raise ConfigError("no command specified")
            mounts = volumes.mounts_of(c.spec, self.volumes)
        except ConfigError as exc:
            c.waiting = ("CreateContainerConfigError", str(exc))
            c.next_start = now + 2.0
            return
        user = _user(self.pod, c.spec, c.image)
        root = self.dir / "root" / c.name
        root.mkdir(parents=True, exist_ok=True)
        script = self.dir / f"{c.name}.sh"
        script.write_text(
            setup_script(
                root,
                self.pod["spec"].get("hostname") or meta["name"],
                self.hosts,
                self.resolv,
                mounts,
                c.image,
                c.spec.get("workingDir") or c.image.workdir,
                user,
                _groups(self.pod, group),
            )
        )
        log_path = self.logs / f"{meta['namespace']}_{meta['name']}_{c.name}.log"
        with log_path.open("ab") as out:
            c.proc = subprocess.Popen(
                launch_argv(self.netns, script, program),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        c.hold_namespace(wait=2.0)  # once the launcher enters it: normally before the program
        c.started_at, c.env, c.user, c.waiting = now, env, user, None
        for kind in ("readiness", "liveness", "startup"):
            if spec := c.spec.get(f"{kind}Probe"):
                c.probes[kind] = Prober(kind, spec, now)
        log.info("pod %s container %s started (image %s)", self.key, c.name, c.image.name)

    def _probe(self, c: Container, now: float) -> None:
        if not c.running:
            return
        startup = c.probes.get("startup")
        for kind, prober in list(c.probes.items()):
            if kind != "startup" and startup is not None and not startup.passed:
                continue
            if kind == "startup" and prober.passed:
                continue  # the kubelet stops a startup probe once the container has started
            if kind in ("liveness", "startup") and prober.gave_up and not prober.passed:
                if c.kill_deadline is None:
                    log.info("pod %s container %s failed its %s probe", self.key, c.name, kind)
                    c.signal(c.image.stop_signal)
                    c.kill_deadline = now + self._grace
                continue
            if prober.due(now):
                prober.in_flight = True
                self.ctx.probe_pool.submit(self._run_probe, c, prober, c.started_at)

    def _run_probe(self, c: Container, prober: Prober, instance: float) -> None:
        ok, message = run_probe(
            prober.spec, c.spec, self.ip, c.pid(), c.env, c.user, prober.timeout
        )
        if c.started_at == instance and c.probes.get(prober.kind) is prober:
            prober.record(ok, message, time.time())
            self._wake.set()

    # -- status ----------------------------------------------------------------------------
    def _statuses(self, now: float) -> tuple[list[Obj], list[Obj]]:
        name = self.pod["metadata"]["name"]
        initializing = any(not c.succeeded for c in self.init)
        init = [c.status(name, False) for c in self.init]
        main = [c.status(name, initializing) for c in self.main]
        if self.fault == "notready":
            for status in main:
                status["ready"] = False
        return init, main

    def _publish(self) -> None:
        init, main = self._statuses(time.time())
        text = json.dumps([init, main], sort_keys=True)
        with self._lock:
            self._snapshot = (init, main)
        if text != self._published:
            self._published = text
            self.ctx.notify(self.key)

    # -- teardown ----------------------------------------------------------------------------
    def _shutdown(self) -> None:
        running = [c for c in self.init + self.main if c.running]
        for c in running:
            c.signal(c.image.stop_signal)
        deadline = time.time() + self._grace
        while any(c.proc is not None and c.proc.poll() is None for c in running):
            if time.time() >= deadline:
                for c in running:
                    c.kill_all()
                break
            time.sleep(0.05)
        for c in running:
            if c.proc is not None:
                try:
                    c.proc.wait(5)
                except subprocess.TimeoutExpired:
                    c.proc.kill()
            self._reap(c, time.time())
        self.ctx.kubernetes.detach(self.uid)
        self.ctx.network.remove_pod(self.uid)
        self.ctx.network.release(self.ip)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._stop.is_set():
            log.info("pod %s stopped", self.key)


def _image(spec: Obj) -> images.Image:
    image = images.find(spec["image"])
    if image is None:
        raise ValueError(f"no known image for {spec['image']}")
    return image
