#!/usr/bin/env bash
# Installs the LiteLLM runtime for the sandbox into a cache outside the repository:
#   $LITEMAAS_CACHE/litellm (default ~/.cache/litemaas-controller/litellm)
#     venv/            litellm[proxy]==1.108.7 + prisma==0.15.0, with the Prisma client
#                      generated from LiteLLM's schema.prisma
#     engine/          npm packages of the query-engine stand-in (engine/package-lock.json)
#     prisma-cli/      the Prisma CLI that prisma-client-py fetches for `prisma generate`
#     installed        marker: written last, read by runtime.locate()
# Idempotent: every step checks what is there first; a warm run only checks.
# Needs python3 (3.11+), node (18+) and npm, and PostgreSQL 15's client and server
# (installed with apt when missing and running as root).
set -euo pipefail

LITELLM_VERSION=1.108.7
PRISMA_PY_VERSION=0.15.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOME_DIR="${LITEMAAS_CACHE:-$HOME/.cache/litemaas-controller}/litellm"
VENV="$HOME_DIR/venv"
PG_BIN=/usr/lib/postgresql/15/bin

say() { printf 'litellm runtime: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

mkdir -p "$HOME_DIR"
# One installer at a time: tests and `make` may race to install.
exec 9>"$HOME_DIR/.install.lock"
flock 9

ensure_tools() {
    command -v python3 >/dev/null || die "python3 is required"
    command -v node >/dev/null || die "node (18 or later) is required"
    command -v npm >/dev/null || die "npm is required"
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 18 ] || die "node $major is too old; 18 or later is required"
    if [ ! -x "$PG_BIN/postgres" ] || ! command -v psql >/dev/null; then
        [ "$(id -u)" = 0 ] || die "PostgreSQL 15 is missing: apt-get install postgresql-15"
        say "installing PostgreSQL 15 with apt"
        if ! apt-get install -y --no-install-recommends postgresql-15 >/dev/null; then
            apt-get update >/dev/null
            apt-get install -y --no-install-recommends postgresql-15 >/dev/null
        fi
    fi
}

installed_version() {  # the version of a distribution in the venv, or nothing
    "$VENV/bin/python" - "$1" 2>/dev/null <<'EOF' || true
import importlib.metadata, sys
try:
    print(importlib.metadata.version(sys.argv[1]))
except importlib.metadata.PackageNotFoundError:
    pass
EOF
}

ensure_venv() {
    local stamp
    stamp="$(sha256sum "$HERE/constraints.txt" | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] \
        && [ "$(installed_version litellm)" = "$LITELLM_VERSION" ] \
        && [ "$(installed_version prisma)" = "$PRISMA_PY_VERSION" ] \
        && [ "$(cat "$HOME_DIR/venv.stamp" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    say "creating the LiteLLM venv (litellm[proxy]==$LITELLM_VERSION, prisma==$PRISMA_PY_VERSION)"
    rm -f "$HOME_DIR/installed" "$HOME_DIR/generated.stamp"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    # pip's output goes to a log: the machine's pip configuration is chatty.
    if ! "$VENV/bin/pip" install --disable-pip-version-check \
        --constraint "$HERE/constraints.txt" \
        "litellm[proxy]==$LITELLM_VERSION" "prisma==$PRISMA_PY_VERSION" \
        >"$HOME_DIR/pip.log" 2>&1; then
        tail -n 30 "$HOME_DIR/pip.log" >&2
        die "pip install failed (full log: $HOME_DIR/pip.log)"
    fi
    printf '%s' "$stamp" >"$HOME_DIR/venv.stamp"
}

ensure_node_modules() {
    local dir="$HOME_DIR/engine"
    mkdir -p "$dir"
    if [ -d "$dir/node_modules" ] \
        && cmp -s "$HERE/engine/package.json" "$dir/package.json" \
        && cmp -s "$HERE/engine/package-lock.json" "$dir/package-lock.json"; then
        return
    fi
    say "installing the query engine's npm packages"
    cp "$HERE/engine/package.json" "$HERE/engine/package-lock.json" "$dir/"
    # `npm ci`: exactly the committed lockfile (transitive versions and integrity
    # hashes included), from whatever registry npm is configured with.
    (cd "$dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
}

prisma_env() {
    # The same settings runtime.prisma_tool_env() gives the proxy.
    env PATH="$VENV/bin:$PATH" \
        PRISMA_QUERY_ENGINE_BINARY="$HERE/engine/query-engine" \
        PRISMA_SCHEMA_ENGINE_BINARY="$HERE/engine/schema-engine" \
        PRISMA_BINARY_CACHE_DIR="$HOME_DIR/prisma-cli" \
        PRISMA_NODEENV_CACHE_DIR="$HOME_DIR/nodeenv" \
        PRISMA_HOME_DIR="$HOME_DIR" \
        PRISMA_USE_GLOBAL_NODE=true \
        PRISMA_HIDE_UPDATE_MESSAGE=true \
        CHECKPOINT_DISABLE=1 \
        LITEMAAS_ENGINE_NODE_MODULES="$HOME_DIR/engine/node_modules" \
        "$@"
}

ensure_client() {
    local site schema stamp
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    schema="$site/litellm/proxy/schema.prisma"
    [ -f "$schema" ] || die "LiteLLM's schema.prisma is missing from $site"
    stamp="$(sha256sum "$schema" | cut -d' ' -f1) $PRISMA_PY_VERSION"
    if [ -f "$site/prisma/client.py" ] && [ "$(cat "$HOME_DIR/generated.stamp" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    say "generating the Prisma client from LiteLLM's schema"
    # cwd matters: prisma-client-py reads [tool.prisma] from ./pyproject.toml.
    (cd "$HOME_DIR" && prisma_env "$VENV/bin/prisma" generate --schema "$schema" >/dev/null)
    printf '%s' "$stamp" >"$HOME_DIR/generated.stamp"
}

check_engine() {
    local version
    version="$("$HERE/engine/query-engine" --version)"
    [ "$version" = "query-engine 393aa359c9ad4a4bb28630fb5613f9c281cde053" ] \
        || die "the query-engine stand-in answered '$version'"
}

ensure_tools
ensure_venv
ensure_node_modules
ensure_client
check_engine
printf 'litellm %s\nprisma %s\n' "$LITELLM_VERSION" "$PRISMA_PY_VERSION" >"$HOME_DIR/installed"
say "ready in $HOME_DIR"
