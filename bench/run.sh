#!/usr/bin/env bash
# bench/run.sh: every benchmark of autoassist in one run on this machine,
# then BENCHMARKS.md at the repository root (bench/report.py writes it).
#   bench/run.sh BUILD_DIR        (make bench: a Release build in build-bench/)
# Environment:
#   BENCH_SECONDS   measured seconds of each main WebSocket run (default 6)
#   BENCH_ROUNDS    rounds of the main WebSocket runs, each server's best
#                   kept (default 2)
#   BENCH_SHORT     measured seconds of the other runs (default 5)
#   BENCH_RATE_ROUNDS, BENCH_RATE_SECONDS
#                   rounds of the fixed-rate runs, each server's median
#                   kept (default 3), and their measured seconds (default 4)
#   BENCH_OUT       the report (default BENCHMARKS.md at the repository root)
#   BENCH_KEEP=1    keep the work directory (logs, raw results)
#
# Figures are printed and written, never judged: no run fails on a time.
# The script fails (exit 1) on errors: a server that crashes or does not
# start, a connection that fails or is closed, a malformed or error frame,
# a message sent and never answered, a ticket not stored. It still writes
# the report first, with the failures listed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build-bench}" && pwd)
SECONDS_MAIN=${BENCH_SECONDS:-6}
ROUNDS=${BENCH_ROUNDS:-2}
SECONDS_SHORT=${BENCH_SHORT:-5}
RATE_ROUNDS=${BENCH_RATE_ROUNDS:-3}
SECONDS_RATE=${BENCH_RATE_SECONDS:-4}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
AA=$BUILD/autoassist
WSLOAD=$BUILD/bench_wsload
ECHO_LWS=$BUILD/bench_echo_lws
CLASSIFY=$BUILD/bench_classify
CORPUS=("$ROOT/tests/corpus/train.jsonl" "$ROOT/tests/corpus/heldout.jsonl")
T_START=$(date +%s)

for b in "$AA" "$WSLOAD" "$ECHO_LWS" "$CLASSIFY"; do
  [ -x "$b" ] || { echo "bench: $b is missing; build first (make bench)" >&2; exit 2; }
done
for t in node npm redis-server redis-cli python3; do
  command -v "$t" >/dev/null || { echo "bench: $t is needed" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/autoassist-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
CMDS=$WORK/commands.txt
FAILS=$WORK/failures.txt
: >"$RESULTS"; : >"$CMDS"; : >"$FAILS"
cp /proc/loadavg "$WORK/loadavg-start"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10,000 connections need 10,000 descriptors in the client and in each
# server, and a margin. Servers inherit this limit (see "fd table" in the
# report for why autoassist's throughput depends on it).
NOFILE=20000
ulimit -n "$NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" -lt 10100 ]; then
  echo "bench: ulimit -n is $NOFILE; 10,000 connections need more" >&2
  echo "ulimit -n $NOFILE is below 10,100: the 10,000-connection runs cannot hold their connections" >>"$FAILS"
fi

fail() { echo "bench: FAILED: $*" >&2; echo "$*" >>"$FAILS"; }
note_cmd() { printf '%s\n' "$*" | sed "s#$BUILD/#\$BUILD/#g; s#$WORK/#\$WORK/#g; s#$ROOT/##g" >>"$CMDS"; }

# A free TCP port on 127.0.0.1, below the ephemeral range: the client's
# 10,000 outgoing connections (and their TIME_WAIT) take ports from that
# range, and a server port among them may fail to bind.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
EPH_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPH_LOW" -gt 12000 ] || EPH_LOW=32768
NEXT_PORT=$((10000 + RANDOM % (EPH_LOW - 11000)))
new_port() {
  [ "$NEXT_PORT" -lt "$EPH_LOW" ] || NEXT_PORT=10000
  while ! port_free "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
  PORT=$NEXT_PORT
  NEXT_PORT=$((NEXT_PORT + 1))
}

wait_port() { # port pid
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# start NAME PORT CMD... : starts a server in the background; sets SPID.
start() {
  local name=$1 port=$2
  shift 2
  note_cmd "$(printf '%q ' "$@")"
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  SPID=$!
  PIDS+=("$SPID")
  if ! wait_port "$port" "$SPID"; then
    fail "$name did not start on port $port: $(tail -c 400 "$WORK/$name.log")"
    kill -9 "$SPID" 2>/dev/null
    return 1
  fi
  # The probe connection above is gone; let the server see it close.
  sleep 0.2
  if ! kill -0 "$SPID" 2>/dev/null; then
    fail "$name exited right after starting: $(tail -c 400 "$WORK/$name.log")"
    return 1
  fi
}

# stop NAME PID : SIGTERM, then checks how it ended and what it logged.
stop() {
  local name=$1 pid=$2 rc
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"; rc=$?
    fail "$name died during the run (exit status $rc): $(tail -c 400 "$WORK/$name.log")"
  else
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      fail "$name did not stop within 15 s of SIGTERM"
      kill -9 "$pid"
    fi
    wait "$pid"; rc=$?
    # 143: ended by the signal itself (the event-library loops, node).
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
      fail "$name exited with status $rc after SIGTERM: $(tail -c 400 "$WORK/$name.log")"
    fi
  fi
  if [ -s "$WORK/$name.log" ] && grep -q '"level":"error"' "$WORK/$name.log"; then
    fail "$name logged errors: $(grep '"level":"error"' "$WORK/$name.log" | head -3)"
  fi
  local warns
  warns=$(grep -c '"level":"warn"' "$WORK/$name.log" 2>/dev/null)
  [ "${warns:-0}" -gt 0 ] && echo "  ($name logged $warns warnings: $(grep '"level":"warn"' "$WORK/$name.log" | head -2))"
  # The service logs a JSON line per message; keep the disk use bounded.
  rm -f "$WORK/$name.log"
}

# load LABEL ARGS... : runs the load generator; its RESULT line goes to
# results.jsonl under LABEL (section|server|case).
load() {
  local label=$1
  shift
  note_cmd "\$BUILD/bench_wsload $* --label '$label' tests/corpus/train.jsonl tests/corpus/heldout.jsonl"
  "$WSLOAD" "$@" --label "$label" "${CORPUS[@]}" >"$WORK/load.out" 2>&1
  local rc=$?
  grep -v '^RESULT ' "$WORK/load.out"
  grep '^RESULT ' "$WORK/load.out" | sed 's/^RESULT //' >>"$RESULTS"
  [ $rc -eq 0 ] || fail "$label: errors or lost messages ($(grep -v '^RESULT' "$WORK/load.out" | grep -E 'errors|first error|DIED' | tr -s ' \n' ' '))"
  LAST=$(grep '^RESULT ' "$WORK/load.out" | sed 's/^RESULT //')
  return 0
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))' "$1" "$2"; }

REG="$ROOT/tests/fixtures/registry.jsonl"
# The service as deployed, with the per-connection rate limit lifted (the
# default 5 msgs/s per connection would refuse a closed-loop client).
aa_args() { echo serve --host 127.0.0.1 --port "$1" --rate 1000000 --burst 1000000 --registry "$REG"; }

main_secs() { if [ "$1" -ge 10000 ]; then echo $((SECONDS_MAIN / 2 > 3 ? SECONDS_MAIN / 2 : 3)); else echo "$SECONDS_MAIN"; fi; }
src_for() { if [ "$1" -ge 10000 ]; then echo 8; else echo 1; fi; }

echo "== npm packages (bench/package-lock.json)"
if [ ! -d "$ROOT/bench/node_modules/ws" ] || [ ! -d "$ROOT/bench/node_modules/node-nlp" ]; then
  (cd "$ROOT/bench" && npm ci --no-audit --no-fund) || { fail "npm ci in bench/ failed"; }
fi

# ---------------------------------------------------------------------
# Rounds: the three servers one after another at each count, then all of
# it again. A server's best round is reported, so a moment when the shared
# machine was busy does not decide a ratio, and no server gets its rounds
# at a quieter time than the others.
echo "== WebSocket load: closed loop at 100, 2,000 and 10,000 connections, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
for n in 100 2000 10000; do
  secs=$(main_secs "$n")
  src=$(src_for "$n")
  AA_BYTES=
  new_port; p=$PORT
  if start "autoassist-$n" "$p" "$AA" $(aa_args "$p"); then
    load "ws|autoassist|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect reply
    [ "$n" = 2000 ] && PEAK2000=$(python3 -c "print(max(float('${PEAK2000:-0}'), float('$(field "$LAST" rate)')))")
    AA_BYTES=$(python3 -c "print(round(float('$(field "$LAST" bytes_per_answer)')) or '')")
    stop "autoassist-$n" "$SPID"
  fi
  new_port; p=$PORT
  # On the service's event loop (libev): the same library, flags and loop.
  if start "echo_lws-$n" "$p" "$ECHO_LWS" --port "$p" --evlib ev; then
    load "ws|echo_lws|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect echo
    stop "echo_lws-$n" "$SPID"
  fi
  # The service's frames in and out, no engine: json-c parses each
  # message and the answer is a reply frame of the size autoassist's
  # replies had in this round (716 bytes if it did not run).
  new_port; p=$PORT
  rbytes=716
  [ -n "${AA_BYTES:-}" ] && rbytes=$AA_BYTES
  if start "reply_lws-$n" "$p" "$ECHO_LWS" --port "$p" --evlib ev --reply "$rbytes"; then
    load "ws|reply_lws|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect reply
    stop "reply_lws-$n" "$SPID"
  fi
  new_port; p=$PORT
  if start "echo_ws-$n" "$p" node "$ROOT/bench/echo_ws.js" --port "$p"; then
    load "ws|echo_ws|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect echo
    stop "echo_ws-$n" "$SPID"
  fi
done
done

# ---------------------------------------------------------------------
echo "== Fixed rate: half of autoassist's 2,000-connection peak, 2,000 connections, $RATE_ROUNDS rounds"
HALF=$(python3 -c "print(max(100, int(float('${PEAK2000:-0}') / 2)))")
# A p99 is the slowest 1 % of the messages, so a neighbour's burst of a few
# tens of ms on a shared machine moves it more than any other figure: the
# rounds go round the servers as the main runs do, and the report takes
# each server's median round.
for round in $(seq "$RATE_ROUNDS"); do
for srv in autoassist echo_lws echo_ws; do
  new_port; p=$PORT
  case $srv in
    autoassist) cmd=("$AA" $(aa_args "$p")); exp=reply ;;
    echo_lws) cmd=("$ECHO_LWS" --port "$p" --evlib ev); exp=echo ;;
    echo_ws) cmd=(node "$ROOT/bench/echo_ws.js" --port "$p"); exp=echo ;;
  esac
  start "rate-$srv" "$p" "${cmd[@]}" || continue
  load "rate|$srv|2000" --port "$p" --pid "$SPID" --conns 2000 --mode rate --rate "$HALF" \
    --seconds "$SECONDS_RATE" --warmup 1 --expect "$exp"
  stop "rate-$srv" "$SPID"
done
done

# ---------------------------------------------------------------------
echo "== The fd table: fd_limit_per_thread below ulimit -n makes lws scan for every event"
# service/ws.c set fd_limit_per_thread = max connections + 64 until b743761;
# echo_lws --fd-limit does the same, to show what it cost.
for n in 2000 10000; do
  secs=$(main_secs "$n"); src=$(src_for "$n")
  new_port; p=$PORT
  if start "echo-fdlimit-$n" "$p" "$ECHO_LWS" --port "$p" --fd-limit; then
    load "fd|echo_lws --fd-limit|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect echo
    stop "echo-fdlimit-$n" "$SPID"
  fi
done

# ---------------------------------------------------------------------
echo "== Event loops: lws' poll() loop and libuv, against libev (above), for the echo and the service"
for n in 100 2000 10000; do
  secs=$(main_secs "$n"); src=$(src_for "$n")
  for ev in poll uv; do
    # libuv lost at every count in earlier runs: measured where it matters.
    [ "$ev" = uv ] && [ "$n" = 100 ] && continue
    new_port; p=$PORT
    if start "echo-$ev-$n" "$p" "$ECHO_LWS" --port "$p" --evlib "$ev"; then
      load "evlib|echo_lws $ev|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect echo
      stop "echo-$ev-$n" "$SPID"
    fi
  done
  new_port; p=$PORT
  if start "autoassist-poll-$n" "$p" "$AA" $(aa_args "$p") --event-loop poll; then
    load "evlib|autoassist poll|$n" --port "$p" --pid "$SPID" --conns "$n" --seconds "$secs" --src "$src" --expect reply
    stop "autoassist-poll-$n" "$SPID"
  fi
done

# ---------------------------------------------------------------------
echo "== Chat-like load: 10,000 connections, 5,000 msgs/s in all (one message per 2 s each)"
# A closed loop keeps every connection busy, so each poll() returns many
# ready descriptors; real chat traffic is the other way round: many
# connections, few messages each. Each wake-up then pays for poll() over
# every descriptor.
CHAT_RATE=5000
for srv in autoassist autoassist-poll poll uv ev echo_ws; do
  new_port; p=$PORT
  case $srv in
    autoassist) cmd=("$AA" $(aa_args "$p")); exp=reply ;;
    autoassist-poll) cmd=("$AA" $(aa_args "$p") --event-loop poll); exp=reply ;;
    poll|uv|ev) cmd=("$ECHO_LWS" --port "$p" --evlib "$srv"); exp=echo ;;
    echo_ws) cmd=(node "$ROOT/bench/echo_ws.js" --port "$p"); exp=echo ;;
  esac
  start "chat-$srv" "$p" "${cmd[@]}" || continue
  load "chat|$srv|10000" --port "$p" --pid "$SPID" --conns 10000 --src 8 --mode rate --rate "$CHAT_RATE" \
    --seconds "$SECONDS_SHORT" --warmup 1 --expect "$exp"
  stop "chat-$srv" "$SPID"
done

# ---------------------------------------------------------------------
echo "== More than one core: 1 vs 2 processes at 2,000 connections"
new_port; p1=$PORT; new_port; p2=$PORT
if start "aa-proc1" "$p1" "$AA" $(aa_args "$p1"); then
  A1=$SPID
  if start "aa-proc2" "$p2" "$AA" $(aa_args "$p2"); then
    A2=$SPID
    load "smp|autoassist 2 processes, 2 ports|2000" --port "$p1,$p2" --pid "$A1,$A2" --conns 2000 --seconds "$SECONDS_MAIN" --expect reply
    stop "aa-proc2" "$A2"
  fi
  # A second autoassist on the same port: with --reuse-port each process
  # opens its own SO_REUSEPORT listener (service/ws.c), so both serve it.
  note_cmd "\$BUILD/autoassist $(aa_args "$p1") --reuse-port   # two processes, one port"
  stop "aa-proc1" "$A1"
  new_port; p=$PORT
  if start "aa-reuse1" "$p" "$AA" $(aa_args "$p") --reuse-port; then
    R1=$SPID
    if start "aa-reuse2" "$p" "$AA" $(aa_args "$p") --reuse-port --spool "$WORK/reuse2.spool"; then
      R2=$SPID
      load "smp|autoassist 2 processes, SO_REUSEPORT|2000" --port "$p" --pid "$R1,$R2" --conns 2000 --seconds "$SECONDS_MAIN" --expect reply
      stop "aa-reuse2" "$R2"
    fi
    stop "aa-reuse1" "$R1"
  fi
fi
# LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE: lws 4.1 sets SO_REUSEPORT only with
# more than one service thread, so in Debian's build a second process still
# cannot bind. Checked, not assumed:
new_port; p=$PORT
if start "echo-share1" "$p" "$ECHO_LWS" --port "$p" --listen-share; then
  note_cmd "\$BUILD/bench_echo_lws --port $p --listen-share   # a second process on the same port"
  "$ECHO_LWS" --port "$p" --listen-share >/dev/null 2>"$WORK/share2.log" &
  sp=$!
  sleep 1
  if kill -0 $sp 2>/dev/null; then SHARE="started"; kill -TERM $sp; wait $sp; else wait $sp; SHARE="exit $?: $(grep -m1 -o 'ERROR on binding.*' "$WORK/share2.log")"; fi
  echo "{\"label\":\"smp|same port|listen-share\",\"note\":$(python3 -c 'import json,sys;print(json.dumps(sys.argv[1]))' "$SHARE")}" >>"$RESULTS"
  stop "echo-share1" "$SPID"
fi
# What works with Debian's lws: the server's own SO_REUSEPORT listener,
# handed to lws as a raw descriptor; accepted sockets adopted
# (bench/echo_lws.c --reuseport).
new_port; p=$PORT
if start "echo-reuse1" "$p" "$ECHO_LWS" --port "$p" --reuseport --evlib ev; then
  E1=$SPID
  if start "echo-reuse2" "$p" "$ECHO_LWS" --port "$p" --reuseport --evlib ev; then
    E2=$SPID
    load "smp|echo_lws 2 processes, SO_REUSEPORT|2000" --port "$p" --pid "$E1,$E2" --conns 2000 --seconds "$SECONDS_MAIN" --expect echo
    stop "echo-reuse2" "$E2"
  fi
  stop "echo-reuse1" "$E1"
fi

# ---------------------------------------------------------------------
echo "== Escalation: tickets into Redis (appendfsync always / everysec), and Redis down"
redis_start() { # name fsync
  local dir=$WORK/$1
  mkdir -p "$dir"
  note_cmd "redis-server --port 0 --unixsocket \$WORK/$1/redis.sock --dir \$WORK/$1 --save '' --appendonly yes --appendfsync $2"
  redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --save '' \
    --appendonly yes --appendfsync "$2" --daemonize no >"$dir/redis.log" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  for _ in $(seq 100); do redis-cli -s "$dir/redis.sock" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "redis-server ($2) did not start"
  return 1
}
for mode in always everysec down none; do
  dir=$WORK/redis-$mode
  mkdir -p "$dir"
  case $mode in
    always|everysec) redis_start "redis-$mode" "$mode" || continue; url="unix://$dir/redis.sock" ;;
    down) url="unix://$dir/no-redis-here.sock" ;;
    none) url="" ;;
  esac
  new_port; p=$PORT
  extra=(--spool "$dir/spool.jsonl")
  [ -n "$url" ] && extra+=(--redis "$url")
  if start "aa-esc-$mode" "$p" "$AA" $(aa_args "$p") "${extra[@]}"; then
    # Throughput: only messages labelled as escalating, 100 connections.
    load "esc|$mode|tickets" --port "$p" --pid "$SPID" --conns 100 --seconds "$SECONDS_SHORT" --warmup 1 --filter escalate --expect reply
    stored=$(field "$LAST" esc_stored)
    # Latency: the whole corpus at a light load (10 connections, 500
    # msgs/s), escalating and other messages side by side.
    load "esc|$mode|latency" --port "$p" --pid "$SPID" --conns 10 --mode rate --rate 500 --seconds "$SECONDS_SHORT" --warmup 1 --expect reply
    stored=$((stored + $(field "$LAST" esc_stored)))
    stop "aa-esc-$mode" "$SPID"
    in_redis=0; spooled=0
    case $mode in
      always|everysec)
        in_redis=$(redis-cli -s "$dir/redis.sock" xlen autoassist:l2)
        kill -TERM "$RPID"; wait "$RPID" ;;
    esac
    [ -f "$dir/spool.jsonl" ] && spooled=$(wc -l <"$dir/spool.jsonl")
    # Every ticket a reply called stored is in Redis or the spool.
    echo "{\"label\":\"esccheck|$mode|\",\"stored_replies\":$stored,\"in_redis\":$in_redis,\"spooled\":$spooled}" >>"$RESULTS"
    if [ "$mode" != none ] && [ $((in_redis + spooled)) -lt "$stored" ]; then
      fail "escalation ($mode): $stored replies said stored, but Redis has $in_redis and the spool $spooled"
    fi
    # Redis back after the outage: a fresh server on that spool, Redis
    # (appendfsync always) at the socket it names, and the whole corpus at
    # 500 msgs/s while the spool drains: how fast it drains, and what the
    # customers of its first seconds wait meanwhile.
    if [ "$mode" = down ] && [ "$spooled" -gt 0 ] && redis_start "redis-down" always; then
      new_port; p=$PORT
      t0=$(date +%s.%N)
      if start "aa-drain" "$p" "$AA" $(aa_args "$p") --spool "$dir/spool.jsonl" --redis "unix://$dir/redis.sock"; then
        # The time the spool was first seen empty, if it was within 60 s.
        (for _ in $(seq 1200); do
           [ -s "$dir/spool.jsonl" ] || { date +%s.%N >"$dir/drained-at"; break; }
           sleep 0.05
         done) &
        watcher=$!
        load "esc|drain|latency" --port "$p" --pid "$SPID" --conns 10 --mode rate --rate 500 --seconds "$SECONDS_SHORT" --warmup 0 --expect reply
        filed=$(field "$LAST" esc_stored)
        wait "$watcher"
        stop "aa-drain" "$SPID"
        drained=$(redis-cli -s "$dir/redis.sock" xlen autoassist:l2)
        left=0
        [ -s "$dir/spool.jsonl" ] && left=$(wc -l <"$dir/spool.jsonl")
        secs=null
        [ -f "$dir/drained-at" ] && secs=$(python3 -c "print(round($(cat "$dir/drained-at") - $t0, 2))")
        echo "{\"label\":\"drain|down|\",\"spooled\":$spooled,\"filed\":$filed,\"in_redis\":$drained,\"left\":$left,\"seconds\":$secs}" >>"$RESULTS"
        [ "$secs" != null ] || fail "drain: the spool was not empty within 60 s ($left tickets left)"
        # The spooled tickets and those told stored during the drain.
        [ "$drained" -ge $((spooled + filed)) ] ||
          fail "drain: $spooled tickets spooled and $filed filed meanwhile, but $drained in Redis"
      fi
      kill -TERM "$RPID"; wait "$RPID"
    fi
    rm -rf "$dir"
  fi
done

# ---------------------------------------------------------------------
echo "== Where the server's time goes (perf, when this machine allows it)"
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
  new_port; p=$PORT
  if start "aa-perf" "$p" "$AA" $(aa_args "$p"); then
    (sleep 2; perf record -F 999 -g -p "$SPID" -o "$WORK/perf.data" -- sleep 4) >/dev/null 2>&1 &
    perfpid=$!
    load "perf|autoassist|2000" --port "$p" --pid "$SPID" --conns 2000 --seconds 5 --expect reply
    wait $perfpid
    stop "aa-perf" "$SPID"
    note_cmd "perf record -F 999 -g -p PID -- sleep 4;  perf report --no-children --sort dso / --sort symbol"
    perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -12 >"$WORK/perf-dso.txt"
    perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -25 >"$WORK/perf-sym.txt"
  fi
else
  echo "  (perf not available here: skipped)"
fi

# ---------------------------------------------------------------------
echo "== Classification: autoassist against NLP.js on the same split"
# Both rates are the best quarter-second slice of a run this long: with
# runs of different lengths, the longer would have more slices to find a
# quiet moment of a shared machine in.
CLASSIFY_SECONDS=3
note_cmd "\$BUILD/bench_classify tests/corpus/heldout.jsonl --seconds $CLASSIFY_SECONDS"
"$CLASSIFY" "$ROOT/tests/corpus/heldout.jsonl" --seconds "$CLASSIFY_SECONDS" | tee "$WORK/classify.txt" || fail "bench_classify failed"
note_cmd "\$BUILD/autoassist eval tests/corpus/heldout.jsonl --examples 0"
"$AA" eval "$ROOT/tests/corpus/heldout.jsonl" --examples 0 >"$WORK/eval.txt" || fail "autoassist eval failed"
grep -E '^all ' "$WORK/eval.txt"
note_cmd "node bench/classify_nlpjs.js --train tests/corpus/train.jsonl --heldout tests/corpus/heldout.jsonl --autoassist \$BUILD/autoassist --seconds $CLASSIFY_SECONDS"
node "$ROOT/bench/classify_nlpjs.js" --train "$ROOT/tests/corpus/train.jsonl" \
  --heldout "$ROOT/tests/corpus/heldout.jsonl" --autoassist "$AA" --seconds "$CLASSIFY_SECONDS" \
  --json "$WORK/nlpjs.json" | grep -v '^RESULT' || fail "classify_nlpjs.js failed"

# ---------------------------------------------------------------------
T_END=$(date +%s)
echo "== Report"
BENCH_ROOT=$ROOT BENCH_BUILD=$BUILD BENCH_WORK=$WORK BENCH_ELAPSED=$((T_END - T_START)) \
BENCH_SECONDS_MAIN=$SECONDS_MAIN BENCH_ROUNDS=$ROUNDS BENCH_SECONDS_SHORT=$SECONDS_SHORT BENCH_NOFILE=$NOFILE \
BENCH_RATE_ROUNDS=$RATE_ROUNDS BENCH_RATE_SECONDS=$SECONDS_RATE BENCH_CLASSIFY_SECONDS=$CLASSIFY_SECONDS \
  python3 "$ROOT/bench/report.py" >"$OUT" || { fail "report.py failed"; }
echo "bench: wrote $OUT in $((T_END - T_START)) s"
if [ -s "$FAILS" ]; then
  echo "bench: failures:" >&2
  sed 's/^/  /' "$FAILS" >&2
  exit 1
fi
exit 0
