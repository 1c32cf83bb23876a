# Copyright: litemaas-controller developers
# MIT License
"""Model registration with a stable identity, so a repeat never adds a second deployment.

LiteLLM's ``/model/new`` adds another load-balanced deployment each time it is called with the same
public name. Here every deployment the collection manages carries ``model_info.id`` derived from the
public name (:func:`model_id_for`), which LiteLLM stores as the row's primary key: the module finds
its own deployment by that id, updates it in place, and LiteLLM itself refuses a second row with it.

LiteLLM encrypts ``api_key`` at rest and never returns it. To notice a changed key the deployment
carries a salted fingerprint of it in ``model_info.litemaas_api_key_fingerprint`` (PBKDF2-SHA256,
salt = the model id, 100,000 rounds): the same key gives the same fingerprint, the fingerprint does
not give the key back.
"""

import hashlib

from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_api import (
    LiteLLMError,
    Upstream,
)

ID_PREFIX = "litemaas-"
MANAGED_TAG = "litemaas_managed"
FINGERPRINT_TAG = "litemaas_api_key_fingerprint"
FINGERPRINT_ROUNDS = 100000


class ModelError(Exception):
    """A model cannot be registered as asked; the message says why and what to do."""


def model_id_for(name):
    """The deployment id the collection uses for public model ``name``."""
    digest = hashlib.sha256(("rhpds.litemaas/model/" + name).encode("utf-8")).hexdigest()
    return ID_PREFIX + digest[:24]


def fingerprint(model_id, api_key):
    if not api_key:
        return ""
    derived = hashlib.pbkdf2_hmac(
        "sha256", api_key.encode("utf-8"), model_id.encode("utf-8"), FINGERPRINT_ROUNDS
    )
    return "pbkdf2-sha256:" + derived.hex()[:32]


def summary(deployment):
    """What the modules report about a deployment: never a credential."""
    params = deployment.get("litellm_params") or {}
    info = deployment.get("model_info") or {}
    upstream = params.get("model") or ""
    return dict(
        name=deployment.get("model_name"),
        id=info.get("id"),
        api_base=params.get("api_base"),
        upstream_model=upstream.split("/", 1)[1] if "/" in upstream else upstream,
        provider=upstream.split("/", 1)[0] if "/" in upstream else None,
        mode=info.get("mode"),
        rpm=params.get("rpm"),
        tpm=params.get("tpm"),
        managed=bool(info.get(MANAGED_TAG)) or str(info.get("id", "")).startswith(ID_PREFIX),
        stored_in_db=bool(info.get("db_model", True)),
    )


def probe_models(api, names=None, key=None):
    """Every deployment's summary; each public name (of ``names``, default all) gets one tiny
    request of its mode through the proxy, reported as ``works``/``error``."""
    models = [summary(d) for d in api.deployments(key=key)]
    for name in sorted({m["name"] for m in models}):
        if names and name not in names:
            continue
        mode = next(m["mode"] for m in models if m["name"] == name) or "chat"
        try:
            api.probe(name, mode, key=key)
            works, error = True, ""
        except LiteLLMError as exc:
            works, error = False, str(exc)
        for m in models:
            if m["name"] == name:
                m.update(works=works, error=error)
    return models


def _comparable(params, info):
    return dict(
        model=params.get("model"),
        api_base=(params.get("api_base") or "").rstrip("/"),
        rpm=params.get("rpm"),
        tpm=params.get("tpm"),
        mode=info.get("mode"),
        api_key=info.get(FINGERPRINT_TAG) or "",
    )


def discover_upstream_model(upstream, name):
    """The model id an OpenAI-compatible upstream serves (``GET {api_base}/models``)."""
    try:
        body = upstream.call("GET", "/models", what="asking the upstream for its models (/models)")
    except LiteLLMError as exc:
        raise ModelError("cannot discover upstream_model: %s" % exc) from None
    ids = [
        m.get("id") for m in (body or {}).get("data") or [] if isinstance(m, dict) and m.get("id")
    ]
    if len(ids) == 1:
        return ids[0]
    if name in ids:
        return name
    raise ModelError(
        "cannot discover upstream_model: the upstream serves %s; set upstream_model to one of them"
        % (", ".join(sorted(ids)) or "no model")
    )


class ModelManager:
    def __init__(self, api, params, check_mode):
        self.api = api
        self.p = params
        self.check_mode = check_mode
        self.name = params["name"]
        self.model_id = model_id_for(self.name)
        self.warnings = []

    def _upstream(self):
        return Upstream(
            self.p["api_base"],
            key=self.p.get("api_key"),
            validate_certs=self.p.get("upstream_validate_certs", True),
            ca_path=self.p.get("upstream_ca_path"),
            timeout=self.p.get("timeout"),
        )

    def _split(self):
        deployments = self.api.deployments()
        ours = [d for d in deployments if (d.get("model_info") or {}).get("id") == self.model_id]
        others = [
            d
            for d in deployments
            if d.get("model_name") == self.name
            and (d.get("model_info") or {}).get("id") != self.model_id
        ]
        return (ours[0] if ours else None), others

    # -- present ---------------------------------------------------------------------------------
    def present(self):
        current, others = self._split()
        unmanaged = [d for d in others if (d.get("model_info") or {}).get("db_model", True)]
        config_only = [d for d in others if not (d.get("model_info") or {}).get("db_model", True)]
        if config_only:
            self.warnings.append(
                "public name %s also has %d deployment(s) from LiteLLM's config file; they stay "
                "and share the traffic" % (self.name, len(config_only))
            )
        if unmanaged and not self.p.get("replace_unmanaged"):
            raise ModelError(
                "public name %s already has deployment(s) not managed by this collection (ids %s); "
                "adding another would load-balance across them. Delete them, or set "
                "replace_unmanaged=true to replace them."
                % (
                    self.name,
                    ", ".join(str((d.get("model_info") or {}).get("id")) for d in unmanaged),
                )
            )
        desired_params, desired_info = self._desired(current)
        before = _comparable(
            (current or {}).get("litellm_params") or {}, (current or {}).get("model_info") or {}
        )
        after = _comparable(desired_params, desired_info)
        changed_fields = (
            sorted(k for k in after if after[k] != before.get(k)) if current else sorted(after)
        )
        result = dict(changed=False, model_id=self.model_id, changed_fields=changed_fields)
        if current is None:
            self._verify_upstream(desired_params)
            if not self.check_mode:
                self.api.add_deployment(
                    dict(
                        model_name=self.name, litellm_params=desired_params, model_info=desired_info
                    )
                )
            result.update(changed=True, action="created")
        elif changed_fields:
            if set(changed_fields) & {"model", "api_base", "api_key", "mode"}:
                self._verify_upstream(desired_params)
            if not self.check_mode:
                self._update(current, desired_params, desired_info)
            result.update(changed=True, action="updated")
        else:
            result.update(action="none")
        if unmanaged:
            if not self.check_mode:
                for d in unmanaged:
                    self.api.delete_deployment(d["model_info"]["id"])
            result.update(changed=True, replaced=[d["model_info"]["id"] for d in unmanaged])
        result["diff"] = dict(before=_shown(before) if current else {}, after=_shown(after))
        result["model"] = summary(
            dict(model_name=self.name, litellm_params=desired_params, model_info=desired_info)
        )
        return result

    def _update(self, current, params, info):
        dropped = [
            limit
            for limit in ("rpm", "tpm")
            if (current.get("litellm_params") or {}).get(limit) is not None and limit not in params
        ]
        if dropped:
            # LiteLLM's PATCH ignores nulls, so a limit can only be lifted by writing the
            # deployment anew (same id: keys and clients see no difference).
            self.api.delete_deployment(self.model_id)
            self.api.add_deployment(
                dict(model_name=self.name, litellm_params=params, model_info=info)
            )
        else:
            self.api.patch_deployment(self.model_id, dict(litellm_params=params, model_info=info))

    def _desired(self, current):
        upstream_model = self.p.get("upstream_model")
        if not upstream_model:
            cur_params = (current or {}).get("litellm_params") or {}
            same_base = (cur_params.get("api_base") or "").rstrip("/") == self.p["api_base"].rstrip(
                "/"
            )
            if current is not None and same_base and "/" in (cur_params.get("model") or ""):
                # Already discovered for this api_base: do not ask the upstream on every run.
                upstream_model = cur_params["model"].split("/", 1)[1]
            else:
                upstream_model = discover_upstream_model(self._upstream(), self.name)
        params = dict(
            model="%s/%s" % (self.p["provider"], upstream_model),
            api_base=self.p["api_base"].rstrip("/"),
        )
        if self.p.get("api_key"):
            params["api_key"] = self.p["api_key"]
        for limit in ("rpm", "tpm"):
            if self.p.get(limit) is not None:
                params[limit] = self.p[limit]
        info = {
            "id": self.model_id,
            "mode": self.p["mode"],
            MANAGED_TAG: True,
            FINGERPRINT_TAG: fingerprint(self.model_id, self.p.get("api_key")),
        }
        return params, info

    def _verify_upstream(self, params):
        if not self.p.get("verify"):
            return
        upstream_model = params["model"].split("/", 1)[1]
        try:
            self._upstream().probe(upstream_model, self.p["mode"], prefix="")
        except LiteLLMError as exc:
            if exc.permanent:
                raise  # its message names the cause; it is not that the upstream did not answer
            raise ModelError(
                "the upstream did not answer a %s request for %s, so the model was not "
                "registered: %s" % (self.p["mode"], upstream_model, exc)
            ) from None

    # -- absent ----------------------------------------------------------------------------------
    def absent(self):
        current, others = self._split()
        doomed = ([current] if current else []) + [
            d for d in others if (d.get("model_info") or {}).get("db_model", True)
        ]
        if len(doomed) < len(others) + (1 if current else 0):
            self.warnings.append(
                "public name %s has deployment(s) from LiteLLM's config file; only the stored ones "
                "were removed" % self.name
            )
        if not self.check_mode:
            for d in doomed:
                self.api.delete_deployment(d["model_info"]["id"])
        return dict(
            changed=bool(doomed),
            model_id=self.model_id,
            action="deleted" if doomed else "none",
            deleted=[d["model_info"]["id"] for d in doomed],
            diff=dict(before=summary(current) if current else {}, after={}),
        )


def _shown(comparable):
    shown = dict(comparable)
    shown["api_key"] = "(fingerprint %s)" % (shown["api_key"][-8:] if shown["api_key"] else "none")
    return shown
