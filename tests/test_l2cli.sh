#!/usr/bin/env bash
# Tests for the technicians' commands: autoassist l2 pull / ack / pending /
# claim / stats, the dead letters, and autoassist registry load / get.
#
#   tests/test_l2cli.sh PATH/TO/autoassist
#
# Starts its own redis-server on a unix socket in a temporary directory (no
# port, no persistence) and adds tickets with redis-cli, as the server
# would, with the fields of docs/redis.md. Needs redis-server, redis-cli
# and python3 (to check the JSON).
set -u

BIN=${1:?usage: test_l2cli.sh PATH/TO/autoassist}
SRC=$(cd "$(dirname "$0")/.." && pwd)
FIX=$SRC/tests/fixtures
for tool in redis-server redis-cli python3; do
	command -v "$tool" >/dev/null || { echo "test_l2cli.sh: $tool is needed" >&2; exit 1; }
done
unset AUTOASSIST_STREAM AUTOASSIST_MAX_DELIVERIES

TMP=$(mktemp -d)
SOCK=$TMP/redis.sock
REDIS_PID=
cleanup() {
	if [ -n "$REDIS_PID" ]; then
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

checks=0
failures=0
pass() { checks=$((checks + 1)); }
fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL: $*" >&2
}
# expect_rc WANT GOT WHAT
expect_rc() {
	if [ "$2" -eq "$1" ]; then pass; else
		fail "$3: exit code $2, want $1"
		[ -s "$TMP/err" ] && sed 's/^/    stderr: /' "$TMP/err" >&2
	fi
}
# expect_in FILE TEXT WHAT: the file contains TEXT (fixed string)
expect_in() {
	if grep -qF -- "$2" "$1"; then pass; else
		fail "$3: no \"$2\" in:"
		sed 's/^/    /' "$1" >&2
	fi
}
expect_not_in() {
	if grep -qF -- "$2" "$1"; then
		fail "$3: \"$2\" in:"
		sed 's/^/    /' "$1" >&2
	else pass; fi
}
# expect_eq WANT GOT WHAT
expect_eq() {
	if [ "$2" = "$1" ]; then pass; else fail "$3: \"$2\", want \"$1\""; fi
}
# expect_py WHAT PYTHON-CODE FILE...: the code (with sys.argv) exits 0
expect_py() {
	local what=$1 code=$2
	shift 2
	if python3 -c "$code" "$@" 2>"$TMP/py.err"; then pass; else
		fail "$what: $(cat "$TMP/py.err")"
	fi
}
rcli() { redis-cli -s "$SOCK" "$@"; }
# aa ARGS...: runs the binary; stdout in $TMP/out, stderr in $TMP/err, exit code in $rc
aa() {
	"$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# A TCP port too, for the URL forms only TCP has (a database number).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --unixsocket "$SOCK" --save '' --appendonly no \
	--daemonize no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do
	[ "$(rcli PING 2>/dev/null)" = PONG ] && break
	sleep 0.1
done
if [ "$(rcli PING 2>/dev/null)" != PONG ]; then
	echo "test_l2cli.sh: redis-server did not start:" >&2
	cat "$TMP/redis.log" >&2
	exit 1
fi
export AUTOASSIST_REDIS=unix://$SOCK

# add_ticket N [MESSAGE [FOLLOW_UP_OF]]: adds ticket number N as the
# server does and prints its entry id.
add_ticket() {
	local tid
	tid=$(printf 'L2-20261126-%08d' "$1")
	local msg=${2:-"Vi flytter til Storgata 12B 1. mars. Jeg har solceller på taket og et batteri i kjelleren."}
	rcli XADD autoassist:l2 '*' \
		ticket_id "$tid" follow_up_of "${3:-}" \
		session_id "s-$1" created_at 2026-11-26T08:15:02Z lang nb \
		topics solar,battery \
		technical_part "Jeg har solceller på taket og et batteri i kjelleren." \
		message "$msg" new_address "Storgata 12B" meter_id 707057500012345671 \
		move_date 2027-03-01 intents_answered address_update,contract_start_date \
		turns '[{"from":"customer","text":"Hei, vi skal flytte"},{"from":"assistant","text":"Hvor flytter dere?"}]' \
		ticket "{\"ticket_id\":\"$tid\"}"
}

# ---- pull, human and --json ----
ID1=$(add_ticket 1)
aa l2 pull --consumer alice
expect_rc 0 $rc "pull"
expect_in "$TMP/out" "L2-20261126-00000001" "pull shows the ticket id"
expect_in "$TMP/out" "$ID1" "pull shows the entry id"
expect_in "$TMP/out" "solar,battery" "pull shows the topics"
expect_in "$TMP/out" "Storgata 12B" "pull shows the new address"
expect_in "$TMP/out" "707057500012345671" "pull shows the meter"
expect_in "$TMP/out" "2027-03-01" "pull shows the move date"
expect_in "$TMP/out" "address_update,contract_start_date" "pull shows the answered intents"
expect_in "$TMP/out" "Hvor flytter dere?" "pull shows the recent turns"
expect_in "$TMP/out" "et batteri i kjelleren." "pull shows the message"
expect_not_in "$TMP/out" "follow-up of" "a first ticket names no ticket it follows up"

aa l2 pull --consumer alice
expect_rc 0 $rc "pull with nothing new"
expect_in "$TMP/out" "no new tickets" "pull says there is nothing new"

IDF=$(add_ticket 9 "Feilkode 1013 i appen." L2-20261126-00000001)
aa l2 pull --consumer alice
expect_in "$TMP/out" "follow-up of L2-20261126-00000001" "pull names the ticket a follow-up adds to"
aa l2 ack "$IDF"
expect_rc 0 $rc "ack of the follow-up"
rcli XDEL autoassist:l2 "$IDF" >/dev/null # the counts below are of the other tickets

ID2=$(add_ticket 2)
aa l2 pull --consumer alice --json
expect_rc 0 $rc "pull --json"
expect_py "pull --json: one object with the entry id and all fields as strings" '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["id"] == sys.argv[2], o["id"]
f = o["fields"]
assert f["ticket_id"] == "L2-20261126-00000002", f
for k in ("session_id", "created_at", "lang", "topics", "technical_part", "message",
          "new_address", "meter_id", "move_date", "intents_answered", "turns", "ticket"):
    assert isinstance(f[k], str), k
assert json.loads(f["turns"])[1]["from"] == "assistant"
' "$TMP/out" "$ID2"

# ---- pending and ack ----
aa l2 pending
expect_rc 0 $rc "pending"
expect_in "$TMP/out" "$ID1" "pending lists the first ticket"
expect_in "$TMP/out" "$ID2" "pending lists the second ticket"
expect_in "$TMP/out" "alice" "pending names the consumer"
aa l2 pending --json
expect_py "pending --json" '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["pending"] == 2, o
assert [e["id"] for e in o["entries"]] == sys.argv[2:4], o
assert all(e["consumer"] == "alice" and e["deliveries"] == 1 for e in o["entries"]), o
assert o["consumers"] == [{"name": "alice", "pending": 2}], o
' "$TMP/out" "$ID1" "$ID2"

aa l2 ack "$ID1"
expect_rc 0 $rc "ack"
expect_in "$TMP/out" "acknowledged 1 of 1" "ack reports the count"
aa l2 ack "$ID1"
expect_rc 1 $rc "ack of an id no longer pending"
expect_in "$TMP/err" "$ID1 was not pending" "ack names the id that was not pending"
aa l2 ack "$ID2"
expect_rc 0 $rc "ack of the second"
aa l2 pending --json
expect_py "pending is empty after ack" '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["pending"] == 0 and o["entries"] == [], o
' "$TMP/out"
aa l2 pending
expect_in "$TMP/out" "nothing pending" "pending says nothing is pending"

# ---- claim: alice pulled and vanished, bob takes over ----
ID3=$(add_ticket 3)
aa l2 pull --consumer alice --json
expect_in "$TMP/out" "$ID3" "alice pulls the third ticket"
aa l2 claim --consumer bob --idle 3600000
expect_rc 0 $rc "claim with a long idle time"
expect_not_in "$TMP/out" "$ID3" "a ticket idle for less than --idle is not claimed"
aa l2 claim --consumer bob --idle 0
expect_rc 0 $rc "claim"
expect_in "$TMP/out" "L2-20261126-00000003" "claim shows the ticket"
expect_in "$TMP/out" "$ID3" "claim shows the entry id"
aa l2 pending --json
expect_py "the claimed ticket is bob's, delivered twice" '
import json, sys
o = json.load(open(sys.argv[1]))
assert [(e["id"], e["consumer"], e["deliveries"]) for e in o["entries"]] == \
    [(sys.argv[2], "bob", 2)], o
' "$TMP/out" "$ID3"
aa l2 claim --consumer carol --idle 0 --json
expect_py "claim --json" '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1 and json.loads(lines[0])["id"] == sys.argv[2], lines
' "$TMP/out" "$ID3"
aa l2 ack "$ID3"
expect_rc 0 $rc "ack of the claimed ticket"

# ---- dead letters ----
# The fourth ticket: pulled (1), claimed (2), claimed again (3) with a limit
# of 2: it goes to the dead letters instead of to carol.
ID4=$(add_ticket 4)
aa l2 pull --consumer alice
aa l2 claim --consumer bob --idle 0 --max-deliveries 2
expect_in "$TMP/out" "$ID4" "a second delivery is within --max-deliveries 2"
aa l2 claim --consumer carol --idle 0 --max-deliveries 2
expect_rc 0 $rc "claim that moves a dead letter"
expect_in "$TMP/err" "moved to dead letters: $ID4 (3 deliveries)" "the move is reported"
expect_not_in "$TMP/out" "$ID4" "a dead letter is not handed out"
expect_eq 1 "$(rcli XLEN autoassist:l2:dead)" "the dead-letter stream has the ticket"
rcli --json XRANGE autoassist:l2:dead - + >"$TMP/dead.json" 2>/dev/null ||
	rcli XRANGE autoassist:l2:dead - + >"$TMP/dead.json"
expect_in "$TMP/dead.json" "original_id" "the dead letter has original_id"
expect_in "$TMP/dead.json" "$ID4" "the dead letter names the original entry"
expect_in "$TMP/dead.json" "L2-20261126-00000004" "the dead letter keeps the ticket's fields"
expect_in "$TMP/dead.json" "deliveries" "the dead letter has deliveries"
expect_eq 0 "$(rcli XPENDING autoassist:l2 l2 | head -1)" "the main group has nothing pending"
expect_eq 4 "$(rcli XLEN autoassist:l2)" "the main stream keeps its entries (no trim)"

# The fifth: delivered twice, then a pull with the limit at 1 (from the
# environment) sweeps it out before reading.
ID5=$(add_ticket 5)
aa l2 pull --consumer alice
aa l2 claim --consumer bob --idle 0
AUTOASSIST_MAX_DELIVERIES=1 "$BIN" l2 pull --consumer alice >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc 0 $rc "pull that sweeps a dead letter"
expect_in "$TMP/err" "moved to dead letters: $ID5 (2 deliveries)" \
	"pull moves tickets past AUTOASSIST_MAX_DELIVERIES first"
expect_eq 2 "$(rcli XLEN autoassist:l2:dead)" "the dead-letter stream has both"
expect_eq 0 "$(rcli XPENDING autoassist:l2 l2 | head -1)" "nothing pending after the sweep"

# ---- stats ----
ID6=$(add_ticket 6)
aa l2 stats
expect_rc 0 $rc "stats"
expect_in "$TMP/out" "stream autoassist:l2: 6 entries" "stats shows the stream length"
expect_in "$TMP/out" "group l2: 0 pending" "stats shows the group's pending count"
expect_in "$TMP/out" "consumer alice" "stats lists the consumers"
expect_in "$TMP/out" "dead letters autoassist:l2:dead: 2 entries" "stats shows the dead letters"
aa l2 pull --consumer dave
aa l2 stats --json
expect_rc 0 $rc "stats --json"
expect_py "stats --json" '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["length"] == 6, o
assert o["group"]["pending"] == 1 and o["group"]["last_delivered_id"] == sys.argv[2], o
names = {c["name"]: c["pending"] for c in o["consumers"]}
assert names["dave"] == 1 and names["alice"] == 0, names
assert o["dead_letters"] == {"stream": "autoassist:l2:dead", "length": 2}, o
' "$TMP/out" "$ID6"

# ---- Redis out of memory: the queue is still worked ----
# With noeviction, Redis refuses XGROUP CREATE (denyoom) though the group is
# there; reading, pulling and acknowledging still work, and technicians need
# them most in such an incident.
IDO=$(add_ticket 60)
rcli CONFIG SET maxmemory-policy noeviction >/dev/null
rcli CONFIG SET maxmemory 1 >/dev/null
aa l2 pending
expect_rc 0 $rc "pending with Redis out of memory"
expect_in "$TMP/out" "$ID6" "pending with Redis out of memory lists dave's ticket"
aa l2 stats
expect_rc 0 $rc "stats with Redis out of memory"
aa l2 pull --consumer erin
expect_rc 0 $rc "pull with Redis out of memory"
expect_in "$TMP/out" "$IDO" "pull with Redis out of memory delivers the new ticket"
aa l2 ack "$IDO"
expect_rc 0 $rc "ack with Redis out of memory"
expect_eq 1 "$(rcli XPENDING autoassist:l2 l2 | head -1)" "the ack under out of memory took"
rcli CONFIG SET maxmemory 0 >/dev/null

# ---- --block ----
start=$(date +%s%N)
aa l2 pull --consumer dave --block 300
end=$(date +%s%N)
expect_rc 0 $rc "pull --block on an empty queue"
expect_in "$TMP/out" "no new tickets" "pull --block times out empty-handed"
if [ $(((end - start) / 1000000)) -ge 250 ]; then pass; else
	fail "pull --block 300 returned after $(((end - start) / 1000000)) ms"
fi
"$BIN" l2 pull --consumer dave --block 5000 --json >"$TMP/block.out" 2>"$TMP/block.err" &
BLOCK_PID=$!
sleep 0.5
ID7=$(add_ticket 7)
wait "$BLOCK_PID"
expect_rc 0 $? "pull --block waiting for a ticket"
expect_in "$TMP/block.out" "$ID7" "pull --block returns the ticket added while it waited"

# ---- customer text on the terminal ----
ID8=$(add_ticket 8 $'Hallo\e]0;pwned\a \e[2J und tschüss')
aa l2 pull --consumer dave
expect_in "$TMP/out" '\x1b]0;pwned\x07' "control characters are shown escaped"
if grep -q $'\e' "$TMP/out"; then fail "a raw escape character reached the terminal"; else pass; fi
expect_in "$TMP/out" "und tschüss" "UTF-8 text is shown as written"
aa l2 ack "$ID6" "$ID7" "$ID8"
expect_rc 0 $rc "ack of several ids"
expect_in "$TMP/out" "acknowledged 3 of 3" "ack counts several ids"

# ---- stdout closed: customer text never reaches the Redis connection ----
# The connection would take the lowest free descriptor, 1, and the ticket
# shown would be sent to Redis as commands.
ID9=$(add_ticket 9 $'hello
SET pwned 1
bye')
"$BIN" l2 pull --consumer erin >&- 2>"$TMP/err"
rc=$?
if [ "$rc" -ne 0 ]; then pass; else fail "pull with stdout closed: exit 0"; fi
expect_in "$TMP/err" "cannot write the output" "pull with stdout closed says so"
expect_eq "" "$(rcli GET pwned)" "pull with stdout closed: no command from the ticket ran"
aa l2 ack "$ID9"

# ---- the registry ----
aa registry load "$FIX/registry.jsonl"
expect_rc 0 $rc "registry load"
expect_in "$TMP/out" "loaded 6 records" "registry load counts the records"
expect_eq "Storgata 12B" "$(rcli HGET autoassist:registry:meter:707057500012345671 address)" \
	"the record is a hash under its meter key"
expect_eq 6 "$(rcli --scan --pattern 'autoassist:registry:addr:*' | wc -l)" \
	"every record has an address key"
aa registry get 707057500012345671
expect_rc 0 $rc "registry get"
expect_in "$TMP/out" "Storgata 12B" "registry get shows the address"
expect_in "$TMP/out" "2027-03-01" "registry get shows the supply start"
aa registry get '7359 9900 0000 1234 53' --json
expect_rc 0 $rc "registry get of a meter ID written with spaces"
expect_py "registry get --json" '
import json, sys
o = json.load(open(sys.argv[1]))
assert o == {"meter_id": "735999000000123453", "address": "Drottninggatan 5",
             "postcode": "111 51", "city": "Stockholm", "supply_start": "2027-04-01"}, o
' "$TMP/out"
aa registry get 999999999999999999
expect_rc 1 $rc "registry get of an unknown meter"
expect_in "$TMP/err" "no record for meter 999999999999999999" "registry get says it is not found"
# --replace: the meters the new file leaves out are removed, with their
# place in the address index; the others stay, and loading without it
# removes nothing.
grep -v '^$' "$FIX/registry.jsonl" | head -n 4 >"$TMP/fewer.jsonl"
GONE=$(grep -v '^$' "$FIX/registry.jsonl" | tail -n 1 |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["meter_id"])')
aa registry load "$TMP/fewer.jsonl"
expect_in "$TMP/out" "loaded 4 records" "registry load of fewer records"
expect_eq 1 "$(rcli EXISTS "autoassist:registry:meter:$GONE")" "without --replace nothing is removed"
aa registry load "$TMP/fewer.jsonl" --replace
expect_rc 0 $rc "registry load --replace"
expect_in "$TMP/out" "removed 2 meters the file leaves out" "registry load --replace counts the removed"
expect_eq 0 "$(rcli EXISTS "autoassist:registry:meter:$GONE")" "a meter left out is gone"
expect_eq 4 "$(rcli --scan --pattern 'autoassist:registry:meter:*' | wc -l)" "the others stay"
if rcli --scan --pattern 'autoassist:registry:addr:*' | while read -r k; do rcli LRANGE "$k" 0 -1; done |
	grep -qx "$GONE"; then
	fail "a removed meter is still in the address index"
else
	pass
fi
aa registry get "$GONE"
expect_rc 1 $rc "registry get of a removed meter"
: >"$TMP/empty.jsonl"
aa registry load "$TMP/empty.jsonl" --replace
expect_rc 1 $rc "registry load --replace of an empty file"
expect_in "$TMP/err" "lists no meters; --replace would empty the registry" "an empty file is refused"
expect_eq 4 "$(rcli --scan --pattern 'autoassist:registry:meter:*' | wc -l)" "an empty file removes nothing"
aa registry load "$FIX/registry.jsonl"
expect_in "$TMP/out" "loaded 6 records" "the full registry again"
printf '%s\n' '{"meter_id": "1", "address": "A 1", "supply_start": "2027-01-01"}' \
	'{"meter_id": "2", "address": "B 2", "supply_start": "next week"}' >"$TMP/bad.jsonl"
aa registry load "$TMP/bad.jsonl"
expect_rc 1 $rc "registry load of a broken file"
expect_in "$TMP/err" "bad.jsonl:2:" "registry load names the broken line"
expect_eq 0 "$(rcli EXISTS autoassist:registry:meter:1)" "a broken file loads nothing"
# Redis refusing a write: its own error is shown, not a guess.
rcli SET autoassist:registry:meter:1 not-a-hash >/dev/null
printf '%s\n' '{"meter_id": "1", "address": "A 1", "supply_start": "2027-01-01"}' >"$TMP/one.jsonl"
aa registry load "$TMP/one.jsonl"
expect_rc 1 $rc "registry load over a key of another type"
expect_in "$TMP/err" "WRONGTYPE" "registry load shows Redis' own error"
rcli DEL autoassist:registry:meter:1 >/dev/null

# ---- tickets not written by the server, and another stream ----
# On a stream of their own, so the counts above stay as they are.
S=other:l2
# A ticket whose turns hold nulls (written by hand or by another tool),
# then a normal one, pulled together: both shown, neither left unseen.
NULLS=$(rcli XADD "$S" '*' ticket_id L2-NULLS session_id s-n \
	turns '[{"from":null,"text":null},{"from":"customer"}]')
rcli XADD "$S" '*' ticket_id L2-AFTER new_address $'Storgata 12B\nH0201' >/dev/null
aa l2 pull --consumer erin --count 2 --stream "$S"
expect_rc 0 $rc "pull of a ticket whose turns hold nulls"
expect_in "$TMP/out" "L2-NULLS" "the ticket with nulls is shown"
expect_in "$TMP/out" "L2-AFTER" "the ticket after it is shown too"
# A line break the customer typed stays under the value, not at column 0.
expect_in "$TMP/out" "               H0201" "a field's second line is indented under it"
if grep -q '^H0201' "$TMP/out"; then fail "a field's second line starts at column 0"; else pass; fi
expect_in "$TMP/out" "when done: autoassist l2 ack --stream $S ID" \
	"the hint names the stream it was pulled from"
# claim --count 1: the first idle ticket is past --max-deliveries and goes
# to the dead letters; the second is the one shown, not "no ticket idle".
rcli XCLAIM "$S" l2 frank 0 "$NULLS" >/dev/null # its second delivery
aa l2 claim --consumer frank --idle 0 --stream "$S" --count 1 --max-deliveries 2
expect_rc 0 $rc "claim past a dead letter"
expect_in "$TMP/err" "moved to dead letters" "the first is moved to the dead letters"
expect_not_in "$TMP/out" "no ticket idle" "claim goes on to the next idle ticket"
expect_in "$TMP/out" "claimed 1 ticket for frank" "the next idle ticket is claimed"

# ---- a --stream that does not exist: an error, not a new empty stream ----
for sub in "ack 1-0" "pending" "stats"; do
	# shellcheck disable=SC2086
	aa l2 $sub --stream no:such:stream
	expect_rc 1 $rc "l2 $sub on a stream that does not exist"
	expect_in "$TMP/err" "there is no stream no:such:stream (check --stream)" \
		"l2 $sub says the stream does not exist"
done
expect_eq 0 "$(rcli EXISTS no:such:stream)" "ack, pending and stats create no stream"

# ---- the database a URL names ----
printf '%s\n' '{"meter_id": "7070-5750-0099-9999-91", "address": "Dbgata 2", "supply_start": "2027-01-01"}' \
	>"$TMP/db.jsonl"
aa registry load "$TMP/db.jsonl" --redis "redis://127.0.0.1:$PORT/2"
expect_rc 0 $rc "registry load into database 2"
expect_eq 1 "$(rcli -n 2 EXISTS autoassist:registry:meter:707057500099999991)" \
	"the record is in database 2, its meter ID compact"
expect_eq 0 "$(rcli -n 0 EXISTS autoassist:registry:meter:707057500099999991)" \
	"and not in database 0"
aa registry get 7070-5750-0099-9999-91 --redis "127.0.0.1:$PORT/2"
expect_rc 0 $rc "registry get from database 2, the meter ID written with hyphens"
aa registry get 707057500099999991 --redis "redis://127.0.0.1:$PORT/99"
expect_rc 4 $rc "a database Redis does not have"
expect_in "$TMP/err" "SELECT refused" "a database Redis does not have is named"
for url in "redis://127.0.0.1:$PORT/two" "rediss://127.0.0.1:$PORT" "[::1" "redis://127.0.0.1:$PORT/2/3"; do
	aa l2 stats --redis "$url"
	expect_rc 2 $rc "the Redis URL $url is refused as usage"
done
aa l2 stats --redis "redis://[::1]:1"
expect_rc 4 $rc "an IPv6 address in brackets is read as a host, and port 1 does not answer"
expect_not_in "$TMP/err" "Name or service not known" "the brackets are not looked up as a host name"
aa l2 stats --redis "rediss://default:s3cretPW@127.0.0.1:$PORT"
expect_rc 2 $rc "a rediss:// URL with a password"
expect_not_in "$TMP/err" "s3cretPW" "the password of a rediss:// URL is never echoed"

# ---- usage and help ----
for sub in "l2 pull" "l2 ack" "l2 pending" "l2 claim" "l2 stats" "registry load" "registry get"; do
	# shellcheck disable=SC2086
	aa $sub --help
	expect_rc 0 $rc "$sub --help"
	expect_in "$TMP/out" "usage: autoassist $sub" "$sub --help shows its usage"
done
aa l2 pull
expect_rc 2 $rc "pull without --consumer"
expect_in "$TMP/err" "--consumer is required" "pull says --consumer is required"
aa l2 claim --consumer bob
expect_rc 2 $rc "claim without --idle"
aa l2 pull --consumer bob --count zero
expect_rc 2 $rc "pull with a bad --count"
aa l2 ack
expect_rc 2 $rc "ack without ids"
aa l2 frobnicate
expect_rc 2 $rc "an unknown l2 command"
# A bad AUTOASSIST_MAX_DELIVERIES stops the commands that use it, unless
# the option overrides it, and no other.
AUTOASSIST_MAX_DELIVERIES=lots "$BIN" l2 pull --consumer alice >"$TMP/out" 2>"$TMP/err"
expect_rc 2 $? "pull with a bad AUTOASSIST_MAX_DELIVERIES"
expect_in "$TMP/err" "AUTOASSIST_MAX_DELIVERIES wants 1 to 1000000, not \"lots\"" \
	"a bad AUTOASSIST_MAX_DELIVERIES is named"
AUTOASSIST_MAX_DELIVERIES=lots "$BIN" l2 pull --consumer alice --max-deliveries 5 \
	--stream test:throwaway >"$TMP/out" 2>"$TMP/err"
expect_rc 0 $? "--max-deliveries overrides a bad AUTOASSIST_MAX_DELIVERIES"
AUTOASSIST_MAX_DELIVERIES=lots "$BIN" l2 stats >"$TMP/out" 2>"$TMP/err"
expect_rc 0 $? "stats does not read AUTOASSIST_MAX_DELIVERIES"
aa l2 stats --json=1
expect_rc 2 $rc "a value for --json"
expect_in "$TMP/err" "l2 stats: --json takes no value" "a value for --json is named as such"
aa l2 stats --json -qz
expect_rc 2 $rc "bundled unknown letters"
expect_in "$TMP/err" "l2 stats: unknown option -q" "a bundle's unknown letter is named, not the flag before it"
aa registry get
expect_rc 2 $rc "registry get without a meter"
# The registry has no stream: its commands refuse --stream, and its help
# lists its own commands, not the l2 ones.
aa registry get 707057500012345671 --stream autoassist:l2
expect_rc 2 $rc "registry get --stream"
expect_in "$TMP/err" "--stream is not an option of this command" "registry get refuses --stream"
AUTOASSIST_STREAM=$(printf '%0300d' 0) "$BIN" registry get 707057500012345671 --redis "unix://$TMP/nowhere.sock" \
	>"$TMP/out" 2>"$TMP/err"
expect_rc 4 $? "registry get does not check AUTOASSIST_STREAM, which it does not read"
aa registry --help
expect_rc 0 $rc "registry --help"
expect_in "$TMP/out" "registry get METER_ID" "registry --help lists registry get"
expect_not_in "$TMP/out" "l2 pull" "registry --help lists no l2 command"
expect_not_in "$TMP/out" "--stream" "registry --help offers no --stream"
aa l2 --help
expect_rc 0 $rc "l2 --help"
expect_in "$TMP/out" "--max-deliveries N" "l2 --help names --max-deliveries"
# A port that is no port is a usage error, as in serve.
aa l2 stats --redis localhost:abc
expect_rc 2 $rc "a Redis URL with a bad port"
expect_in "$TMP/err" "the port is not a number from 1 to 65535" "a Redis URL with a bad port"

# ---- Redis unreachable ----
aa l2 stats --redis "unix://$TMP/nowhere.sock"
expect_rc 4 $rc "stats with Redis unreachable"
expect_in "$TMP/err" "Redis is unreachable" "an unreachable Redis is said plainly"
AUTOASSIST_REDIS=unix://$TMP/nowhere.sock "$BIN" l2 pull --consumer x >"$TMP/out" 2>"$TMP/err"
expect_rc 4 $? "pull with AUTOASSIST_REDIS unreachable"
aa registry get 707057500012345671 --redis "unix://$TMP/nowhere.sock"
expect_rc 4 $rc "registry get with Redis unreachable"

# ---- Redis with a password (last: it locks the test's own redis-cli out) ----
rcli CONFIG SET requirepass 's3cret pass' >/dev/null
# No password is the same mistake as a wrong one: exit 4 and the same hint,
# from every command, before it does anything.
for cmd in "l2 stats" "registry get 707057500012345671" "l2 pull --consumer x"; do
	# shellcheck disable=SC2086
	aa $cmd
	expect_rc 4 $rc "$cmd without the password"
	expect_in "$TMP/err" "it wants a password (NOAUTH) (set AUTOASSIST_REDIS_PASSWORD and AUTOASSIST_REDIS_USER)" \
		"$cmd without the password names it"
done
AUTOASSIST_REDIS_PASSWORD='s3cret pass' "$BIN" l2 stats >"$TMP/out" 2>"$TMP/err"
expect_rc 0 $? "stats with AUTOASSIST_REDIS_PASSWORD"
expect_in "$TMP/out" "stream autoassist:l2:" "stats answers once authenticated"
AUTOASSIST_REDIS_PASSWORD=wrong "$BIN" l2 stats >"$TMP/out" 2>"$TMP/err"
expect_rc 4 $? "stats with a wrong password"
expect_in "$TMP/err" "AUTH refused" "a wrong password is said plainly"
expect_in "$TMP/err" "(set AUTOASSIST_REDIS_PASSWORD and AUTOASSIST_REDIS_USER)" \
	"the hint names the password, not the URL"
aa l2 stats --redis 'redis://user:hunter2@127.0.0.1:1'
expect_rc 2 $rc "a password in the URL is a usage error, as in serve"
expect_in "$TMP/err" "set AUTOASSIST_REDIS_PASSWORD" "the URL's password is refused with the way to give it"
expect_not_in "$TMP/err" "hunter2" "the password is not echoed"

echo "test_l2cli.sh: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
