#!/usr/bin/env bash
# Provision the oldest versions the collection claims, for test_oldest_supported.py:
# ansible-core 2.16 in its own venv, kubernetes.core 5.x taken out of the `ansible` 11 wheel (Galaxy
# is not reachable here; the wheel on the Python index carries the collection).
# Usage: tests/integration/collection/make_oldest_env.sh DIR
#   then: LITEMAAS_OLDEST_ENV=DIR pytest tests/integration/collection/test_oldest_supported.py
# hack/setup.sh makes one in $LITEMAAS_CACHE/ansible-2.16 (the template tests use its ansible-core).
set -euo pipefail
dir=$(realpath -m "${1:?usage: $0 DIR}")
mkdir -p "$dir"
[[ -x $dir/venv/bin/ansible-playbook ]] || {
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install -q 'ansible-core>=2.16,<2.17' 'kubernetes>=24.2'
}
core=$dir/collections/ansible_collections/kubernetes/core
[[ -e $core/MANIFEST.json ]] || {
  tmp=$(mktemp -d)
  "$dir/venv/bin/pip" download -q --no-deps --only-binary=:all: 'ansible>=11,<12' -d "$tmp"
  "$dir/venv/bin/python" - "$tmp"/ansible-11*.whl "$dir/collections" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("ansible_collections/kubernetes/core/")])
PY
  rm -rf "$tmp"
}
echo "ready: LITEMAAS_OLDEST_ENV=$dir"
