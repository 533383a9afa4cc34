#!/usr/bin/env bash
# shellcheck disable=SC2317 # functions below run from traps and from wait_ready, which shellcheck cannot follow
# Runs the whole stack on this machine without Docker: NATS (JetStream), Redis, the sandbox (fake Telnyx), the
# ingress and WORKERS workers. State and logs go to .run/ (git-ignored). Ctrl-C stops everything, newest first.
#
#   make run                      # builds bin/* and bin/nats-server, then runs this script
#   WORKERS=3 deploy/run-local.sh
#   NATS_URL=nats://127.0.0.1:4222 REDIS_URL=redis://127.0.0.1:6379/0 deploy/run-local.sh   # use your own
#
# Ports default away from the standard ones (NATS 4223, Redis 6380) because a system NATS or Redis may already
# listen on 4222/6379, and a system NATS may be older than the 2.11 the workers need.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN_DIR="$ROOT/.run"
BIN="$ROOT/bin"

# Development-only key pair: the sandbox signs webhooks with the seed, the ingress verifies with the public key.
DEV_SEED="iQ8P2D08rTwo92xEJdrUj6uHF3UqU4HFnujmcgSrOOM="
DEV_PUBLIC_KEY="umCOc2VjdNEpjmkjvhPR0+YcQJV0knfDre221Ooeh3c="

WORKERS="${WORKERS:-1}"
NATS_PORT="${NATS_PORT:-4223}"
NATS_MONITOR_PORT="${NATS_MONITOR_PORT:-8223}"
REDIS_PORT="${REDIS_PORT:-6380}"
INGRESS_PORT="${INGRESS_PORT:-8080}"
SANDBOX_PORT="${SANDBOX_PORT:-8090}"
WORKER_METRICS_BASE="${WORKER_METRICS_BASE:-9091}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"

export TELNYX_PHONE_NUMBER="${TELNYX_PHONE_NUMBER:-+12125550100}"
export NATS_PARTITIONS="${NATS_PARTITIONS:-16}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
export LOG_FORMAT="${LOG_FORMAT:-text}"
ADMIN_TOKEN="${ADMIN_TOKEN:-dev-token}"

log() { printf '[run-local] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if ! [[ "$WORKERS" =~ ^[1-9][0-9]*$ ]]; then
	die "WORKERS=$WORKERS: want a positive number"
fi
for b in ingress worker sandbox; do
	[[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run 'make build' (or 'make run')"
done
command -v curl >/dev/null || die "curl is needed for the readiness checks (apt-get install -y curl)"

mkdir -p "$RUN_DIR"

# Processes we started, in start order; stopped in reverse.
NAMES=()
PIDS=()

stop_all() {
	local i pid name deadline
	trap - INT TERM EXIT
	((${#PIDS[@]} == 0)) && return 0
	log "stopping..."
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid="${PIDS[i]}"
		name="${NAMES[i]}"
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null || true
		# Each process gets its own grace period, so the ingress has stopped taking work before the workers
		# drain and before NATS and Redis go away.
		deadline=$((SECONDS + 15))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) did not stop in 15s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		log "stopped $name"
	done
	PIDS=()
	NAMES=()
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_free_port() {
	local port="$1" what="$2"
	if port_in_use "$port"; then
		die "port $port (for $what) is already in use: stop what listens there or set the matching *_PORT variable"
	fi
}

# Children run in their own session when setsid exists, so the terminal's Ctrl-C reaches only this script and
# stop_all can stop them in order (Go programs re-enable the SIGINT that bash ignores for background jobs).
SETSID=()
command -v setsid >/dev/null && SETSID=(setsid)

# start NAME LOGFILE CMD... runs CMD in the background with its output in LOGFILE.
start() {
	local name="$1" logfile="$2"
	shift 2
	"${SETSID[@]}" "$@" >"$logfile" 2>&1 </dev/null &
	PIDS+=("$!")
	NAMES+=("$name")
	log "started $name (pid $!), log: ${logfile#"$ROOT"/}"
}

# wait_ready NAME CHECK... polls CHECK until it succeeds, the process exits, or READY_TIMEOUT passes.
wait_ready() {
	local name="$1"
	shift
	local pid="${PIDS[${#PIDS[@]} - 1]}"
	local deadline=$((SECONDS + READY_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited during start-up; last lines of its log:"
			tail -n 20 "$RUN_DIR/$name.log" >&2 || true
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "$name not ready after ${READY_TIMEOUT}s; last lines of its log:"
			tail -n 20 "$RUN_DIR/$name.log" >&2 || true
			exit 1
		fi
		sleep 0.2
	done
	log "$name is ready"
}

http_ok() { curl -fsS --max-time 2 -o /dev/null "$1"; }

redis_ping() {
	if command -v redis-cli >/dev/null; then
		[[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]
	else
		local reply
		exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
		printf 'PING\r\n' >&3
		read -r -t 2 reply <&3 || true
		exec 3>&-
		[[ "$reply" == +PONG* ]]
	fi
}

# Check every port before starting anything, so a clash does not leave half a stack starting and stopping.
[[ -n "${NATS_URL:-}" ]] || { require_free_port "$NATS_PORT" "NATS"; require_free_port "$NATS_MONITOR_PORT" "NATS monitoring"; }
[[ -n "${REDIS_URL:-}" ]] || require_free_port "$REDIS_PORT" "Redis"
require_free_port "$SANDBOX_PORT" "sandbox"
require_free_port "$INGRESS_PORT" "ingress"
for ((i = 1; i <= WORKERS; i++)); do
	require_free_port "$((WORKER_METRICS_BASE + i - 1))" "worker-$i metrics"
done

# --- NATS --------------------------------------------------------------------------------------------------
if [[ -n "${NATS_URL:-}" ]]; then
	log "using NATS at $NATS_URL"
else
	NATS_SERVER="${NATS_SERVER:-$BIN/nats-server}"
	[[ -x "$NATS_SERVER" ]] || die "$NATS_SERVER is missing: run 'make nats-server' (builds NATS 2.11+ from its Go module)"
	mkdir -p "$RUN_DIR/nats"
	start nats "$RUN_DIR/nats.log" "$NATS_SERVER" -js -sd "$RUN_DIR/nats" -a 127.0.0.1 -p "$NATS_PORT" \
		-m "$NATS_MONITOR_PORT"
	# /healthz turns 200 only once JetStream has recovered its streams.
	wait_ready nats http_ok "http://127.0.0.1:$NATS_MONITOR_PORT/healthz"
	NATS_URL="nats://127.0.0.1:$NATS_PORT"
fi
export NATS_URL

# --- Redis -------------------------------------------------------------------------------------------------
if [[ -n "${REDIS_URL:-}" ]]; then
	log "using Redis at $REDIS_URL"
else
	command -v redis-server >/dev/null || die "redis-server not found: apt-get install -y redis-server (or set REDIS_URL)"
	mkdir -p "$RUN_DIR/redis"
	start redis "$RUN_DIR/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" \
		--appendonly yes --appendfsync everysec --save ""
	wait_ready redis redis_ping "$REDIS_PORT"
	REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
fi
export REDIS_URL

# --- sandbox (fake Telnyx) ---------------------------------------------------------------------------------
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
INGRESS_URL="http://127.0.0.1:$INGRESS_PORT"
start sandbox "$RUN_DIR/sandbox.log" env \
	SANDBOX_ADDR="127.0.0.1:$SANDBOX_PORT" \
	SANDBOX_PRIVATE_KEY="${SANDBOX_PRIVATE_KEY:-$DEV_SEED}" \
	INGRESS_WEBHOOK_URL="$INGRESS_URL/webhooks/sms" \
	"$BIN/sandbox" serve
wait_ready sandbox http_ok "$SANDBOX_URL/healthz"

# --- ingress -----------------------------------------------------------------------------------------------
start ingress "$RUN_DIR/ingress.log" env \
	HTTP_ADDR="127.0.0.1:$INGRESS_PORT" \
	TELNYX_PUBLIC_KEY="${TELNYX_PUBLIC_KEY:-$DEV_PUBLIC_KEY}" \
	ADMIN_TOKEN="$ADMIN_TOKEN" \
	"$BIN/ingress"
wait_ready ingress http_ok "$INGRESS_URL/healthz"

# --- workers -----------------------------------------------------------------------------------------------
for ((i = 1; i <= WORKERS; i++)); do
	port=$((WORKER_METRICS_BASE + i - 1))
	start "worker-$i" "$RUN_DIR/worker-$i.log" env \
		METRICS_ADDR="127.0.0.1:$port" \
		TELNYX_API_URL="${TELNYX_API_URL:-$SANDBOX_URL/v2}" \
		TELNYX_API_KEY="${TELNYX_API_KEY:-sandbox}" \
		WORKER_ID="local-$i" \
		"$BIN/worker"
	wait_ready "worker-$i" http_ok "http://127.0.0.1:$port/healthz"
done

cat <<EOF

smsconv is running (logs in .run/*.log; Ctrl-C stops everything).

  ingress   $INGRESS_URL   (webhooks: $INGRESS_URL/webhooks/sms, metrics: $INGRESS_URL/metrics)
  sandbox   $SANDBOX_URL   (fake Telnyx API: $SANDBOX_URL/v2/messages)
  workers   $WORKERS, metrics on 127.0.0.1:$WORKER_METRICS_BASE..$((WORKER_METRICS_BASE + WORKERS - 1))
  NATS      $NATS_URL
  Redis     $REDIS_URL

Try:
  bin/sandbox say --url $SANDBOX_URL hello
  curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' $INGRESS_URL/conversations
  curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' $INGRESS_URL/dead-letters

EOF

# Block until Ctrl-C, or until one of the processes dies: then stop the rest rather than run half a stack.
set +e
wait -n "${PIDS[@]}"
status=$?
set -e
for ((i = 0; i < ${#PIDS[@]}; i++)); do
	if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
		log "${NAMES[i]} exited (status $status); last lines of its log:"
		tail -n 20 "$RUN_DIR/${NAMES[i]}.log" >&2 || true
	fi
done
exit 1
