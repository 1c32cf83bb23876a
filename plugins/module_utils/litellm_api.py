# Copyright: litemaas-controller developers
# MIT License
"""A small client for LiteLLM's admin API, built on ansible's ``open_url``.

``open_url`` honours the standard proxy variables (``https_proxy``, ``no_proxy``) and takes
``validate_certs`` / ``ca_path`` the way every Ansible HTTP module does. Errors are mapped to one
exception, :class:`LiteLLMError`, that carries LiteLLM's own envelope
(``{"error": {"message", "type", "param", "code"}}``, or FastAPI's ``{"detail": ...}``) and a
message that says what to do next. No method logs or returns a key; callers decide what to report.
"""

import json

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import open_url

DEFAULT_TIMEOUT = 60


class LiteLLMError(Exception):
    """A request to LiteLLM (or to an upstream) failed.

    ``status`` is the HTTP status (0 when no answer came back), ``kind`` LiteLLM's error ``type``.
    """

    def __init__(self, message, status=0, kind=None, body=None, permanent=False):
        super(LiteLLMError, self).__init__(message)
        self.status = status
        self.kind = kind
        self.body = body
        self.permanent = permanent  # no retry can fix it (see litellm_failure)


class Reply:
    def __init__(self, status, body):
        self.status = status
        self.body = body

    @property
    def ok(self):
        return 200 <= self.status < 300


def error_text(body):
    """LiteLLM's error message and type from any of the shapes it answers with."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message", err)), err.get("type")
        if err is not None:
            return str(err), None
        detail = body.get("detail")
        if isinstance(detail, dict):
            inner = detail.get("error", detail)
            return str(inner), None
        if detail is not None:
            return str(detail), None
    return str(body)[:500], None


def _parse(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


class HttpClient:
    """JSON over HTTP with a bearer key; ``base_url`` without a trailing slash."""

    auth_hint = " The key was refused: check the master key (or the Secret it is read from)."
    #: ansible's open_url: "safe" follows redirects of GET and HEAD
    follow_redirects = "safe"

    def __init__(self, base_url, key=None, validate_certs=True, ca_path=None, timeout=None):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout or DEFAULT_TIMEOUT

    def request(self, method, path, body=None, query=None, key=None):
        """One request; returns a :class:`Reply` for every HTTP answer, raises only when no
        answer came back."""
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        bearer = key if key is not None else self.key
        if bearer:
            self._check_key(bearer)
            headers["Authorization"] = "Bearer " + bearer
        try:
            response = open_url(
                url,
                data=data,
                headers=headers,
                method=method,
                validate_certs=self.validate_certs,
                ca_path=self.ca_path,
                timeout=self.timeout,
                follow_redirects=self.follow_redirects,
            )
            return Reply(response.getcode(), _parse(response.read()))
        except HTTPError as exc:
            return Reply(exc.code, _parse(exc.read()))
        except (URLError, OSError, ValueError) as exc:
            raise LiteLLMError(
                "%s %s: no answer (%s). Check the URL, that LiteLLM is running and reachable from "
                "where the task runs, and validate_certs/ca_path." % (method, self.base_url, exc)
            ) from None

    def _check_key(self, key):
        """A key with a line break or another control character can never be sent as a header
        (``http.client`` refuses it before connecting): say so instead of "no answer"."""
        if has_control_chars(key):
            raise LiteLLMError(
                "the key for %s holds a line break or another control character (a trailing "
                "newline is common when a Secret is written from 'echo' or a file): store it "
                "without one" % self.base_url,
                permanent=True,
            )

    def call(self, method, path, body=None, query=None, key=None, what=None):
        """Like :meth:`request` but raises :class:`LiteLLMError` on any non-2xx answer."""
        reply = self.request(method, path, body=body, query=query, key=key)
        if reply.ok:
            return reply.body
        message, kind = error_text(reply.body)
        hint = ""
        if reply.status == 401:
            hint = self.auth_hint
        elif 300 <= reply.status < 400:
            hint = (
                " Redirects are not followed, so the key goes only to the URL given: use the URL "
                "it redirects to."
            )
        raise LiteLLMError(
            "%s failed with HTTP %s%s: %s.%s"
            % (
                what or (method + " " + path),
                reply.status,
                " (%s)" % kind if kind else "",
                message,
                hint,
            ),
            status=reply.status,
            kind=kind,
            body=reply.body,
        )

    def probe(self, model, mode, key=None, prefix="/v1"):
        """One tiny request for ``model`` through the proxy (or, with ``prefix=""``, straight to an
        upstream whose base URL already ends in ``/v1``); raises on failure."""
        path, body = probe_request(model, mode)
        self.call(
            "POST",
            prefix + path,
            body=body,
            key=key,
            what="a %s request to model %s" % (mode, model),
        )


class Upstream(HttpClient):
    """An OpenAI-compatible model server (``base_url`` ends in ``/v1``)."""

    auth_hint = " The upstream refused the key: check api_key (or the Secret it comes from)."
    #: the key goes to api_base and nowhere else: a redirect (which would carry the bearer key to
    #: whatever host it names, even for "safe") is an answer, not followed
    follow_redirects = "none"


class LiteLLM(HttpClient):
    """The admin endpoints the collection uses; they exist from LiteLLM 1.74 to 1.108."""

    # Models -----------------------------------------------------------------------------------
    def deployments(self, key=None):
        """Every deployment the proxy has (``/model/info``), credentials never included."""
        reply = self.request("GET", "/model/info", key=key)
        if reply.status == 500 and _no_models_yet(reply.body):
            return []
        if not reply.ok:
            message, kind = error_text(reply.body)
            raise LiteLLMError(
                "listing models (GET /model/info) failed with HTTP %s: %s"
                % (reply.status, message),
                status=reply.status,
                kind=kind,
            )
        return list((reply.body or {}).get("data") or [])

    def public_model_names(self):
        body = self.call("GET", "/v1/models", what="listing the served models (GET /v1/models)")
        return sorted({m.get("id") for m in (body or {}).get("data") or [] if m.get("id")})

    def stored_deployment(self, model_id, key=None):
        """``/v2/model/info?modelId=``: a deployment the router does not serve is read from the
        database and decrypted with the key the proxy runs with (a value it cannot decrypt is
        shown as the ciphertext). ``None`` when no such deployment is found."""
        body = self.call(
            "GET",
            "/v2/model/info",
            query={"modelId": model_id},
            key=key,
            what="reading model %s (GET /v2/model/info)" % model_id,
        )
        found = [d for d in (body or {}).get("data") or [] if isinstance(d, dict)]
        return found[0] if found else None

    def add_deployment(self, deployment, key=None):
        return self.call(
            "POST", "/model/new", body=deployment, key=key, what="adding a model (/model/new)"
        )

    def patch_deployment(self, model_id, patch):
        return self.call(
            "PATCH", "/model/%s/update" % model_id, body=patch, what="updating model %s" % model_id
        )

    def delete_deployment(self, model_id, key=None):
        return self.call(
            "POST",
            "/model/delete",
            body={"id": model_id},
            key=key,
            what="deleting model %s" % model_id,
        )

    # Keys -------------------------------------------------------------------------------------
    def keys_with_alias(self, alias):
        """Keys whose alias is exactly ``alias`` (full objects; ``token`` is the key's hash)."""
        body = self.call(
            "GET",
            "/key/list",
            query={"key_alias": alias, "return_full_object": "true", "size": 100},
            what="looking up key alias %s (/key/list)" % alias,
        )
        return [
            k
            for k in (body or {}).get("keys") or []
            if isinstance(k, dict) and k.get("key_alias") == alias
        ]

    def all_keys(self):
        found, page = [], 1
        while True:
            body = self.call(
                "GET",
                "/key/list",
                query={"return_full_object": "true", "size": 100, "page": page},
                what="listing keys (/key/list)",
            )
            batch = [k for k in (body or {}).get("keys") or [] if isinstance(k, dict)]
            found.extend(batch)
            if page >= int((body or {}).get("total_pages") or 1) or not batch:
                return found
            page += 1

    def generate_key(self, request):
        return self.call(
            "POST", "/key/generate", body=request, what="creating a key (/key/generate)"
        )

    def update_key(self, token, changes):
        body = dict(changes, key=token)
        return self.call("POST", "/key/update", body=body, what="updating a key (/key/update)")

    def delete_keys(self, tokens):
        return self.call(
            "POST", "/key/delete", body={"keys": list(tokens)}, what="deleting keys (/key/delete)"
        )

    def key_works(self, key):
        """True when the proxy accepts ``key`` (``/key/info`` with the key itself)."""
        reply = self.request("GET", "/key/info", key=key)
        if reply.ok:
            return True
        if reply.status in (400, 401, 403, 404):
            return False
        message, _ = error_text(reply.body)
        raise LiteLLMError(
            "checking a key (/key/info) failed with HTTP %s: %s" % (reply.status, message)
        )

    def master_key_works(self, key):
        reply = self.request("GET", "/model/info", key=key)
        if reply.ok or (reply.status == 500 and _no_models_yet(reply.body)):
            return True
        if reply.status in (400, 401, 403):
            return False
        message, _ = error_text(reply.body)
        raise LiteLLMError(
            "checking the master key failed with HTTP %s: %s" % (reply.status, message)
        )

    def rotate_master_key(self, new_master_key, key=None):
        """``/key/regenerate`` with the current master key (``key``, else the client's):
        re-encrypts stored credentials. The answer echoes the new key; it is dropped here."""
        current = key if key is not None else self.key
        self.call(
            "POST",
            "/key/regenerate",
            body={"key": current, "new_master_key": new_master_key},
            key=current,
            what="rotating the master key (/key/regenerate)",
        )


def has_control_chars(text):
    """True when ``text`` holds a line break, a tab or another control character."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def probe_request(model, mode):
    if mode == "embedding":
        return "/embeddings", {"model": model, "input": ["ping"]}
    if mode == "completion":
        return "/completions", {"model": model, "prompt": "ping", "max_tokens": 1}
    return "/chat/completions", {
        "model": model,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
    }


def _no_models_yet(body):
    # A proxy that never had a model answers /model/info with 500 "LLM Model List not loaded in"
    # (1.108.7), or similar text in other versions.
    message, _ = error_text(body)
    lowered = message.lower()
    return (
        "model list not loaded" in lowered
        or "no model" in lowered
        or "llm_router" in lowered
        or "router is not initialized" in lowered
    )
