#!/usr/bin/env bash
# Install what a fresh Debian machine lacks for `make test` / `make demo`: Debian packages, the
# project's virtual environment (.venv) and the Ansible collections it needs. Slow downloads are
# cached under $LITEMAAS_CACHE (default ~/.cache/litemaas-controller); a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${LITEMAAS_CACHE:-$HOME/.cache/litemaas-controller}
venv=${VENV:-.venv}
python=${PYTHON:-python3}
say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
mkdir -p "$cache"

# Debian packages: etcd for the sandbox, Redis for the message intake, PostgreSQL 15 for real
# workloads, iproute2/util-linux for pod network and mount namespaces, Java 17 for ansible-rulebook.
apt_pkgs=(etcd-server redis-server postgresql-15 postgresql-client-15 iproute2 util-linux openssl rsync
  openjdk-17-jre-headless)
# The status page's browser tests: Debian's chromium, which Playwright drives.
apt_pkgs+=(chromium)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # Debian's postinst scripts start default instances of some servers; the project never uses them.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The project's virtual environment with the sandbox's package, rebuilt when either's
# pyproject.toml changes.
stamp="$venv/.installed-$(cat pyproject.toml sandbox/pyproject.toml | sha256sum | cut -c1-16)"
if [[ ! -e $stamp ]]; then
  say "creating $venv and installing the project with its test, dev and eda extras, and the sandbox"
  [[ -x $venv/bin/python ]] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e '.[test,dev,eda]' -e ./sandbox
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi

# kubernetes.core: Galaxy is not reachable; the `ansible` package on the Python index carries it.
# Only that collection (about 1 MB) is taken out of the wheel and cached.
kc="$cache/collections/ansible_collections/kubernetes/core"
if [[ ! -e $kc/MANIFEST.json ]]; then
  say "extracting kubernetes.core 6.2.0 from the ansible 12.3.0 wheel"
  tmp=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$tmp" 'ansible==12.3.0'
  "$venv/bin/python" - "$tmp"/ansible-12.3.0-*.whl "$cache/collections" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("ansible_collections/kubernetes/core/")])
PY
  rm -rf "$tmp"
fi

# The oldest ansible-core the collection supports (2.16, with kubernetes.core 5), in a venv of its
# own: the template tests run the service's extra vars file with it too.
oldest="$cache/ansible-2.16"
if [[ ! -e $oldest/collections/ansible_collections/kubernetes/core/MANIFEST.json ]]; then
  say "creating the oldest supported Ansible (ansible-core 2.16) in $oldest"
fi
flock "$cache/ansible-2.16.lock" tests/integration/collection/make_oldest_env.sh "$oldest" >/dev/null

# schemathesis, which fuzzes the served OpenAPI document in the suite (test_schemathesis.py), in a
# venv of its own: its pytest plugin and hypothesis stay out of the project's test environment.
st="$cache/schemathesis-4"
if [[ ! -x $st/bin/schemathesis ]]; then
  say "installing schemathesis 4 in $st"
  "$python" -m venv "$st"
  "$st/bin/pip" install -q 'schemathesis>=4.32,<5'
fi

# The collections path of this checkout: kubernetes.core from the cache, rhpds.litemaas = this tree.
coll="$venv/collections/ansible_collections"
mkdir -p "$coll/kubernetes" "$coll/rhpds"
ln -sfn "$kc" "$coll/kubernetes/core"
ln -sfn "$(pwd)" "$coll/rhpds/litemaas"
# An installed copy elsewhere (ansible-galaxy collection install) can shadow this tree for tools
# that search their own paths first (ansible-lint does): say so rather than lint stale code.
for other in "$HOME/.ansible/collections" /usr/share/ansible/collections; do
  if [ -d "$other/ansible_collections/rhpds/litemaas" ]; then
    say "warning: $other/ansible_collections/rhpds/litemaas is another copy of this collection;" \
      "ansible-lint may read it instead of this tree (remove it, or install from here)"
  fi
done
# axe-core, pinned, for the status page's accessibility scans (tests/integration/ui), by the
# machine's npm client.
axe="$cache/axe-core-4.14.1"
if [[ ! -e $axe/node_modules/axe-core/axe.min.js ]]; then
  command -v npm >/dev/null || { say "npm is missing: install Node.js and npm for axe-core"; exit 1; }
  say "installing axe-core 4.14.1 into $axe"
  npm install --silent --no-audit --no-fund --prefix "$axe" axe-core@4.14.1 >/dev/null
fi
say "ready"
