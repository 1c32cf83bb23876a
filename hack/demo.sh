#!/usr/bin/env bash
# `make demo`: the product's main job on the embedded defaults. Brings up the sandbox cluster,
# starts the controller (SQLite ledger under .sandbox/controller) with its own Redis for
# model-change messages, submits a signed provision order, follows it to the end and prints how to
# reach the instance; with real workloads it also starts a model server for the README's tour.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-aws}
instance=${INSTANCE:-demo}
dir=${SANDBOX_DIR:-.sandbox}
bin=.venv/bin
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { "$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token() { "$bin/python" -c 'import secrets; print(secrets.token_hex(32))'; }

say "sandbox cluster ($profile)"
real=()
[[ ${REAL:-0} == 1 ]] && real=(--real)
"$bin/python" -m sandbox --dir "$dir" up --profile "$profile" "${real[@]}"
# shellcheck disable=SC1091
source "$dir/env"
domain=$("$bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['domain'])" "$dir/info.json")

state="$dir/controller"
mkdir -p "$state"
# generated once, each line when it is missing; DEMO_MODEL_KEY is the demo model server's API key
(
  umask 077
  touch "$state/credentials.env"
  for name in LITEMAAS_WEBHOOK_SECRET LITEMAAS_API_TOKEN LITEMAAS_REDIS_URL DEMO_MODEL_KEY; do
    grep -q "^export $name=" "$state/credentials.env" && continue
    value=$(token)
    # redis-cli -u needs the user's name with the password: Redis's built-in user "default"
    [[ $name == LITEMAAS_REDIS_URL ]] && value="redis://default:$value@127.0.0.1:$(free_port)/0"
    echo "export $name=$value" >>"$state/credentials.env"
  done
)
# shellcheck disable=SC1091
source "$state/credentials.env"

# the controller's own Redis (never LiteMaaS's), persistent as docs/messages.md asks; its password
# stays in files (mode 0600), never on a command line
[[ $LITEMAAS_REDIS_URL =~ ^redis://default:([^@]+)@127\.0\.0\.1:([0-9]+)/0$ ]]
redis_password=${BASH_REMATCH[1]} redis_port=${BASH_REMATCH[2]}
redis_up() { REDISCLI_AUTH=$redis_password redis-cli -p "$redis_port" ping >/dev/null 2>&1; }
if ! redis_up; then
  say "Redis for model-change messages"
  redis_dir=$(mkdir -p "$state/redis" && cd "$state/redis" && pwd)
  (
    umask 077
    printf '%s\n' "bind 127.0.0.1" "port $redis_port" "requirepass $redis_password" \
      "dir $redis_dir" "appendonly yes" "appendfsync always" 'save ""' "daemonize yes" \
      "pidfile $redis_dir/pid" "logfile $redis_dir/log" >"$redis_dir/redis.conf"
  )
  redis-server "$redis_dir/redis.conf"
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
fi
port_file="$state/port"
if [[ -f $state/pid ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
  say "controller already running (pid $(cat "$state/pid"))"
else
  say "controller"
  port=$(free_port)
  echo "$port" >"$port_file"
  # plain HTTP on the loopback: the status page's session cookie is not Secure here
  LITEMAAS_LISTEN=127.0.0.1:$port LITEMAAS_STATE_DIR="$state" LITEMAAS_UI_SCHEME=http \
    nohup "$bin/litemaas-controller" serve >"$state/controller.log" 2>&1 &
  echo $! >"$state/pid"
fi
export LITEMAAS_URL="http://127.0.0.1:$(cat "$port_file")"
for _ in $(seq 100); do
  curl -fsS "$LITEMAAS_URL/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$LITEMAAS_URL/readyz" >/dev/null || { tail -20 "$state/controller.log"; exit 1; }
echo "listening on $LITEMAAS_URL (log: $state/controller.log)"

say "signed provision order for instance '$instance'"
vars=()
[[ $profile == vanilla ]] && vars=(--var "ocp4_workload_litemaas_cluster_domain=$domain")
"$bin/litemaas-controller" order submit --id "demo-$instance-provision" --action provision \
  --instance "$instance" "${vars[@]}" --follow

say "access"
"$bin/litemaas-controller" instances show "$instance" | tee "$state/instance-$instance.json"
"$bin/litemaas-controller" instances credentials "$instance"
if [[ ${REAL:-0} == 1 ]]; then
  say "LiteLLM (the real proxy, reached through the sandbox's router)"
  "$bin/python" hack/demo_litellm_access.py "$dir" "$state" "$state/instance-$instance.json" || true
  say "a model server for the tour (namespace models)"
  hack/demo_model_server.sh "litemaas-$instance"
fi
cat <<EOT

The controller keeps running: LITEMAAS_URL=$LITEMAAS_URL, credentials in $state/credentials.env.
  Model-change messages: redis-cli -u \$LITEMAAS_REDIS_URL XADD litemaas:changes ... (docs/messages.md)
  Status page: $LITEMAAS_URL/ui/ (log in with LITEMAAS_API_TOKEN from credentials.env)
  source $dir/env; kubectl get all -n litemaas-$instance
  make sandbox-down      # stops the controller and the sandbox
EOT
