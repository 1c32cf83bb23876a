# Copyright: litemaas-controller developers
# MIT License
"""Virtual keys identified by their alias, whose value lives only in a Kubernetes Secret.

LiteLLM keeps only a hash of a virtual key (``token`` = SHA-256 of the key); the value is shown
once, at creation. The module writes it straight into the Secret the caller names
(``OPENAI_API_KEY``, ``OPENAI_BASE_URL``) and returns only the hash, so the Secret is how the
module recognises "its" key on the next run: the key whose hash matches the Secret's value is the
one to keep.

LiteLLM requires key aliases to be unique and regenerating a virtual key is an enterprise feature,
so a rotation is: create the new key under a temporary alias (``<alias>.rotating``), write it to
the Secret, check the proxy accepts it, delete the old key(s), check the old value is refused, then
give the new key the alias. A run interrupted anywhere in between is repaired by the next run:
whichever key matches the Secret is kept, any other key under either alias is deleted.
"""

import hashlib
import time

from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (
    secret_text,
)
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_secret_refs import (
    OWNER_ANNOTATION,
    SecretRefError,
    owned_by,
    owner_annotations,
    refuse_reserved,
)

ROTATING_SUFFIX = ".rotating"
MANAGED_TAG = "litemaas_managed"
SECRET_TAG = "litemaas_secret"  # noqa: S105 (a metadata field name)
API_KEY_FIELD = "OPENAI_API_KEY"
BASE_URL_FIELD = "OPENAI_BASE_URL"
SECRET_LABELS = {
    "app.kubernetes.io/part-of": "litemaas",
    "app.kubernetes.io/managed-by": "rhpds.litemaas",
    "litemaas.rhpds.io/component": "virtual-key",
}


class KeyError_(Exception):
    """A key cannot be created, rotated or removed as asked; the message says why."""


def hash_token(key):
    """LiteLLM's own hash of a virtual key (its ``token``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def summary(key, secret_namespace=None, secret_name=None):
    """What the modules report about a key: never the value."""
    shown = dict(
        alias=key.get("key_alias"),
        token=key.get("token"),
        key_name=key.get("key_name"),
        user_id=key.get("user_id"),
        models=list(key.get("models") or []),
        max_budget=key.get("max_budget"),
        spend=key.get("spend"),
        expires=key.get("expires"),
    )
    if secret_name:
        shown["secret"] = dict(namespace=secret_namespace, name=secret_name)
    return shown


class KeyManager:
    def __init__(self, api, kube_getter, params, check_mode, default_namespace, default_base_url):
        self.api = api
        self._kube_getter = kube_getter
        self.p = params
        self.check_mode = check_mode
        self.alias = params["alias"]
        self.secret_name = params.get("secret_name")
        self.secret_namespace = params.get("secret_namespace") or default_namespace
        self.base_url = params.get("base_url") or default_base_url.rstrip("/") + "/v1"
        self.warnings = []

    @property
    def kube(self):
        return self._kube_getter()

    # -- shared ----------------------------------------------------------------------------------
    def _candidates(self):
        return self.api.keys_with_alias(self.alias) + self.api.keys_with_alias(
            self.alias + ROTATING_SUFFIX
        )

    def _check_secret_ref(self):
        """Before anything changes: the key's Secret is named, and not one of the instance's."""
        if not self.secret_name:
            return
        refuse_reserved(self.secret_name, "secret_name")
        if not self.secret_namespace:
            raise KeyError_("secret_namespace (or namespace) is required with secret_name")

    def _secret(self):
        """The data of the key's Secret ({} while it does not exist); only a Secret this module
        created for this alias is used."""
        secret = self.kube.get_secret(self.secret_namespace, self.secret_name)
        if secret is None:
            return {}
        self._check_owned(secret)
        return secret_text(secret)

    def _check_owned(self, secret):
        if not owned_by(secret, self.alias):
            raise SecretRefError(
                "the Secret secret_name names in namespace %s exists and was not created by "
                "litellm_key for key %s (it lacks the annotation %s: %s), so it is neither "
                "replaced nor used; name a Secret that does not exist yet"
                % (self.secret_namespace, self.alias, OWNER_ANNOTATION, self.alias)
            )

    def _may_delete(self, secret):
        if owned_by(secret, self.alias):
            return True
        self.warnings.append(
            "the Secret secret_name names in namespace %s was not created by litellm_key for key "
            "%s, so it was not deleted" % (self.secret_namespace, self.alias)
        )
        return False

    def _check_models(self):
        if not self.p.get("check_models"):
            return
        served = set(self.api.public_model_names())
        unknown = [m for m in self.p.get("models") or [] if m not in served]
        if unknown:
            raise KeyError_(
                "model(s) %s are not served by this LiteLLM, so no key was issued for them "
                "(LiteLLM itself would accept them and every request would fail). Served public "
                "model names: %s. Register the model first (rhpds.litemaas.litellm_model) or fix "
                "the name." % (", ".join(unknown), ", ".join(sorted(served)) or "none")
            )

    def _request(self, alias, base=None):
        """The /key/generate body: given options win, else the attributes of ``base`` (the key
        being rotated), so ``key.rotate {alias}`` keeps models, user and budget."""
        base = base or {}
        models = self.p.get("models")
        body = dict(
            key_alias=alias,
            models=list(models if models is not None else base.get("models") or []),
            metadata={
                MANAGED_TAG: True,
                SECRET_TAG: "%s/%s" % (self.secret_namespace, self.secret_name),
            },
        )
        for field in ("user_id", "max_budget"):
            value = self.p.get(field)
            if value is None:
                value = base.get(field)
            if value is not None:
                body[field] = value
        if self.p.get("duration") is not None:
            body["duration"] = self.p["duration"]
        return body

    def _adopt_secret_ref(self, candidates):
        """Without secret_name, use the Secret recorded on the key at creation."""
        if self.secret_name:
            return
        for key in candidates:
            ref = (key.get("metadata") or {}).get(SECRET_TAG) or ""
            namespace, _, name = ref.partition("/")
            if name:
                self.secret_namespace = self.secret_namespace or namespace
                self.secret_name = name
                return

    def _secret_data(self, value):
        return {API_KEY_FIELD: value, BASE_URL_FIELD: self.base_url}

    def _write_secret(self, value):
        return self.kube.write_secret(
            self.secret_namespace,
            self.secret_name,
            self._secret_data(value),
            labels=SECRET_LABELS,
            annotations=owner_annotations(self.alias),
            check_mode=self.check_mode,
            check=self._check_owned,
        )

    def _result(self, changed, action, key, **extra):
        result = dict(changed=changed, action=action, alias=self.alias)
        result["key"] = summary(key or {}, self.secret_namespace, self.secret_name) if key else {}
        if self.secret_name:
            result["secret"] = dict(namespace=self.secret_namespace, name=self.secret_name)
        result.update(extra)
        return result

    # -- present ---------------------------------------------------------------------------------
    def present(self):
        self._check_models()
        candidates = self._candidates()
        self._adopt_secret_ref(candidates)
        if not self.secret_name:
            raise KeyError_(
                "secret_name is required to create key %s: its value is written only there"
                % self.alias
            )
        self._check_secret_ref()
        secret = self._secret()
        value = secret.get(API_KEY_FIELD)
        ours = [k for k in candidates if value and k.get("token") == hash_token(value)]
        if not candidates:
            return self._issue(candidates, old_value=None, action="created")
        if not ours:
            foreign = [k for k in candidates if not (k.get("metadata") or {}).get(MANAGED_TAG)]
            if foreign:
                raise KeyError_(
                    "key alias %s belongs to a key this collection did not create (its value is "
                    "not in Secret %s/%s); delete that key or choose another alias"
                    % (self.alias, self.secret_namespace, self.secret_name)
                )
            self.warnings.append(
                "the value of key %s was not in Secret %s/%s, so a new key was issued and the old "
                "one deleted" % (self.alias, self.secret_namespace, self.secret_name)
            )
            return self._issue(candidates, old_value=None, action="reissued")
        if self.p.get("rotate"):
            if ours[0].get("key_alias") != self.alias or len(candidates) > 1:
                # Finish an interrupted rotation first, so the temporary alias is free.
                self._converge(ours[0], [k for k in candidates if k is not ours[0]], value)
                candidates = self._candidates()
            return self._issue(candidates, old_value=value, action="rotated")
        return self._converge(ours[0], [k for k in candidates if k is not ours[0]], value)

    def _converge(self, key, strays, value):
        changes = {}
        models = self.p.get("models")
        if models is not None and sorted(key.get("models") or []) != sorted(models):
            changes["models"] = list(models)
        for field in ("user_id", "max_budget"):
            wanted = self.p.get(field)
            if wanted is not None and key.get(field) != wanted:
                changes[field] = wanted
        if key.get("key_alias") != self.alias:
            changes["key_alias"] = self.alias
        changed = bool(changes) or bool(strays)
        if not self.check_mode:
            if strays:
                self.api.delete_keys([k["token"] for k in strays])
            if changes:
                self.api.update_key(key["token"], changes)
        changed = self._write_secret(value) or changed
        key = dict(key, **changes)
        return self._result(
            changed,
            "updated" if changed else "none",
            key,
            changed_fields=sorted(changes),
            deleted_tokens=[k["token"] for k in strays],
        )

    def _issue(self, old_keys, old_value, action):
        """Create a key (a rotation when old keys exist), write it, verify, retire the old ones."""
        if self.check_mode:
            return self._result(True, action, old_keys[0] if old_keys else None)
        alias = self.alias + ROTATING_SUFFIX if old_keys else self.alias
        leftovers = [k for k in old_keys if k.get("key_alias") == alias]
        if leftovers:
            # A key under the temporary alias whose value no Secret holds: an interrupted rotation.
            self.api.delete_keys([k["token"] for k in leftovers])
            old_keys = [k for k in old_keys if k not in leftovers]
            alias = self.alias + ROTATING_SUFFIX if old_keys else self.alias
        base = next((k for k in old_keys if k.get("key_alias") == self.alias), None)
        created = self.api.generate_key(self._request(alias, base or (old_keys or [None])[0]))
        new_value = created["key"]
        self._write_secret(new_value)
        if not self._wait_key(new_value, works=True):
            raise KeyError_(
                "the new key for %s was issued and written to Secret %s/%s but the proxy does not "
                "accept it; the old key was kept. Run again to retry."
                % (self.alias, self.secret_namespace, self.secret_name)
            )
        old_tokens = [k["token"] for k in old_keys]
        if old_tokens:
            self.api.delete_keys(old_tokens)
            if old_value and not self._wait_key(old_value, works=False):
                raise KeyError_(
                    "the old key of %s was deleted but the proxy still accepts it" % self.alias
                )
            self.api.update_key(created["token"], {"key_alias": self.alias})
        created["key_alias"] = self.alias
        created.pop("key", None)
        return self._result(True, action, created, deleted_tokens=old_tokens)

    def _wait_key(self, value, works, attempts=10):
        for attempt in range(attempts):
            if self.api.key_works(value) == works:
                return True
            time.sleep(min(0.5 * (attempt + 1), 2))
        return False

    # -- absent ----------------------------------------------------------------------------------
    def absent(self):
        candidates = self._candidates()
        self._adopt_secret_ref(candidates)
        self._check_secret_ref()
        tokens = [k["token"] for k in candidates]
        if tokens and not self.check_mode:
            self.api.delete_keys(tokens)
        secret_deleted = False
        if self.secret_name:
            secret_deleted = self.kube.delete_secret(
                self.secret_namespace,
                self.secret_name,
                check_mode=self.check_mode,
                check=self._may_delete,
            )
        return self._result(
            bool(tokens) or secret_deleted,
            "deleted" if tokens or secret_deleted else "none",
            None,
            deleted_tokens=tokens,
        )
