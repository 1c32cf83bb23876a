# Copyright: litemaas-controller developers
# MIT License
"""The master-key rotation as a journaled state machine, safe to kill anywhere and run again.

The journal is Secret ``litellm-master-key-rotation`` in the instance namespace: the old and the new
master key, the stage reached and the id of a canary deployment. Each stage is written *before* the
step that leaves it, so a run that is killed resumes from the journal:

``journaled``
    the keys are recorded; ``/key/regenerate`` has not been called. The canary (a deployment that
    serves nothing, with a known ``api_base``) is planted in LiteLLM's database next.
``regenerating``
    ``/key/regenerate`` may have been sent. Whether it took effect is established from the proxy
    and its database (:meth:`Rotation.regenerate_took_effect`), never assumed.
``regenerated``
    LiteLLM re-encrypted its stored credentials with the new key; it must never be called again.
``secrets-updated``
    ``litellm-secret`` (and ``backend-secret``) hold the new key; what is left is the rollout
    (the role's) and :meth:`Rotation.complete`, which deletes the journal.

With the deploy role's salt key (Secret ``litellm-salt-key``) LiteLLM encrypts stored credentials
with that key, not the master key: the rotation then goes from ``journaled`` to ``regenerated``
without a canary or ``/key/regenerate``.

The evidence for ``regenerating``: ``/key/regenerate`` re-encrypts every stored model row, the
canary included, in one database transaction; the running proxy keeps its old key in memory until
it restarts (and keeps accepting it). The canary's ``model`` names no provider, so LiteLLM stores
it but never serves it; for such a deployment ``/v2/model/info?modelId=`` reads the row from the
database and decrypts it with the key the proxy runs with, showing a value it cannot decrypt as the
ciphertext. So the canary's ``api_base`` reads in clear exactly when the database is encrypted with
the key the proxy holds. (A served deployment would not tell: the proxy keeps serving its old copy
when a reload cannot decrypt the row.)
"""

import os
import secrets
import signal
import string

from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (
    LITELLM_SECRET,
    MASTER_KEY_FIELD,
    SALT_SECRET,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_models import (
    probe_models,
)

JOURNAL = "litellm-master-key-rotation"
BACKEND_SECRET = "backend-secret"  # noqa: S105 (a Secret name)
BACKEND_KEY_FIELD = "litellm-api-key"
JOURNAL_LABELS = {"app.kubernetes.io/part-of": "litemaas"}
STAGES = ("journaled", "regenerating", "regenerated", "secrets-updated")
CANARY_PREFIX = "litemaas-rotation-canary-"
CANARY_MODEL = "litemaas-rotation-canary"
CANARY_API_BASE = "http://litemaas-rotation-canary.invalid/v1"
# /v2/model/info answers nothing while the router serves no model at all: then an anchor canary
# (served, never called) is planted too.
ANCHOR_SUFFIX = "-anchor"
KEY_ALPHABET = string.ascii_letters + string.digits
# Test seam: when this variable names a kill point, the module SIGKILLs the run it belongs to
# there, as a crash or an OOM kill would: the process group of the ansible-playbook that started
# it, then its own (ansible's task workers call setsid(), so the two differ). Unset in
# production; the integration tests set it to interrupt a rotation at each point.
KILL_AT_ENV = "LITEMAAS_TEST_KILL_AT"


class RotationError(Exception):
    """The rotation cannot go on; the message says what to check (a person must, first)."""

    permanent = True


def kill_point(name):
    if os.environ.get(KILL_AT_ENV) != name:
        return
    own = os.getpgrp()
    pid = os.getppid()
    while pid > 1 and os.getpgid(pid) == own:  # up to the first process outside our group
        pid = _parent(pid)
    if pid > 1:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    os.killpg(own, signal.SIGKILL)


def _parent(pid):
    with open("/proc/%d/stat" % pid) as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def new_master_key():
    return "sk-" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(48))


class Rotation:
    """One instance's rotation: ``kube`` reads and writes its Secrets, ``api`` reaches its proxy
    (any key: every call names the key it uses)."""

    def __init__(self, kube, api, namespace, check_mode=False):
        self.kube = kube
        self.api = api
        self.ns = namespace
        self.check_mode = check_mode
        self.journal = kube.read_secret(namespace, JOURNAL)
        self.resumed = self.journal is not None
        self.evidence = ""
        self.regenerated_now = False

    # -- journal ---------------------------------------------------------------------------------
    @property
    def stage(self):
        return (self.journal or {}).get("STAGE", "")

    def _record(self, **fields):
        journal = dict(self.journal or {}, **fields)
        self.kube.write_secret(self.ns, JOURNAL, journal, labels=JOURNAL_LABELS)
        self.journal = journal

    def _old(self):
        return self.journal["OLD_MASTER_KEY"]

    def _new(self):
        return self.journal["NEW_MASTER_KEY"]

    # -- state: rotated --------------------------------------------------------------------------
    def rotate(self):
        """Bring the rotation to ``secrets-updated``; return what the caller must roll."""
        if self.journal is not None and self.stage not in STAGES:
            raise RotationError(
                "Secret %s/%s has STAGE %r, which this module does not know: check that Secret"
                % (self.ns, JOURNAL, self.stage)
            )
        if self.check_mode:
            return self._rolled()
        if self.journal is None:
            self._start()
        if self.stage == "journaled" and self._salted():
            # LiteLLM encrypts stored credentials with the salt key, not the master key: nothing
            # to re-encrypt (and /key/regenerate would re-encrypt them with the new master key,
            # which the proxy, decrypting with the salt, could no longer read)
            self._record(STAGE="regenerated")
        elif self.stage == "journaled":
            self._plant_canary()
            self._record(STAGE="regenerating")
            kill_point("before-regenerate")
            self._regenerate()
        elif self.stage == "regenerating":
            if self.regenerate_took_effect():
                self._record(STAGE="regenerated")
            else:
                self._regenerate()
        if self.stage == "regenerated":
            kill_point("before-secret")
            self._update_secrets()
            self._record(STAGE="secrets-updated")
        kill_point("before-rollout")
        return self._rolled()

    def _start(self):
        secret = self.kube.read_secret(self.ns, LITELLM_SECRET) or {}
        current = secret.get(MASTER_KEY_FIELD)
        if not current:
            raise RotationError(
                "Secret %s/%s has no %s: is LiteMaaS deployed there?"
                % (self.ns, LITELLM_SECRET, MASTER_KEY_FIELD)
            )
        kill_point("before-journal")
        self._record(
            OLD_MASTER_KEY=current,
            NEW_MASTER_KEY=new_master_key(),
            CANARY=CANARY_PREFIX + secrets.token_hex(6),
            STAGE="journaled",
        )
        kill_point("after-journal")

    def _salted(self):
        return self.kube.read_secret(self.ns, SALT_SECRET) is not None

    def _plant_canary(self):
        """The journaled canary in LiteLLM's database, encrypted with the old key, read back."""
        canary, old = self.journal["CANARY"], self._old()
        if not self.api.deployments(key=old):
            self.api.add_deployment(_deployment(canary + ANCHOR_SUFFIX, "openai/"), key=old)
        if self._canary_api_base(old) is None:
            # 1.108.7 stores it, then answers 500 because the router does not serve it: as meant.
            self.api.request("POST", "/model/new", body=_deployment(canary, ""), key=old)
        if self._canary_api_base(old) != CANARY_API_BASE:
            raise RotationError(
                "the canary deployment %s cannot be planted and read back through "
                "/v2/model/info, so an interrupted /key/regenerate could not be told later; "
                "nothing was rotated. Check the LiteLLM version (1.108.7 is known to work)" % canary
            )

    def _regenerate(self):
        self.api.rotate_master_key(self._new(), key=self._old())
        self.regenerated_now = True
        kill_point("regenerate")
        self._record(STAGE="regenerated")

    def _update_secrets(self):
        litellm = self.kube.read_secret(self.ns, LITELLM_SECRET) or {}
        self.kube.write_secret(
            self.ns, LITELLM_SECRET, dict(litellm, **{MASTER_KEY_FIELD: self._new()})
        )
        backend = self.kube.read_secret(self.ns, BACKEND_SECRET)
        if backend is not None:
            self.kube.write_secret(
                self.ns, BACKEND_SECRET, dict(backend, **{BACKEND_KEY_FIELD: self._new()})
            )

    def _rolled(self):
        has_backend = self.kube.read_secret(self.ns, BACKEND_SECRET) is not None
        return ["litellm"] + (["backend"] if has_backend else [])

    # -- the evidence ----------------------------------------------------------------------------
    def regenerate_took_effect(self):
        """Whether LiteLLM's database is encrypted with the new key, from the proxy itself."""
        proxy_key = self._key_the_proxy_runs_with()
        shown = self._canary_api_base(proxy_key)
        if shown is None:
            raise RotationError(self._unknown("the canary deployment is gone from LiteLLM"))
        in_clear = shown == CANARY_API_BASE
        if proxy_key == self._old():
            took_effect = not in_clear
        elif in_clear:
            took_effect = True
        else:
            raise RotationError(
                "LiteLLM already runs with the new master key but its database is still encrypted "
                "with the old one (the rotation was interrupted in /key/regenerate and LiteLLM was "
                "restarted by hand?): put OLD_MASTER_KEY of Secret %s/%s back into %s, roll "
                "LiteLLM and run again" % (self.ns, JOURNAL, LITELLM_SECRET)
            )
        self.evidence = "the proxy runs with the %s key and reads the canary %s: %s" % (
            "old" if proxy_key == self._old() else "new",
            "in clear" if in_clear else "as ciphertext",
            "/key/regenerate took effect" if took_effect else "/key/regenerate did not take effect",
        )
        return took_effect

    def _key_the_proxy_runs_with(self):
        for key in (self._old(), self._new()):
            if self.api.master_key_works(key):
                return key
        raise RotationError(self._unknown("LiteLLM accepts neither the old nor the new master key"))

    def _unknown(self, why):
        return (
            "a master-key rotation was interrupted while /key/regenerate may have been in flight, "
            "and whether it took effect cannot be established: %s. Check which of OLD_MASTER_KEY / "
            "NEW_MASTER_KEY in Secret %s/%s decrypts LiteLLM's stored models (a proxy started "
            "with the right one serves them); then set STAGE there to regenerated (the new key) "
            "or journaled (the old key) and run again" % (why, self.ns, JOURNAL)
        )

    def _canary_api_base(self, key):
        found = self.api.stored_deployment(self.journal["CANARY"], key=key)
        return None if found is None else (found.get("litellm_params") or {}).get("api_base")

    # -- state: completed ------------------------------------------------------------------------
    def complete(self, wait_timeout, verify):
        """After the rollout: the new key works, the old one is refused, every stored model
        answers; then the canaries and the journal go. Returns the models probed."""
        if self.journal is None:
            return None
        if self.stage != "secrets-updated":
            raise RotationError(
                "the rotation in Secret %s/%s is at stage %s: run state=rotated first"
                % (self.ns, JOURNAL, self.stage)
            )
        if self.check_mode:
            return []
        new = self._new()
        verify(self.api, new, [self._old()], wait_timeout)
        canaries = [self.journal["CANARY"]] + [
            model_id
            for model_id in (
                (d.get("model_info") or {}).get("id") for d in self.api.deployments(key=new)
            )
            if str(model_id).startswith(CANARY_PREFIX)
        ]
        for model_id in sorted(set(canaries)):
            if model_id == self.journal["CANARY"] and self._canary_api_base(new) is None:
                continue
            self.api.delete_deployment(model_id, key=new)
        models = [m for m in probe_models(self.api, key=new) if m["stored_in_db"]]
        broken = [m for m in models if not m["works"]]
        if broken:
            raise RotationError(
                "after the master-key rotation these models do not answer: %s (%s). The new key "
                "is in %s; Secret %s/%s keeps the old one until this passes"
                % (
                    ", ".join(m["name"] for m in broken),
                    broken[0]["error"],
                    LITELLM_SECRET,
                    self.ns,
                    JOURNAL,
                )
            )
        self.kube.delete_secret(self.ns, JOURNAL)
        return models


def _deployment(model_id, provider):
    """A canary: with ``provider`` ``openai/`` LiteLLM serves it (never called), without it only
    stores it."""
    return {
        "model_name": CANARY_MODEL,
        "litellm_params": {"model": provider + CANARY_MODEL, "api_base": CANARY_API_BASE},
        "model_info": {"id": model_id},
    }
