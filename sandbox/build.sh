#!/usr/bin/env bash
# Build kube-apiserver and kube-controller-manager v1.20.2 from Debian bookworm's `kubernetes`
# source package, offline (no Go module downloads), into a cache outside the repository.
# Idempotent: exits at once when the binaries are already there.
#   usage: build.sh [CACHE_DIR]     (default: ~/.cache/litemaas-controller)
set -euo pipefail

cache=${1:-${LITEMAAS_CACHE:-$HOME/.cache/litemaas-controller}}
out="$cache/k8s-v1.20.2/bin"
if [[ -x $out/kube-apiserver && -x $out/kube-controller-manager ]]; then
  echo "sandbox: kubernetes binaries cached in $out"
  exit 0
fi

say() { printf '\033[1msandbox build:\033[0m %s\n' "$*" >&2; }
need_pkgs=(golang-1.19-go rsync dpkg-dev etcd-server golang-github-modern-go-reflect2-dev
           golang-github-json-iterator-go-dev)
missing=()
for p in "${need_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work="$cache/k8s-build"
mkdir -p "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'kubernetes-1.20*' | head -n1)
if [[ -z $src ]]; then
  # A private apt configuration with deb-src entries derived from this machine's own sources, so
  # the system's apt state is untouched and no mirror is written anywhere in the repository.
  apt_dir="$work/apt"
  mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] || continue
    sed -E 's/^Types:.*/Types: deb deb-src/' "$f" >"$apt_dir/sources.list.d/$(basename "$f")"
  done
  if [[ -f /etc/apt/sources.list ]]; then
    grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >"$apt_dir/sources.list.d/src.list" || true
  fi
  apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
            -o "Dir::State::Lists=$apt_dir/lists")
  say "fetching the kubernetes source package (bookworm)"
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" source -qq kubernetes/bookworm >/dev/null)
  src=$(find "$work" -maxdepth 1 -type d -name 'kubernetes-1.20*' | head -n1)
fi
[[ -n $src ]] || { echo "sandbox build: kubernetes source not found in $work" >&2; exit 1; }

# Go >= 1.18 and the vendored reflect2 1.0.1 / json-iterator 1.1.10 panic on the first
# custom-resource write: use Debian's newer sources of both.
for pair in "github.com/modern-go/reflect2" "github.com/json-iterator/go"; do
  dst="$src/vendor/$pair"
  if [[ ! -e $dst/.replaced ]]; then
    say "replacing vendored $pair"
    rm -rf "$dst"; mkdir -p "$dst"
    cp -r "/usr/share/gocode/src/$pair/." "$dst/"
    touch "$dst/.replaced"
  fi
done

export PATH=/usr/lib/go-1.19/bin:$PATH GO111MODULE=off GOPROXY=off CGO_ENABLED=0 GOFLAGS=
export GOCACHE="$cache/go-cache"
cd "$src"
if [[ ! -e .generated ]]; then
  say "generating code (1-2 min)"
  make generated_files >"$work/generated.log" 2>&1 || { tail -40 "$work/generated.log" >&2; exit 1; }
  touch .generated
fi
say "compiling kube-apiserver and kube-controller-manager (~4 min cold)"
# `make` prints almost nothing while Go compiles: show a heartbeat with the Go cache's growth.
(
  start=$SECONDS
  while sleep 20; do
    say "still compiling: $((SECONDS - start)) s, Go cache $(du -sm "$GOCACHE" 2>/dev/null | cut -f1) MB"
  done
) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" 2>&1 | tee "$work/build.log" |
  sed -u 's/^/  /' >&2
kill $ticker 2>/dev/null || true
mkdir -p "$out"
for b in kube-apiserver kube-controller-manager; do
  cp "$(find _output -type f -name "$b" -perm -u+x | head -n1)" "$out/$b"
done
say "done: $out"
