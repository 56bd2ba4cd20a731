#!/usr/bin/env bash
# Tests for the autoassist command line: classify (human and --jsonl),
# tickets, the registry, eval, chat, help and the exit codes.
#
#   tests/test_cli.sh PATH/TO/autoassist
#
# Uses the production data (intents/ and templates/ of the checkout, the
# binary's defaults). If the production intents do not load, it says so and
# uses tests/fixtures/pack instead, so the harness itself is still tested.
# Needs python3 to check the JSON.
set -u

BIN=${1:?usage: test_cli.sh PATH/TO/autoassist}
SRC=$(cd "$(dirname "$0")/.." && pwd)
FIX=$SRC/tests/fixtures
unset AUTOASSIST_INTENTS AUTOASSIST_TEMPLATES
command -v python3 >/dev/null || { echo "test_cli.sh: python3 is needed" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

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
	if [ "$2" -eq "$1" ]; then pass; else fail "$3: exit code $2, want $1"; fi
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
# expect_py WHAT PYTHON-CODE FILE...: the code (with sys.argv) exits 0
expect_py() {
	local what=$1 code=$2
	shift 2
	if python3 -c "$code" "$@" 2>"$TMP/py.err"; then pass; else
		fail "$what: $(cat "$TMP/py.err")"
	fi
}

TODAY=(--today 2026-11-26)
DATA=()
if ! "$BIN" classify "${TODAY[@]}" hello >/dev/null 2>"$TMP/load.err"; then
	echo "test_cli.sh: NOTE: the production intents do not load ($(cat "$TMP/load.err"));" \
	     "using tests/fixtures/pack" >&2
	DATA=(--intents "$FIX/pack")
fi
run() { "$BIN" "$@"; }
# Classifies the JSON lines given (one an argument) on TODAY with the
# production data, into the file named first.
classify_lines() {
	local out=$1
	shift
	printf '%s\n' "$@" | run classify "${TODAY[@]}" --jsonl >"$out" 2>&1
}

# ---- help, usage and data errors ----

run --help >"$TMP/out" 2>"$TMP/err"
expect_rc 0 $? "--help"
expect_in "$TMP/out" "usage: autoassist" "--help"
expect_in "$TMP/out" "classify --jsonl" "--help"
run classify --help >"$TMP/out" 2>&1
expect_rc 0 $? "classify --help"

run frobnicate >"$TMP/out" 2>"$TMP/err"
expect_rc 2 $? "an unknown command"
expect_in "$TMP/err" 'unknown command "frobnicate"' "an unknown command"
run >/dev/null 2>&1
expect_rc 2 $? "no command"
run classify "${TODAY[@]}" >/dev/null 2>&1
expect_rc 2 $? "classify without text"
run classify --threshold 2 hello >/dev/null 2>"$TMP/err"
expect_rc 2 $? "--threshold 2"
expect_in "$TMP/err" '--threshold wants a number from 0 to 1, not "2"' "--threshold 2 names the option"
run classify --today 2026-02-30 hello >/dev/null 2>&1
expect_rc 2 $? "--today 2026-02-30"
run classify --bogus hello >/dev/null 2>&1
expect_rc 2 $? "an unknown option"
run eval >/dev/null 2>&1
expect_rc 2 $? "eval without a file"
# An option the command does not use is refused, not ignored, in a line
# of its own with no help text after it to bury it.
# (timeout: a server that took the option would serve on.)
timeout 10 "$BIN" serve --tickets "$TMP/serve-tickets.jsonl" >/dev/null 2>"$TMP/err"
expect_rc 2 $? "serve --tickets"
expect_in "$TMP/err" "--tickets is not an option of serve" "serve --tickets"
if [ -e "$TMP/serve-tickets.jsonl" ]; then fail "serve --tickets created the file"; else pass; fi
expect_not_in "$TMP/err" "usage: autoassist" "a usage error prints no help text"
run classify --port 8080 hello >/dev/null 2>"$TMP/err"
expect_rc 2 $? "classify --port"
expect_in "$TMP/err" "--port is not an option of classify" "classify --port"
run eval --lang en "$TMP/none.jsonl" >/dev/null 2>"$TMP/err"
expect_rc 2 $? "eval --lang"
expect_in "$TMP/err" "--lang is not an option of eval" "eval --lang"
timeout 10 "$BIN" serve --web "$TMP/no-such-dir" >/dev/null 2>"$TMP/err"
expect_rc 3 $? "serve --web with no such directory"
expect_in "$TMP/err" "web directory $TMP/no-such-dir (--web, AUTOASSIST_WEB): No such file or directory" "serve --web with no such directory"
# eval reads no registry, so a stale AUTOASSIST_REGISTRY does not stop it.
printf '%s\n' '{"text": "hi", "lang": "en", "intents": [], "escalate": false, "l2_topics": []}' >"$TMP/one.jsonl"
AUTOASSIST_REGISTRY="$TMP/no-such-registry.jsonl" "$BIN" eval "${DATA[@]}" "$TMP/one.jsonl" \
	>/dev/null 2>"$TMP/err"
expect_rc 0 $? "eval with AUTOASSIST_REGISTRY naming no file"
run serve --rate nan >/dev/null 2>"$TMP/err"
expect_rc 2 $? "serve --rate nan"
expect_in "$TMP/err" '"nan" is not a number' "serve --rate nan"
run serve --offload-above 3 >/dev/null 2>"$TMP/err"
expect_rc 2 $? "serve --offload-above 3"
expect_in "$TMP/err" '--offload-above: "3" is not a number from 0 to 2' "serve --offload-above 3"
run serve --log-buffer 4096 >/dev/null 2>"$TMP/err"
expect_rc 2 $? "serve --log-buffer 4096"
expect_in "$TMP/err" '"4096" is not a number from 65536' "serve --log-buffer 4096"

run serve --event-loop kqueue >/dev/null 2>"$TMP/err"
expect_rc 2 $? "serve --event-loop kqueue"
expect_in "$TMP/err" '--event-loop: "kqueue" is not ev or poll' "serve --event-loop kqueue"
AUTOASSIST_EVENT_LOOP=select run serve >/dev/null 2>"$TMP/err"
expect_rc 2 $? "AUTOASSIST_EVENT_LOOP=select"
expect_in "$TMP/err" 'AUTOASSIST_EVENT_LOOP: "select" is not ev or poll' "AUTOASSIST_EVENT_LOOP=select"

run classify --intents "$TMP/no-such-dir" hello >"$TMP/out" 2>"$TMP/err"
expect_rc 3 $? "a missing intents dir"
expect_in "$TMP/err" "$TMP/no-such-dir" "a missing intents dir"
run classify "${DATA[@]}" --templates "$TMP/no-such-dir" hello >/dev/null 2>"$TMP/err"
expect_rc 3 $? "a missing templates dir"
run classify "${DATA[@]}" --lang xx hello >/dev/null 2>"$TMP/err"
expect_rc 2 $? "--lang xx"

# ---- classify TEXT: the explanation for people ----

run classify "${DATA[@]}" "${TODAY[@]}" \
	"Can I take my Tibber Pulse with me to the new house? We also have solar panels." \
	>"$TMP/out" 2>"$TMP/err"
expect_rc 0 $? "classify TEXT"
expect_in "$TMP/out" "language: en" "classify TEXT"
expect_in "$TMP/out" "pulse_relocation" "classify TEXT"
expect_py "classify TEXT: pulse_relocation is detected" '
import re, sys
text = open(sys.argv[1]).read()
assert re.search(r"^\s+pulse_relocation\s+[01]\.\d{3}\s+detected", text, re.M), text
' "$TMP/out"
expect_in "$TMP/out" "l2: escalate" "classify TEXT"
expect_in "$TMP/out" "solar" "classify TEXT"
expect_in "$TMP/out" "reply:" "classify TEXT"
expect_in "$TMP/out" "You can take your Tibber Pulse with you!" "classify TEXT"
expect_in "$TMP/out" "will be split off into a separate ticket" "classify TEXT"

run classify "${DATA[@]}" "${TODAY[@]}" Wann beginnt mein Vertrag? >"$TMP/out" 2>&1
expect_rc 0 $? "classify German TEXT (several arguments)"
expect_in "$TMP/out" "language: de" "classify German TEXT"
expect_in "$TMP/out" "contract_start_date" "classify German TEXT"
expect_in "$TMP/out" "Einzugsdatum" "classify German TEXT"

run classify "${DATA[@]}" "${TODAY[@]}" --lang de "Can I take my Tibber Pulse with me?" \
	>"$TMP/out" 2>&1
expect_rc 0 $? "classify --lang de"
expect_in "$TMP/out" "language: de" "classify --lang de"
expect_in "$TMP/out" "Du kannst deinen Tibber Pulse mitnehmen!" "classify --lang de"

run classify "${DATA[@]}" "${TODAY[@]}" "$(printf 'abc \xff')" >"$TMP/out" 2>"$TMP/err"
expect_rc 1 $? "classify invalid UTF-8"
expect_in "$TMP/err" "UTF-8" "classify invalid UTF-8"

# ---- classify --jsonl: one object per line, in order ----

{
	echo '{"text": "Can I take my Tibber Pulse with me to the new house?"}'
	echo 'this is not JSON'
	echo '{"session": "a", "text": "When does my contract start?"}'
	echo '{"note": "a line without text"}'
	printf '{"text": "raw \xff\xfe bytes"}\n'
	echo '{"session": "a", "text": "We move in on 1 March 2027"}'
	echo '{"session": "b", "text": "Wann beginnt mein Vertrag?"}'
	echo '{"session": "b", "text": "morgen"}'
	echo '{"text": "hello", "lang": "xx"}'
	echo '{"text": "We have solar panels and a battery"}'
	echo '{"text": 42}'
	echo ''
	echo '{"text": "How do I change my payment method?"}'
	echo '{"session": "a\u0000b", "text": "We move in on 1 March 2027"}'
	echo "{\"session\": \"$(printf 's%.0s' $(seq 64))\", \"text\": \"hi\"}"
	echo '{"text": "our solar\u0000 panels"}'
	echo '{"session": "c", "text": "Will my payment method change?", "lang": "en"}'
	echo '{"session": "c", "text": "Will my payment method change?", "lang": "de"}'
} >"$TMP/in.jsonl"
run classify "${DATA[@]}" "${TODAY[@]}" --jsonl <"$TMP/in.jsonl" >"$TMP/out.jsonl" 2>"$TMP/err"
expect_rc 1 $? "classify --jsonl with rejected lines"
expect_py "classify --jsonl: one object per line, in order" '
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").split("\n")
assert lines[-1] == "", "the output does not end with a newline"
out = [json.loads(l) for l in lines[:-1]]
assert len(out) == 18, "%d objects for 18 lines" % len(out)
assert all(isinstance(o, dict) for o in out)
def ok(o):
    for k in ("intents", "escalate", "l2_topics", "lang", "slots", "reply"):
        assert k in o, "no %s in %r" % (k, o)
    for it in o["intents"]:
        assert 0 <= it["score"] <= 1, it
    scores = [it["score"] for it in o["intents"]]
    assert scores == sorted(scores, reverse=True), scores
    return o
def err(o, line, code):
    assert o.get("error", {}).get("line") == line, o
    assert o["error"]["code"] == code, o
ids = lambda o: [it["id"] for it in o["intents"]]
o = ok(out[0]); assert ids(o) == ["pulse_relocation"], o
assert o["escalate"] is False and o["l2_topics"] == [] and o["lang"] == "en", o
assert "You can take your Tibber Pulse with you!" in o["reply"], o
err(out[1], 2, "bad_json")
o = ok(out[2]); assert ids(o) == ["contract_start_date"], o
assert o["outcomes"] == [{"intent": "contract_start_date", "outcome": "ask"}], o
err(out[3], 4, "bad_text")
err(out[4], 5, "bad_utf8")
o = ok(out[5])   # session a goes on: the date is asked for the meter ID
assert o["slots"]["date"] == "2027-03-01", o
assert "To confirm 1 March 2027 as your start date" in o["reply"], o
o = ok(out[6]); assert o["lang"] == "de", o
o = ok(out[7])   # session b stays German; "morgen" is the 27th
assert o["lang"] == "de" and o["slots"]["date"] == "2026-11-27", o
assert "27. November 2026" in o["reply"], o
err(out[8], 9, "bad_lang")
o = ok(out[9]); assert o["escalate"] is True, o
assert o["l2_topics"] == ["solar", "battery"], o
assert o["technical_part"] == ["We have solar panels and a battery"], o
err(out[10], 11, "bad_text")
err(out[11], 12, "bad_json")
o = ok(out[12]); assert ids(o) == ["payment_method"], o
# Sessions are told apart by all their bytes: one they would be cut to is
# refused, and U+0000 in text too.
err(out[13], 14, "bad_session")
err(out[14], 15, "bad_session")
err(out[15], 16, "bad_text")
# A later line'"'"'s lang sets the conversation'"'"'s, as a hello'"'"'s does.
assert ok(out[16])["lang"] == "en" and ok(out[17])["lang"] == "de", out[16:]
' "$TMP/out.jsonl"

# The same without the bad lines: exit 0.
grep -v -e 'not JSON' -e 'without text' -e 'raw' -e '"xx"' -e '42' -e '^$' -e 'u0000' -e 'ssss' "$TMP/in.jsonl" \
	>"$TMP/good.jsonl"
run classify "${DATA[@]}" "${TODAY[@]}" --jsonl <"$TMP/good.jsonl" >"$TMP/out.jsonl" 2>&1
expect_rc 0 $? "classify --jsonl, all lines good"
expect_py "classify --jsonl, all lines good" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(out) == 9 and all("reply" in o for o in out), out
' "$TMP/out.jsonl"
run classify "${DATA[@]}" --jsonl </dev/null >"$TMP/out.jsonl" 2>&1
expect_rc 0 $? "classify --jsonl, no input"
if [ -s "$TMP/out.jsonl" ]; then fail "classify --jsonl with no input wrote something"; else pass; fi
printf '{"text": "How do I change my payment method?"}' |
	run classify "${DATA[@]}" --jsonl >"$TMP/out.jsonl" 2>&1
expect_rc 0 $? "classify --jsonl, last line without a newline"
expect_py "classify --jsonl, last line without a newline" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(out) == 1 and out[0]["intents"][0]["id"] == "payment_method", out
' "$TMP/out.jsonl"

# ---- --tickets: a ticket for each escalating message, named in its reply ----

{
	echo '{"text": "Can I take my Tibber Pulse with me?"}'
	echo '{"text": "We have solar panels on the roof"}'
	echo '{"session": "s1", "text": "How do I change my payment method? Also our inverter uses Modbus."}'
	echo '{"text": "We do not have solar panels"}'
} >"$TMP/in.jsonl"
run classify "${DATA[@]}" "${TODAY[@]}" --jsonl --tickets "$TMP/tickets.jsonl" \
	<"$TMP/in.jsonl" >"$TMP/out.jsonl" 2>"$TMP/err"
expect_rc 0 $? "classify --tickets"
expect_py "classify --tickets: tickets only for escalations, named in the reply" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
tickets = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(out) == 4, out
assert [o["escalate"] for o in out] == [False, True, True, False], out
assert len(tickets) == 2, tickets
t1, t2 = tickets
assert t1["ticket_id"] == "L2-20261126-0001" and t2["ticket_id"] == "L2-20261126-0002", tickets
assert "(L2-20261126-0001)" in out[1]["reply"] and "escalated" in out[1]["reply"], out[1]
assert "(L2-20261126-0002)" in out[2]["reply"], out[2]
assert "L2-2026" not in out[0]["reply"] and "L2-2026" not in out[3]["reply"], out
assert t1["message"] == "We have solar panels on the roof", t1
assert t1["l2_topics"] == ["solar"], t1
assert t2["session_id"] == "s1" and "modbus" in t2["l2_topics"], t2
assert t2["technical_part"] == ["Also our inverter uses Modbus."], t2
assert "payment_method" in t2["intents_answered"], t2
for t in tickets:
    for k in ("ticket_id", "session_id", "created_at", "lang", "technical_part", "message",
              "l2_topics", "slots", "intents_answered", "turns"):
        assert k in t, (k, t)
' "$TMP/out.jsonl" "$TMP/tickets.jsonl"

# A second run appends, and the numbers go on.
run classify "${DATA[@]}" "${TODAY[@]}" --tickets "$TMP/tickets.jsonl" \
	"We have a home battery" >"$TMP/out" 2>&1
expect_rc 0 $? "classify TEXT --tickets"
expect_in "$TMP/out" "(L2-20261126-0003)" "classify TEXT --tickets"
expect_py "classify TEXT --tickets appends" '
import json, sys
tickets = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [t["ticket_id"][-4:] for t in tickets] == ["0001", "0002", "0003"], tickets
' "$TMP/tickets.jsonl"
run classify "${DATA[@]}" "${TODAY[@]}" --tickets "$TMP/no-such-dir/t.jsonl" \
	"We have a home battery" >/dev/null 2>&1
expect_rc 4 $? "--tickets in a missing directory"

# A torn last line (a crash, a full disk) is ended, and its number is not
# given again.
printf '{"ticket_id":"L2-20261126-0004","creat' >>"$TMP/tickets.jsonl"
run classify "${DATA[@]}" "${TODAY[@]}" --tickets "$TMP/tickets.jsonl" \
	"We have a home battery" >"$TMP/out" 2>&1
expect_rc 0 $? "--tickets after a torn line"
expect_in "$TMP/out" "(L2-20261126-0005)" "--tickets after a torn line"
expect_py "--tickets after a torn line: the new ticket is a line of its own" '
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == "" and lines[-3].endswith("creat"), lines[-3:]
assert json.loads(lines[-2])["ticket_id"] == "L2-20261126-0005", lines[-2]
' "$TMP/tickets.jsonl"

# Two runs at once would number tickets alike: the second is refused.
if command -v flock >/dev/null; then
	flock "$TMP/tickets.jsonl" "$BIN" classify "${DATA[@]}" "${TODAY[@]}" \
		--tickets "$TMP/tickets.jsonl" "We have a home battery" >"$TMP/out" 2>"$TMP/err"
	expect_rc 4 $? "--tickets held by another run"
	expect_in "$TMP/err" "is in use by another process; give each its own --tickets" \
		"--tickets held by another run"
fi
# A ticket that cannot be written (the file size limit, as a full disk):
# the reply says so, and the exit code too.
size=$(stat -c %s "$TMP/tickets.jsonl")
(ulimit -f $(( size / 1024 )); trap '' XFSZ;
 "$BIN" classify "${DATA[@]}" "${TODAY[@]}" --tickets "$TMP/tickets.jsonl" \
	"We have a home battery" >"$TMP/out" 2>&1)
expect_rc 4 $? "--tickets write fails"
expect_not_in "$TMP/out" "(L2-20261126-" "--tickets write fails: no reference given"
expect_py "--tickets write fails: the file holds whole lines only, as before" '
import sys
assert open(sys.argv[1], "rb").read().endswith(b"}\n")
' "$TMP/tickets.jsonl"
# A failed append is taken back, and so is its number: the next ticket of
# the run takes it, and the next run does not give it again. The file is
# padded to a whole KiB, then 1 KiB more is allowed: the long ticket does
# not fit, the short one after it does.
python3 - "$TMP/tickets.jsonl" <<'PY'
import sys
p = sys.argv[1]
size = len(open(p, "rb").read())
n = (-size) % 1024
n += 1024 if n < 16 else 0
open(p, "a").write('{"pad":"' + "x" * (n - 11) + '"}\n')
PY
size=$(stat -c %s "$TMP/tickets.jsonl")
lines=$(wc -l <"$TMP/tickets.jsonl")
long=$(python3 -c 'print("Our solar inverter is broken. " + "It beeps. " * 150)')
(ulimit -f $(( size / 1024 + 1 )); trap '' XFSZ;
 printf '{"text": "%s"}\n{"text": "We have a home battery"}\n' "$long" |
	"$BIN" classify "${DATA[@]}" "${TODAY[@]}" --jsonl --tickets "$TMP/tickets.jsonl" \
	>"$TMP/out" 2>&1)
expect_rc 4 $? "--tickets, a long ticket fails and a short one fits"
expect_in "$TMP/out" "$(printf '(L2-20261126-%04d)' $((lines + 1)))" \
	"--tickets: the short ticket takes the number the failed one left"
run classify "${DATA[@]}" "${TODAY[@]}" --tickets "$TMP/tickets.jsonl" \
	"We have a home battery" >"$TMP/out" 2>&1
expect_py "--tickets: no number is given twice" '
import json, sys
ids = []
for l in open(sys.argv[1], encoding="utf-8"):
    try:
        ids.append(json.loads(l)["ticket_id"])
    except (ValueError, KeyError):
        pass  # the torn line and the padding
assert len(ids) == len(set(ids)), ids
' "$TMP/tickets.jsonl"

# Not a file (a device that reads without end, stdout as a pipe): no hang,
# and the ticket is told not recorded. With stdout closed, nothing meant
# for it lands in the ticket file.
timeout 10 "$BIN" classify "${DATA[@]}" "${TODAY[@]}" --tickets /dev/full \
	"We have a home battery" >"$TMP/out" 2>&1
expect_rc 4 $? "--tickets /dev/full"
expect_in "$TMP/out" "I couldn’t record the technical part" "--tickets /dev/full"
timeout 10 "$BIN" classify "${DATA[@]}" "${TODAY[@]}" --tickets /dev/stdout \
	"We have a home battery" 2>&1 | cat >"$TMP/out"
expect_rc 4 "${PIPESTATUS[0]}" "--tickets /dev/stdout, a pipe"
expect_in "$TMP/out" "I couldn’t record the technical part" "--tickets /dev/stdout, a pipe"
lines_before=$(wc -l <"$TMP/tickets.jsonl")
run classify "${DATA[@]}" "${TODAY[@]}" --tickets "$TMP/tickets.jsonl" \
	"We have a home battery" >&- 2>"$TMP/err"
expect_rc 4 $? "classify with stdout closed"
expect_in "$TMP/err" "cannot write the output" "classify with stdout closed"
expect_py "classify with stdout closed: the ticket file holds tickets only" '
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]
assert len(lines) == int(sys.argv[2]) + 1, (len(lines), sys.argv[2])
assert json.loads(lines[-1])["ticket_id"].startswith("L2-"), lines[-1]
' "$TMP/tickets.jsonl" "$lines_before"

# ---- --registry: the date is confirmed against it ----

cp "$FIX/registry.jsonl" "$TMP/registry.jsonl"
MSG="When does my contract start? We move in on 1 March 2027, meter ID 707057500012345671"
run classify "${DATA[@]}" "${TODAY[@]}" --registry "$TMP/registry.jsonl" "$MSG" \
	>"$TMP/out" 2>&1
expect_rc 0 $? "classify --registry"
expect_in "$TMP/out" "contract_start_date=confirmed" "classify --registry"
expect_in "$TMP/out" \
	"I’ve confirmed your Tibber contract for the new address starts on 1 March 2027. Your billing for the old address will automatically cease on that day." \
	"classify --registry"
run classify "${DATA[@]}" "${TODAY[@]}" "$MSG" >"$TMP/out" 2>&1
expect_rc 0 $? "classify without --registry"
expect_in "$TMP/out" "contract_start_date=unavailable" "classify without --registry"
expect_not_in "$TMP/out" "I’ve confirmed" "classify without --registry"
run classify "${DATA[@]}" "${TODAY[@]}" --registry "$TMP/registry.jsonl" \
	"When does my contract start? We move in on 1 April 2027, meter ID 707057500012345671" \
	>"$TMP/out" 2>&1
expect_in "$TMP/out" "contract_start_date=mismatch" "classify --registry, another date"
expect_in "$TMP/out" "The grid registry shows 1 March 2027" "classify --registry, another date"
# A British postcode is read after the town, and another one rules the
# street's record in London out.
run classify "${DATA[@]}" "${TODAY[@]}" --registry "$TMP/registry.jsonl" \
	"When does my contract start? We move in on 1 June 2027 to 221B Baker Street, Leeds LS1 4AP" \
	>"$TMP/out" 2>&1
expect_in "$TMP/out" "contract_start_date=not_found" "classify --registry, a British postcode elsewhere"
run classify "${DATA[@]}" "${TODAY[@]}" --registry "$TMP/registry.jsonl" \
	"When does my contract start? We move in on 1 June 2027 to 221B Baker Street, London NW1 6XE" \
	>"$TMP/out" 2>&1
expect_in "$TMP/out" "contract_start_date=confirmed" "classify --registry, a British postcode"
printf '%s\n' '{"meter_id": "707057500012345671"}' >"$TMP/bad-registry.jsonl"
run classify "${DATA[@]}" --registry "$TMP/bad-registry.jsonl" hello >/dev/null 2>"$TMP/err"
expect_rc 3 $? "a malformed registry"
expect_in "$TMP/err" "bad-registry.jsonl:1:" "a malformed registry"
run classify "${DATA[@]}" --registry "$TMP/no-such-registry.jsonl" hello >/dev/null 2>&1
expect_rc 3 $? "a missing registry"
run classify "${DATA[@]}" --registry "$TMP" hello >/dev/null 2>"$TMP/err"
expect_rc 3 $? "a directory as the registry"
expect_in "$TMP/err" "Is a directory" "a directory as the registry"
# A line that starts with a NUL is no blank line to skip (registry load
# --replace would then delete that meter), and a field too long for the
# record is refused, not cut (two addresses could become one).
{ head -1 "$FIX/registry.jsonl"; printf '\0'; sed -n 2p "$FIX/registry.jsonl"; } >"$TMP/nul-registry.jsonl"
run classify "${DATA[@]}" --registry "$TMP/nul-registry.jsonl" hello >/dev/null 2>"$TMP/err"
expect_rc 3 $? "a registry line starting with a NUL"
expect_in "$TMP/err" "nul-registry.jsonl:2:" "a registry line starting with a NUL"
python3 -c 'import json; print(json.dumps({"meter_id": "707057500012345671", "address": "A" * 200 + " 5", "supply_start": "2027-03-01"}))' \
	>"$TMP/long-registry.jsonl"
run classify "${DATA[@]}" --registry "$TMP/long-registry.jsonl" hello >/dev/null 2>"$TMP/err"
expect_rc 3 $? "a registry address too long for the record"
expect_in "$TMP/err" "long-registry.jsonl:1: address, postcode or city is over" \
	"a registry address too long for the record"

# ---- the first message's language: "flytter" / "flyttar" is enough ----
# Norwegian and Swedish share most short words; the verb of moving tells
# them apart, so "vi flytter i morgen" is not answered in English, and so
# do the verbs of short questions ("fungerar det", "funker det").
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/lang.jsonl" '{"text": "vi flytter i morgen"}' '{"text": "vi flyttar imorgon"}' \
		'{"text": "we move tomorrow"}' '{"text": "new address Hauptstraße 5"}' \
		'{"text": "fungerar det med solceller?"}' '{"text": "funker det med solceller?"}' \
		'{"text": "kan pulsen snakke modbus med varmepumpa?"}'
	expect_py "a short nb/sv first message is answered in its language" '
import json, sys
langs = [json.loads(l)["lang"] for l in open(sys.argv[1], encoding="utf-8")]
assert langs == ["nb", "sv", "en", "en", "sv", "nb", "nb"], langs
' "$TMP/lang.jsonl"
fi

# ---- common misspellings of trigger words escalate; look-alikes do not ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/typos.jsonl" '{"text": "my invertor is broken"}' '{"text": "our powerwal shows an error"}' \
		'{"text": "the picture is inverted"}' '{"text": "we won the powerball"}' \
		'{"text": "The inverter password I dont have"}'
	expect_py "misspelt triggers escalate, look-alikes do not" '
import json, sys
esc = [json.loads(l)["escalate"] for l in open(sys.argv[1], encoding="utf-8")]
assert esc == [True, True, False, False, True], esc
' "$TMP/typos.jsonl"
fi

# ---- feed-in without the panels' name, other devices' batteries ----
# Selling the surplus is solar ("excess power back to the grid",
# "inmatning"), and so are compounds misspelt where a stem takes no typo;
# the battery of a car key, a laptop or a doorbell is no home battery, nor
# is a Pulse's; solar panels "not included" in the new house are none.
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/l2probe.jsonl" \
		'{"text": "we are selling excess power back to the grid, how does that work at the new place?"}' \
		'{"text": "hur blir det med ersättning för inmatning på nya adressen?"}' \
		'{"text": "Vi flytter 1. februar og har solsellepaneler."}' \
		'{"text": "vi har soceller på taket"}' \
		'{"text": "The car key battery died, anyway: does the payment method stay the same?"}' \
		'{"text": "Batteriet til bilnøkkelen er dødt"}' \
		'{"text": "Min dator har dåligt batteri så jag skriver kort"}' \
		'{"text": "Akku vom Laptop schwach. Kurz: Pulse mitnehmen, geht das?"}' \
		'{"text": "de batterij voor de deurbel is leeg"}' \
		'{"text": "Der Pulse hat eine Batterie? Er blinkt rot seit dem Umzug."}' \
		'{"text": "We move into the Solaris building on 1 March"}' \
		'{"text": "Solceller ingår tyvärr inte i nya huset."}' \
		'{"text": "the battery of our home storage is dead"}'
	expect_py "feed-in and misspelt compounds escalate; device batteries, a building name and panels not included do not" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
esc = [o["escalate"] for o in out]
assert esc == [True] * 4 + [False] * 8 + [True], esc
assert out[4]["intents"][0]["id"] == "payment_method", out[4]["intents"]
' "$TMP/l2probe.jsonl"
	classify_lines "$TMP/paywords.jsonl" '{"text": "Bleibt die Zahlart gleich?"}' \
		'{"text": "Hoe pas ik mijn betaalgegevens aan?"}' \
		'{"text": "Kan Tibber lese av inverteren via modbus?"}' '{"text": "Kan ni läsa SunSpec via Modbus TCP?"}' \
		'{"text": "Please stop charging my old card"}' '{"text": "sluta dra från mitt gamla kort, jag har fått ett nytt"}' \
		'{"text": "Stop charging me at the old address from 1 March"}'
	expect_py "Zahlart, betaalgegevens and an old card ask for the payment method; reading verbs tell nb from sv" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids[:2] + ids[4:6] == [["payment_method"]] * 4, ids
assert ids[6] == ["contract_start_date"], ids
assert [o["lang"] for o in out[:4]] == ["de", "nl", "nb", "sv"], [o["lang"] for o in out]
' "$TMP/paywords.jsonl"
fi

# ---- the address in the app, and moving the contract ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/appaddr.jsonl" '{"text": "how long until my new address shows in the app"}' \
		'{"text": "hvordan endrer jeg adressen i appen"}' '{"text": "hur ändrar jag min adress i appen"}' \
		'{"text": "wie lange dauert es bis die neue Adresse in der App auftaucht"}' \
		'{"text": "hoe lang duurt het voordat het nieuwe adres in de app staat"}' \
		'{"text": "how do i change my email address in the app"}' \
		'{"text": "I need to move my contract to the new house"}' \
		'{"text": "kan ni kolla om id 707057500012345671 stämmer? det blir fel hela tiden"}' \
		'{"text": "the solar inverter at the new address shows an error"}'
	expect_py "the address in the app is an address question in every language, an e-mail address none; moving the contract asks its start" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids[:5] == [["address_update"]] * 5, ids
assert ids[5] == [] and ids[6] == ["contract_start_date"], ids
assert out[7]["lang"] == "sv", out[7]["lang"]
assert ids[8] == [], ids
' "$TMP/appaddr.jsonl"
fi

# ---- street names of several words after a cue ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/streets.jsonl" '{"text": "nieuw adres is Markt 3, 6211 CK Maastricht"}' \
		'{"text": "Address is Laan van Meerdervoort 200, 2517 BL Den Haag"}' \
		'{"text": "ny adresse Nedre Slottsgate 8, 0157 Oslo"}'
	expect_py "the street after a cue keeps its every word and no verb" '
import json, sys
streets = [json.loads(l)["slots"]["address"]["street"] for l in open(sys.argv[1], encoding="utf-8")]
assert streets == ["Markt 3", "Laan van Meerdervoort 200", "Nedre Slottsgate 8"], streets
' "$TMP/streets.jsonl"
fi

# ---- a phone low on battery, a smoke detector's: no home battery ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/lowbatt.jsonl" '{"text": "The batteries in my smoke detector need changing"}' \
		'{"text": "my phone has low battery so quick question"}' \
		'{"text": "mobilen har lite batteri så jeg skriver kort"}' \
		'{"text": "mobilen har lite batteri så jag skriver kort"}' \
		'{"text": "mein Handy hat kaum noch Akku, kurze Frage"}' \
		'{"text": "mijn telefoon heeft weinig batterij"}' \
		'{"text": "de batterij van mijn Pulse is leeg"}' '{"text": "der Akku vom Pulse ist leer"}' \
		'{"text": "the pulse battery is flat after the move"}' \
		'{"text": "vi har et lite batteri i garasjen"}'
	expect_py "a phone low on battery, a smoke detector and the battery of the Pulse escalate nothing in any language; a small home battery does" '
import json, sys
esc = [json.loads(l)["escalate"] for l in open(sys.argv[1], encoding="utf-8")]
assert esc == [False] * 9 + [True], esc
' "$TMP/lowbatt.jsonl"
fi

# ---- of two dates, the move in (the in/out lines of [dates]) ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/dates.jsonl" '{"text": "we move out of the old flat on 3 March and move in on 5 March"}' \
		'{"text": "vi flytter ut 3. mars og flytter inn 5. mars"}' \
		'{"text": "vi flyttar ut 3 mars och flyttar in 5 mars"}' \
		'{"text": "Auszug am 3. März, Einzug am 5. März"}' \
		'{"text": "oplevering oude huis 3 maart, sleuteloverdracht nieuwe huis 5 maart"}' \
		'{"text": "we moved out of Baker Street 1 on 3 March and into Storgata 5 on 5 March"}' \
		'{"text": "vi flyttet ut 3. mars og inn i Storgata 5 5. mars"}' \
		'{"text": "vi flyttade ut 3 mars och in i Drottninggatan 5 5 mars"}'
	expect_py "the move-in date is the start date in every language" '
import json, sys
dates = [json.loads(l)["slots"]["date"] for l in open(sys.argv[1], encoding="utf-8")]
assert dates == ["2027-03-05"] * 8, dates
' "$TMP/dates.jsonl"
fi

# ---- a week or a month is no date: it is asked for, not guessed ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/vague.jsonl" '{"text": "we move next month, when does the contract start?"}' \
		'{"text": "vi flytter neste uke, når starter avtalen?"}' \
		'{"text": "vi flyttar nästa månad, när börjar avtalet?"}' \
		'{"text": "Wir ziehen nächsten Monat um, wann beginnt der Vertrag?"}' \
		'{"text": "we verhuizen volgende week, wanneer start het contract?"}' \
		'{"text": "we move in on the first of next month"}' \
		'{"text": "We move next week on Friday"}' \
		'{"text": "Wir ziehen nächste Woche am Freitag um"}' \
		'{"text": "vi flytter neste uke på fredag"}' \
		'{"text": "vi flyttar nästa vecka på fredag"}' \
		'{"text": "we verhuizen volgende week op vrijdag"}'
	expect_py "next week / next month give no date; the first of next month and next week on Friday do" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["slots"].get("date") for o in out] == [None] * 5 + ["2026-12-01"] + ["2026-12-04"] * 5, out
assert all(o["outcomes"] == [{"intent": "contract_start_date", "outcome": "ask"}] for o in out[:5]), out
' "$TMP/vague.jsonl"
fi

# ---- past days: the move's date after a cue, said in passing without ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/past.jsonl" '{"text": "we moved in yesterday, when does the contract start?"}' \
		'{"text": "vi flyttet inn i går, når starter avtalen?"}' \
		'{"text": "vi flyttade in igår, när börjar avtalet?"}' \
		'{"text": "Einzug war gestern, wann beginnt der Vertrag?"}' \
		'{"text": "de sleuteloverdracht was gisteren, wanneer gaat het contract in?"}' \
		'{"text": "we moved in last Monday, when does the contract start?"}' \
		'{"text": "vi flyttet inn for to dager siden, når starter avtalen?"}' \
		'{"text": "vi flyttade in för tre dagar sedan, när börjar avtalet?"}' \
		'{"text": "Einzug war vor zwei Tagen, wann beginnt der Vertrag?"}' \
		'{"text": "de sleuteloverdracht was afgelopen maandag, wanneer gaat het contract in?"}' \
		'{"text": "I paid by card yesterday, can I change the payment method?"}' \
		'{"text": "jeg ringte i går, kan jeg bytte betalingsmåte?"}' \
		'{"text": "jag ringde igår, kan jag byta betalningssätt?"}' \
		'{"text": "ich habe gestern angerufen, kann ich die Zahlungsart ändern?"}' \
		'{"text": "ik heb gisteren gebeld, kan ik de betaalmethode wijzigen?"}'
	expect_py "past days in every language: the move-in date after a cue, in passing without" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
dates = [o["slots"].get("date") for o in out]
want = ["2026-11-25"] * 5 + ["2026-11-23", "2026-11-24", "2026-11-23", "2026-11-24", "2026-11-23"]
assert dates == want + [None] * 5, dates
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids == [["contract_start_date"]] * 10 + [["payment_method"]] * 5, ids
' "$TMP/past.jsonl"
fi

# ---- past-tense move phrases before or right after the date ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/moved.jsonl" '{"text": "we got the keys yesterday"}' \
		'{"text": "i går flyttet vi inn"}' \
		'{"text": "vi flyttade in igår"}' \
		'{"text": "igår flyttade vi in"}' \
		'{"text": "wir sind gestern eingezogen"}' \
		'{"text": "gestern sind wir umgezogen"}' \
		'{"text": "we zijn gisteren verhuisd"}' \
		'{"text": "we zijn gisteren ingetrokken"}' \
		'{"text": "ich habe gestern angerufen, umgezogen sind wir noch nicht"}' \
		'{"session": "nb", "text": "vi flytter inn 1. mars"}' \
		'{"session": "nb", "text": "i morgen flytter vi ut"}' \
		'{"session": "de", "text": "Einzug am 1. März"}' \
		'{"session": "de", "text": "morgen ziehen wir aus"}'
	expect_py "past-tense move phrases announce the move in, in every language" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
dates = [o["slots"].get("date") for o in out]
assert dates == ["2026-11-25"] * 8 + [None] + ["2027-03-01"] * 4, dates
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids[:9] == [["contract_start_date"]] * 8 + [[]], ids
' "$TMP/moved.jsonl"
fi

# ---- a weekday the move was on, in the past tense: the last one ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/pastday.jsonl" '{"text": "we moved in on Monday"}' \
		'{"text": "vi flyttet inn på mandag"}' \
		'{"text": "vi flyttade in på måndag"}' \
		'{"text": "wir sind am Montag eingezogen"}' \
		'{"text": "we zijn op maandag verhuisd"}' \
		'{"text": "we got the keys on Thursday"}' \
		'{"text": "we move in on Monday"}' \
		'{"text": "wir ziehen am Montag ein"}' \
		'{"text": "vi flyttet inn i mandags"}' '{"text": "i måndags flyttade vi in"}' \
		'{"text": "vi flytter inn på lørdag"}'
	expect_py "a weekday in the past tense is the last one before today, in every language; so are \"i mandags\", \"i måndags\"" '
import json, sys
dates = [json.loads(l)["slots"].get("date") for l in open(sys.argv[1], encoding="utf-8")]
assert dates == ["2026-11-23"] * 5 + ["2026-11-19", "2026-11-30", "2026-11-30"] + ["2026-11-23"] * 2 + ["2026-11-28"], dates
' "$TMP/pastday.jsonl"
fi

# ---- a day of the month alone, after a phrase of the move ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/dayalone.jsonl" '{"text": "we move on the 1st"}' \
		'{"text": "vi flytter den 1."}' '{"text": "vi flyttar in den 1:a"}' \
		'{"text": "Einzug am 1."}' '{"text": "we verhuizen de 1e"}' \
		'{"text": "we moved in on the 3rd"}' '{"text": "moving to the 2nd floor"}' \
		'{"text": "we hand over the keys on the 31st"}' \
		'{"text": "Flyttar in hos min sambo den 20:e."}' \
		'{"text": "vi leverer nøklene den 31."}' \
		'{"text": "möchte den Vertrag umziehen, Beginn am 1."}' \
		'{"text": "we dragen de sleutels over op de 31e"}' \
		'{"text": "we move in March, the party is on the 20th."}'
	expect_py "\"on the 1st\" after a phrase of the move, or in its clause, is the next 1st, in every language; in the past tense the last" '
import json, sys
dates = [json.loads(l)["slots"].get("date") for l in open(sys.argv[1], encoding="utf-8")]
assert dates[:7] == ["2026-12-01"] * 5 + ["2026-11-03", None], dates
assert dates[7:] == ["2026-12-31", "2026-12-20", "2026-12-31", "2026-12-01", "2026-12-31", None], dates
' "$TMP/dayalone.jsonl"
fi

# ---- a correction of the date, in every language ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/correct.jsonl" \
		'{"session": "en", "text": "when does my contract start?"}' '{"session": "en", "text": "1 March"}' \
		'{"session": "en", "text": "actually 15 March"}' \
		'{"session": "en", "text": "the electrician comes on 3 February"}' \
		'{"session": "nb", "text": "når starter avtalen?"}' '{"session": "nb", "text": "1. mars"}' \
		'{"session": "nb", "text": "nei vent, det er 15. mars"}' \
		'{"session": "sv", "text": "när börjar avtalet?"}' '{"session": "sv", "text": "1 mars"}' \
		'{"session": "sv", "text": "nej vänta, det blir 15 mars"}' \
		'{"session": "de", "text": "wann beginnt mein Vertrag?"}' '{"session": "de", "text": "1. März"}' \
		'{"session": "de", "text": "Korrektur: doch erst zum 15.3."}' \
		'{"session": "nl", "text": "wanneer begint mijn contract?"}' '{"session": "nl", "text": "1 maart"}' \
		'{"session": "nl", "text": "wacht, het wordt 15 maart"}' \
		'{"session": "x", "text": "when does my contract start?"}' '{"session": "x", "text": "1 March"}' \
		'{"session": "x", "text": "no, 15 March"}' '{"session": "x", "text": "sorry, the 20th"}'
	expect_py "a corrected date replaces the conversation's date, in every language, a day alone in its month; a date about something else does not" '
import json, sys
dates = [json.loads(l)["slots"].get("date") for l in open(sys.argv[1], encoding="utf-8")]
assert dates[1:4] == ["2027-03-01", "2027-03-15", "2027-03-15"], dates
assert dates[5:7] == dates[8:10] == dates[11:13] == dates[14:16] == ["2027-03-01", "2027-03-15"], dates
assert dates[17:] == ["2027-03-01", "2027-03-15", "2027-03-20"], dates
' "$TMP/correct.jsonl"
fi

# ---- thank-yous and goodbyes: the closing replies, in every language ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/closing.jsonl" '{"text": "thanks for the info"}' \
		'{"text": "thx, all good"}' '{"text": "cheers mate"}' '{"text": "appreciate it"}' \
		'{"text": "takk for infoen"}' '{"text": "tack för infon"}' \
		'{"text": "danke für die Info"}' '{"text": "bedankt voor de info"}' \
		'{"text": "all good?"}' '{"text": "all good, we have solar panels"}' \
		'{"text": "bye"}' '{"text": "that'"'"'s all"}' '{"text": "ha det bra"}' '{"text": "hej då"}' \
		'{"text": "Tschüss"}' '{"text": "doei"}' '{"text": "thanks, bye"}' '{"text": "ok, takk, ha det"}' \
		'{"text": "Tusen takk, ha en fin helg!"}' '{"text": "tack, ha en trevlig helg"}' \
		'{"text": "danke, ein schönes Wochenende"}' '{"text": "bedankt, prettig weekend"}' \
		'{"text": "Danke, das war'"'"'s schon!"}'
	expect_py "thank-yous get the closing reply, goodbyes the goodbye, in every language; a question or a topic neither" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
welcome = ("You’re welcome", "Bare hyggelig", "Ingen orsak", "Gern geschehen", "Graag gedaan")
bye = ("Good luck with your move", "Lykke til med flyttingen", "Lycka till med flytten",
       "Alles Gute für deinen Umzug", "Succes met je verhuizing")
kind = ["welcome" if o["reply"].startswith(welcome) else "bye" if o["reply"].startswith(bye)
        else "-" for o in out]
assert kind == ["welcome"] * 8 + ["-", "-"] + ["bye"] * 6 + ["welcome"] * 7, kind
assert out[9]["escalate"], out[9]
assert [o["lang"] for o in out[10:16]] == ["en", "en", "nb", "sv", "de", "nl"], out[10:16]
' "$TMP/closing.jsonl"
fi

# ---- saying there is no Pulse is no question about one ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/nopulse.jsonl" '{"text": "no pulse here"}' \
		'{"text": "we never had a pulse"}' \
		'{"text": "no tibber pulse, when does the contract start?"}' \
		'{"text": "vi har ikke pulse"}' '{"text": "wir haben keinen Pulse"}' \
		'{"text": "no pulse data since the move"}' \
		'{"text": "I get no pulse readings after moving, how do I reset it?"}'
	expect_py "no Pulse said, no Pulse answer; no Pulse data is a Pulse question" '
import json, sys
ids = [[i["id"] for i in json.loads(l)["intents"]] for l in open(sys.argv[1], encoding="utf-8")]
assert ids == [[], [], ["contract_start_date"], [], [], ["pulse_relocation"], ["pulse_relocation"]], ids
' "$TMP/nopulse.jsonl"
fi

# ---- a misspelt move verb beside a date still asks for the start date ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/movetypo.jsonl" '{"text": "vi flyter 1. mars"}' \
		'{"text": "flyttr 3 feb ny adr kommer"}' '{"text": "vi flytar 1 april"}' \
		'{"text": "wir umziehn am 1. März"}' '{"text": "the electrician comes on 3 February"}'
	expect_py "a move verb with a typo and a date is a start date question; a date alone is not" '
import json, sys
ids = [[i["id"] for i in json.loads(l)["intents"]] for l in open(sys.argv[1], encoding="utf-8")]
assert ids == [["contract_start_date"]] * 4 + [[]], ids
' "$TMP/movetypo.jsonl"
fi

# ---- logging in with Vipps is no payment question ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/vipps.jsonl" '{"text": "får ikke logget inn i appen, den henger på vipps-innloggingen"}' \
		'{"text": "kan ikke logge inn med Vipps"}' '{"text": "kan jeg betale med vipps?"}'
	expect_py "Vipps to log in is no payment method; Vipps to pay is" '
import json, sys
ids = [[i["id"] for i in json.loads(l)["intents"]] for l in open(sys.argv[1], encoding="utf-8")]
assert ids == [[], [], ["payment_method"]], ids
' "$TMP/vipps.jsonl"
fi

# ---- "fr.o.m." and "per 15-2": a new address as of a date ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/asof.jsonl" \
		'{"text": "Ny adress fr.o.m. 15/2: Götgatan 78, 118 30 Stockholm"}' \
		'{"text": "Ny adresse f.o.m. 15/2: Storgata 5, 0555 Oslo"}' \
		'{"text": "Nieuw adres per 15-2: Oudegracht 112, 3511 AX Utrecht"}'
	expect_py "a new address as of a date (fr.o.m., f.o.m., per 15-2) asks for the start date too" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [sorted(i["id"] for i in o["intents"]) for o in out]
assert ids == [["address_update", "contract_start_date"]] * 3, ids
assert [o["slots"]["date"][5:] for o in out] == ["02-15"] * 3, [o["slots"] for o in out]
' "$TMP/asof.jsonl"
fi

# ---- the final reading at the old home, then the new one's date ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/finalreading.jsonl" \
		'{"text": "Sluttavlesning gammel bolig 45 678 kWh pr 31.01. Ny bolig: Kongens gate 3, 7011 Trondheim fra 1. februar"}' \
		'{"text": "Eindstand oude woning: 12.345 kWh op 31-01. Nieuw adres Lange Voorhout 3, 2514 EA Den Haag vanaf 1 februari"}' \
		'{"text": "Final reading at the old flat on 31.01. New place: Baker Street 5 from 1 February"}'
	expect_py "the date of the final reading at the old home gives way to the new home's" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["slots"].get("date", "")[5:] for o in out] == ["02-01"] * 3, [o["slots"] for o in out]
' "$TMP/finalreading.jsonl"
fi

# ---- "Powerwall 2" is a battery, no street ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/powerwall.jsonl" \
		'{"text": "vi har batterilager (Powerwall 2) på nya stället. avtalet ska flyttas från 10 mars"}' \
		'{"text": "we have a Powerwall 2 at the new house, Storgata 5"}'
	expect_py "an L2 trigger word is no street name: Powerwall 2 is no address, the street after it is" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert "address" not in out[0]["slots"], out[0]["slots"]
assert [i["id"] for i in out[0]["intents"]] == ["contract_start_date"], out[0]["intents"]
assert out[1]["slots"]["address"]["street"] == "Storgata 5", out[1]["slots"]
assert all(o["escalate"] for o in out), out
' "$TMP/powerwall.jsonl"
fi

# ---- Swiss and Austrian German, Nynorsk ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/variants.jsonl" \
		'{"text": "Kei Solaranlag, kei Batterie, nur e normali Wohnig. Mir zügle am 1. Mai."}' \
		'{"text": "Wir übersiedeln am 1. März nach Graz"}' \
		'{"text": "Eg flyttar 20. januar. Me hev ikkje solceller"}' \
		'{"text": "Korleis endrar eg adressa mi i appen?"}' \
		'{"text": "Nøklane får vi 28. februar."}' \
		'{"text": "how can i actualise my adress in the app"}' \
		'{"text": "from the 1st in april we are living in new house please start the electricity there"}' \
		'{"text": "We gaan er 3 februari wonen"}'
	expect_py "Swiss negation and move verbs, Austrian übersiedeln, Nynorsk, learners' English and a Dutch split verb are understood; Nynorsk is answered in Norwegian" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids == [["contract_start_date"], ["contract_start_date"], ["contract_start_date"],
               ["address_update"], ["contract_start_date"], ["address_update"], ["contract_start_date"],
               ["contract_start_date"]], ids
assert not any(o["escalate"] for o in out), [o["escalate"] for o in out]
assert [o["lang"] for o in out] == ["de", "de", "nb", "nb", "nb", "en", "en", "nl"], [o["lang"] for o in out]
assert [o["slots"].get("date") for o in out[:5]] == ["2027-05-01", "2027-03-01", "2027-01-20", None, "2027-02-28"], [o["slots"] for o in out]
assert out[7]["slots"].get("date") == "2027-02-03", out[7]["slots"]
' "$TMP/variants.jsonl"
fi

# ---- thanks and goodbyes in dialect ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/dialectthanks.jsonl" \
		'{"text": "Takk for hjelpa, ha ein fin dag!"}' '{"text": "ni e bäst, tack!"}' \
		'{"text": "Danke vielmals, pfiat di!"}' '{"text": "Allee, bedankt hé!"}' \
		'{"text": "thank you so much you are very helpfull"}' '{"text": "Dank jullie wel!"}'
	expect_py "thanks in dialect or misspelt get a you are welcome, not the menu" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["lang"] for o in out] == ["nb", "sv", "de", "nl", "en", "nl"], [o["lang"] for o in out]
assert all(not o["intents"] for o in out), out
welcome = ["Bare hyggelig", "Ingen orsak", "Gern geschehen", "Graag gedaan", "You’re welcome", "Graag gedaan"]
assert all(o["reply"].startswith(w) for o, w in zip(out, welcome)), [o["reply"][:30] for o in out]
' "$TMP/dialectthanks.jsonl"
fi

# ---- "we move next month, what do I do with the electricity?" ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/whattodo.jsonl" \
		'{"text": "we are moving next month, what do I do with the electricity?"}' \
		'{"text": "vi flytter i mars, hva må jeg gjøre med strømmen?"}' \
		'{"text": "Vi flyttar till ett egnahemshus i februari, hur sköter jag elavtalet?"}' \
		'{"text": "wir ziehen im März um, was muss ich mit dem Strom machen?"}' \
		'{"text": "ik ga verhuizen binnen twee weken, wat moet ik doen voor de elektriciteit?"}' \
		'{"text": "ok let'"'"'s start on the 1st then"}'
	expect_py "asked what to do with the electricity when moving, the assistant asks for the start date; the 1st then is a date" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [[i["id"] for i in o["intents"]] for o in out] == [["contract_start_date"]] * 6, out
assert [o["lang"] for o in out] == ["en", "nb", "sv", "de", "nl", "en"], [o["lang"] for o in out]
assert out[5]["slots"]["date"] == "2026-12-01", out[5]["slots"]
' "$TMP/whattodo.jsonl"
fi

# ---- "Montag, der 30.": the weekday and the day together ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/weekdayday.jsonl" \
		'{"text": "wir ziehen am Montag, den 30. um"}' \
		'{"text": "Moment, der Einzug war am Montag, der 16."}'
	expect_py "a weekday with its day of the month gives the date with both, also in the past" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["slots"].get("date") for o in out] == ["2026-11-30", "2026-11-16"], [o["slots"] for o in out]
' "$TMP/weekdayday.jsonl"
fi

# ---- an e-mail's signature: its address is no new one ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/signature.jsonl" \
		'{"text": "Hei,\n\nVi har kjøpt hus og flytter 01.06.2027. Betaler i dag med AvtaleGiro, blir det overført?\n\nMed vennlig hilsen\nOla og Kari\nGamleveien 2B, 3. etg\n0560 Oslo\n97 65 43 21"}' \
		'{"text": "Hallo,\n\nwir ziehen am 01.06.2027 um.\n\nViele Grüße\nJulia Becker\nBergstraße 12\n69115 Heidelberg\nTel. 06221 123456"}' \
		'{"text": "Hi,\nnew address: Vasagatan 22, 111 20 Stockholm\n\nKind regards,\nAnna Berg\nRingvägen 5, 118 60 Stockholm"}' \
		'{"text": "pls stop billing me at Hegdehaugsveien 31 from 28 feb, thats my old flat"}' \
		'{"text": "Storgata 5 er den gamle adressen, den nye er Kirkeveien 3"}'
	expect_py "the address in an e-mail signature, or one called the old after it, is not taken for the new one; the body's still is" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [sorted(i["id"] for i in o["intents"]) for o in out]
assert ids[0] == ["contract_start_date", "payment_method"], ids
assert ids[1] == ["contract_start_date"], ids
assert "address" not in out[0]["slots"] and "address" not in out[1]["slots"], out
assert out[2]["slots"]["address"]["street"] == "Vasagatan 22", out[2]["slots"]
assert "address" not in out[3]["slots"] and "address_update" not in [i["id"] for i in out[3]["intents"]], out[3]
assert out[4]["slots"]["address"]["street"] == "Kirkeveien 3", out[4]["slots"]
' "$TMP/signature.jsonl"
fi

# ---- the Pulse in a technical question: the ticket's, not the Pulse answer ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/pulsetech.jsonl" '{"text": "can the Pulse read my Fronius inverter?"}' \
		'{"text": "kan Pulsen lese av vekselretteren min via modbus?"}' \
		'{"text": "visar Pulsen vad solcellerna producerar?"}' \
		'{"text": "Kann der Pulse die Daten vom Wechselrichter lesen?"}' \
		'{"text": "kan de Pulse mijn omvormer uitlezen?"}' \
		'{"text": "Wieso negative Werte? Der Pulse hängt am Zähler, wir haben 9,8 kWp aufm Dach"}' \
		'{"text": "Pulse viser rart, vi har 10kWp på taket"}' \
		'{"text": "we move on 1 March, can I take my Pulse? The new house has solar panels"}' \
		'{"text": "vi flytter, og Pulsen og solcellene viser ingen data"}' \
		'{"text": "tar med Pulsen till nya huset, där finns ett hembatteri"}' \
		'{"text": "Wir ziehen um, und der Pulse und der Wechselrichter zeigen nichts an"}' \
		'{"text": "neem ik de Pulse mee naar het nieuwe huis met zonnepanelen?"}'
	expect_py "a Pulse question that is technical goes to L2 alone (kWp is solar); one that speaks of the move keeps the Pulse answer" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
pulse = ["pulse_relocation" in [i["id"] for i in o["intents"]] for o in out]
assert pulse == [False] * 7 + [True] * 5, pulse
assert all(o["escalate"] for o in out), [o["escalate"] for o in out]
assert [o["lang"] for o in out[:5]] == ["en", "nb", "sv", "de", "nl"], [o["lang"] for o in out]
assert "Tibber Pulse" not in out[0]["reply"] and "L2" in out[0]["reply"], out[0]["reply"]
' "$TMP/pulsetech.jsonl"
fi

# ---- a fact's label answers the question asked, it asks nothing more ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/labels.jsonl" \
		'{"session": "a", "text": "When does my contract start at the new place?"}' \
		'{"session": "a", "text": "The meter ID of the new flat is 707057500012345671"}' \
		'{"session": "b", "text": "Wann beginnt mein Vertrag in der neuen Wohnung?"}' \
		'{"session": "b", "text": "Neue Adresse: Hauptstraße 5, 10115 Berlin"}' \
		'{"session": "c", "text": "I want to change my address"}' \
		'{"session": "c", "text": "Moving in to Storgata 12B, 0155 Oslo on 1 March 2027"}' \
		'{"session": "d", "text": "When does my contract start at the new place?"}' \
		'{"session": "d", "text": "new address?"}' \
		'{"session": "e", "text": "new address?"}' \
		'{"session": "f", "text": "Wann beginnt mein Vertrag in der neuen Wohnung?"}' \
		'{"session": "f", "text": "Zählernummer?"}'
	expect_py "a labelled answer asks no address change; a date of its own keeps the start date; a bare label offers its fact" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
acted = [sorted(o["intent"] for o in x["outcomes"]) for x in out]
assert acted[1] == ["contract_start_date"], acted[1]
assert acted[3] == ["contract_start_date"], acted[3]
assert acted[5] == ["address_update", "contract_start_date"], acted[5]
assert acted[7] == ["contract_start_date"], acted[7]
assert acted[8] == ["address_update"], acted[8]
assert acted[10] == ["contract_start_date"], acted[10]
' "$TMP/labels.jsonl"
fi

# ---- the Pulse in another matter: an order, a return, the app crashing ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/pulseother.jsonl" \
		'{"text": "where is the pulse I ordered 3 weeks ago? order number 20270115-889"}' \
		'{"text": "appen krasjer når jeg åpner pulse-siden"}' \
		'{"text": "Returnummer RMA-2024-1107 för min trasiga pulse, vart skickar jag den?"}' \
		'{"text": "Bestellnr. 20261215-4471 — wo bleibt mein Pulse?"}' \
		'{"text": "bestelnummer 20261215-4471, waar blijft mijn pulse??"}' \
		'{"text": "vi flytter 1. april og vil ta med oss avtalen"}' \
		'{"text": "how do I reset the pulse in order to connect it?"}' \
		'{"text": "we move on 1 March. where is my pulse order?"}' \
		'{"text": "the pulse never came online. where is my order?"}'
	expect_py "a question about a Pulse order, its return or the app gets no moving advice, nor does taking the contract along; the move, or the Pulse in a sentence of its own, keeps it" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
pulse = ["pulse_relocation" in [i["id"] for i in o["intents"]] for o in out]
assert pulse == [False] * 6 + [True] * 3, pulse
assert [o["lang"] for o in out[:5]] == ["en", "nb", "sv", "de", "nl"], [o["lang"] for o in out]
assert "Power-ups" not in out[3]["reply"], out[3]["reply"]
' "$TMP/pulseother.jsonl"
fi

# ---- "no solar or a battery at the new house": both negated ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/orend.jsonl" '{"text": "we don'"'"'t have solar panels or a battery at the new house"}' \
		'{"text": "vi har ikke solceller eller et batteri på det nye huset"}' \
		'{"text": "vi har inte solceller eller ett batteri i nya huset"}' \
		'{"text": "wir haben keine Solaranlage oder einen Speicher im neuen Haus"}' \
		'{"text": "we hebben geen zonnepanelen of een batterij in het nieuwe huis"}' \
		'{"text": "no solar panels and a battery at the new house"}' \
		'{"text": "no solar panels or a battery that works"}'
	expect_py "after \"or a\", a place ends the negated item in every language" '
import json, sys
esc = [json.loads(l)["escalate"] for l in open(sys.argv[1], encoding="utf-8")]
assert esc == [False] * 5 + [True, True], esc
' "$TMP/orend.jsonl"
fi

# ---- "no solar production" is a fault to escalate, not a thing denied ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/noprod.jsonl" '{"text": "the app says no solar production at the new house"}' \
		'{"text": "appen viser ingen solproduksjon"}' \
		'{"text": "ingen solproduktion sedan flytten"}' \
		'{"text": "seit dem Umzug keine Solarproduktion"}' \
		'{"text": "geen opbrengst meer sinds de verhuizing"}' \
		'{"text": "we have no solar panels"}' '{"text": "vi har ingen solceller"}'
	expect_py "no production escalates in every language; no panels does not" '
import json, sys
esc = [json.loads(l)["escalate"] for l in open(sys.argv[1], encoding="utf-8")]
assert esc == [True] * 5 + [False] * 2, esc
' "$TMP/noprod.jsonl"
fi

# ---- "how do I pay?" asks about the payment method, in every language ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/howpay.jsonl" '{"text": "how do i pay?"}' \
		'{"text": "please bill me by invoice"}' '{"text": "hvordan betaler jeg?"}' \
		'{"text": "hur betalar jag?"}' '{"text": "wie zahle ich?"}' '{"text": "hoe betaal ik?"}'
	expect_py "how do I pay, in every language, is the payment method" '
import json, sys
ids = [[i["id"] for i in json.loads(l)["intents"]] for l in open(sys.argv[1], encoding="utf-8")]
assert ids == [["payment_method"]] * 6, ids
' "$TMP/howpay.jsonl"
fi

# ---- a second concern in a few words: "what about paying", "avtalsstart" ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/second.jsonl" \
		'{"text": "is the start date the 1st then? what about paying, same as before?"}' \
		'{"text": "betalsätt + pulse + avtalsstart 1/3"}' \
		'{"text": "avtalestart 1. mars, og hvordan betaler jeg?"}' \
		'{"text": "contractstart 1 maart, hoe betaal ik?"}'
	expect_py "a second concern said in a few words is answered too" '
import json, sys
ids = [sorted(i["id"] for i in json.loads(l)["intents"]) for l in open(sys.argv[1], encoding="utf-8")]
assert ids == [["contract_start_date", "payment_method"],
               ["contract_start_date", "payment_method", "pulse_relocation"],
               ["contract_start_date", "payment_method"],
               ["contract_start_date", "payment_method"]], ids
' "$TMP/second.jsonl"
fi

# ---- taking a home battery along is no Pulse question ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/takealong.jsonl" '{"text": "Vi flytter og vil ta med oss batteriet"}' \
		'{"text": "Kan jeg ta med meg Pulsen når vi flytter?"}'
	expect_py "ta med oss batteriet escalates, and asks nothing of the Pulse" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids[0] == [] and out[0]["escalate"] is True, out[0]
assert ids[1] == ["pulse_relocation"], ids[1]
' "$TMP/takealong.jsonl"
fi

# ---- the home the customer still lives in is no new address ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/stillat.jsonl" \
		'{"text": "I'"'"'m still at Storgata 12, 0155 Oslo until we move"}' \
		'{"text": "Wir wohnen noch in der Lindenstraße 20, 10969 Berlin, ziehen aber bald um"}' \
		'{"text": "adress: Östra Hamngatan 5, 411 10 Göteborg"}' \
		'{"text": "Vi flyttar inom Malmö, till Lilla Varvsgatan 14, 211 15 Malmö"}' \
		'{"text": "Ny adress från 1/12: S:t Eriksgatan 58, 1 tr, 112 34 Stockholm"}' \
		'{"text": "Mvh Kari Lille Tøyengata 5 0190 Oslo"}' \
		'{"text": "Hoi, het nieuwe appartement is op de Weena 700, app. 1204, 3013 DA Rotterdam."}' \
		'{"text": "We verhuizen uit de Parkstraat 2 naar de Kerkstraat 5, 1017 GB Amsterdam"}' \
		'{"text": "We verlaten de Parkstraat 2 en gaan naar de Kerkstraat 5, 1017 GB Amsterdam"}' \
		'{"text": "Wir ziehen aus Parkstraße 2 aus und in die Kirchstraße 5, 10115 Berlin"}' \
		'{"text": "Vi flyttar ur Parkgatan 2 till Kyrkogatan 5, 111 51 Stockholm"}' \
		'{"text": "Address change please:\nOld: Bergstraße 10, 69120 Heidelberg\nNew: Hauptstraße 101, 69117 Heidelberg"}' \
		'{"text": "Alt: Bergstraße 10, 69120 Heidelberg\nNeu: Hauptstraße 101, 69117 Heidelberg"}' \
		'{"text": "Gammal: Storgatan 5, 111 51 Stockholm\nNy: Kyrkogatan 3, 111 52 Stockholm"}' \
		'{"text": "Oud: Kerkstraat 5, 1017 GB Amsterdam\nNieuw: Dorpsstraat 3, 1234 AB Ergens"}' \
		'{"text": "Fra: Storgata 5\nTil: Kirkegata 3, 0153 Oslo"}'
	expect_py "still at names the old home; a bare address: opener keeps the whole street; street-name openers; a flat between street and postcode; the new address, not the one left after uit de, verlaten, aus, ur, or labelled Old:/From:" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert "address" not in out[0]["slots"], out[0]["slots"]
assert "address" not in out[1]["slots"], out[1]["slots"]
assert out[2]["slots"]["address"]["street"] == "Östra Hamngatan 5", out[2]["slots"]
assert out[3]["slots"]["address"]["street"] == "Lilla Varvsgatan 14", out[3]["slots"]
assert out[4]["slots"]["address"]["street"] == "S:t Eriksgatan 58", out[4]["slots"]
assert out[5]["slots"]["address"]["street"] == "Tøyengata 5", out[5]["slots"]
assert out[6]["slots"]["address"]["text"] == "Weena 700, app. 1204, 3013 DA Rotterdam", out[6]["slots"]
assert out[7]["slots"]["address"]["street"] == "Kerkstraat 5", out[7]["slots"]
assert out[8]["slots"]["address"]["street"] == "Kerkstraat 5", out[8]["slots"]
assert out[9]["slots"]["address"]["street"] == "Kirchstraße 5", out[9]["slots"]
assert out[10]["slots"]["address"]["street"] == "Kyrkogatan 5", out[10]["slots"]
for k, street in ((11, "Hauptstraße 101"), (12, "Hauptstraße 101"), (13, "Kyrkogatan 3"),
                  (14, "Dorpsstraat 3"), (15, "Kirkegata 3")):
    assert out[k]["slots"]["address"]["street"] == street, (k, out[k]["slots"])
' "$TMP/stillat.jsonl"
fi

# ---- what review took back: a fault said after a denial escalates, and
# the customer's own start keeps its date. Rules that tried otherwise
# ("not about X, just the move"; a start without an asker ranked below a
# move in) silenced real faults and moved requested starts; these guard
# the behaviour kept. ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/keptback.jsonl" \
		'{"text": "It'"'"'s not about the inverter, but the move broke it"}' \
		'{"text": "Det handler ikke om vekselretteren, men flyttingen ødela den"}' \
		'{"text": "Gaat het niet om de omvormer? Die geeft sinds gisteren een foutmelding"}' \
		'{"text": "Start on 10 March, we move in on 1 March"}' \
		'{"text": "Delivery starts on 10 March, we move in on 1 March"}' \
		'{"text": "Can you start on 1 March? We move in on 27 February"}' \
		'{"text": "Verhuizing is op 1 maart, we willen met ingang van 15 maart"}'
	expect_py "a fault after a denial escalates; the customer's own start keeps its date" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["escalate"] for o in out[:3]] == [True] * 3, [o["escalate"] for o in out[:3]]
dates = [o["slots"].get("date") for o in out[3:]]
assert dates == ["2027-03-10", "2027-03-10", "2027-03-01", "2027-03-15"], dates
' "$TMP/keptback.jsonl"
fi

# ---- first messages: Swedish words, greetings, a Norwegian/Swedish tie ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/firstlang.jsonl" '{"text": "vi har solceller på nya huset"}' \
		'{"text": "god morgon"}' '{"text": "goedemorgen"}' \
		'{"text": "vi har solpaneler"}' \
		'{"session": "de", "text": "Wann beginnt mein Vertrag?"}' \
		'{"session": "de", "text": "vi har solpaneler"}' \
		'{"session": "de", "text": "ok"}' \
		'{"text": "vi flyter 1. mars"}' \
		'{"session": "en", "text": "when does my contract start?"}' \
		'{"session": "en", "text": "vi flyter 1. mars"}' \
		'{"session": "sv", "text": "Hej, när börjar avtalet?"}' \
		'{"session": "sv", "text": "vi har inga solpaneler eller batteri"}'
	expect_py "a first message is answered in its language, a weak hint is enough; a tie or a weak hint switches no conversation" '
import json, sys
langs = [json.loads(l)["lang"] for l in open(sys.argv[1], encoding="utf-8")]
assert langs[:3] == ["sv", "sv", "nl"], langs
assert langs[3] in ("nb", "sv"), langs
assert langs[4:7] == ["de", langs[3], "de"], langs
assert langs[7:10] == ["nb", "en", "en"], langs
# A term both files list says both languages, so the Swedish "inga"
# decides: the Swedish conversation stays Swedish.
assert langs[10:] == ["sv", "sv"], langs
' "$TMP/firstlang.jsonl"
fi

# ---- days in words (the days line of [dates]) ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/days.jsonl" '{"text": "we move in march first"}' \
		'{"text": "vi flytter første mars"}' \
		'{"text": "vi flyttar första mars"}' \
		'{"text": "Einzug ist der erste März"}' \
		'{"text": "we verhuizen per eerste maart"}' \
		'{"text": "we move in on the twenty-first of March"}' \
		'{"text": "Første mars flytter vi inn"}' \
		'{"text": "in March first we pack, when does the contract start?"}' \
		'{"text": "first may I ask when the contract starts?"}'
	expect_py "days in words in every language; an adverb beside a month is none" '
import json, sys
dates = [json.loads(l)["slots"].get("date") for l in open(sys.argv[1], encoding="utf-8")]
assert dates == ["2027-03-01"] * 5 + ["2027-03-21", "2027-03-01", None, None], dates
' "$TMP/days.jsonl"
fi

# ---- "15.3" is a date after a date cue, a number without ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/dotted.jsonl" '{"text": "start date 15.3"}' '{"text": "startdato 15.3"}' \
		'{"text": "startdatum: 15.3"}' '{"text": "Vertragsbeginn ab 15.3"}' \
		'{"text": "ingangsdatum 15.3"}' '{"text": "we used 15.3 kWh in the old flat"}' \
		'{"text": "Verbrauch 15.3 kWh"}' '{"text": "when does the contract start? we used 15.3 kWh"}' \
		'{"text": "Forbruket gikk fra 15.3 til 20.1 kWh"}' '{"text": "Der Preis ist ab 1.5 Cent gestiegen"}' \
		'{"text": "Förbrukningen gick från 15.3 till 20.1 kWh"}' '{"text": "het verbruik is vanaf 15.3 kWh"}'
	expect_py "15.3 after a date cue is a date in every language, 15.3 kWh is none" '
import json, sys
dates = [json.loads(l)["slots"].get("date") for l in open(sys.argv[1], encoding="utf-8")]
assert dates == ["2027-03-15"] * 5 + [None] * 7, dates
' "$TMP/dotted.jsonl"
fi

# ---- lower-case addresses with no cue (the [address] section) ----
# Customers type in lower case: a street with its suffix and a house number
# that ends the text or has a postcode after it is the address, even after
# a misspelt cue, so the assistant does not ask for the address it was just
# given. Look-alikes stay none.
if [ ${#DATA[@]} -eq 0 ]; then
	printf '%s\n' \
		'{"session": "nb7", "text": "og strømavtalen, fra når gjelder den? flytter 1 mars"}' \
		'{"session": "nb7", "text": "addressen blir storgata 12b 0155 oslo"}' \
		'{"session": "nl8", "text": "mijn nieuwe ean is 871687400099999992"}' \
		'{"session": "nl8", "text": "adres is prinsengracht 263 1016GV amsterdam"}' \
		'{"session": "sv8b", "text": "När börjar avtalet? Vi flyttar 1 april"}' \
		'{"session": "sv8b", "text": "drottninggatan 5, 111 51 stockholm"}' \
		'{"text": "wir wohnen ab märz in der lindenstraße 7, 10969 berlin"}' \
		'{"text": "my new adress is kingsway 12"}' \
		'{"text": "vi flytter 1 mars"}' '{"text": "meter 12 3456"}' \
		'{"text": "can i take the pulse 2 with me?"}' '{"text": "ring me kl 15.30"}' \
		'{"text": "we use 2 kwh a day"}' '{"text": "my tibber pulse 3 years old, will it work?"}' \
		'{"text": "wir haben parkplatz 2 gemietet"}' '{"text": "måler 707057500012345671"}' |
		run classify "${TODAY[@]}" --registry "$FIX/registry.jsonl" --jsonl \
			>"$TMP/lower.jsonl" 2>&1
	expect_py "lower-case addresses with no cue in every language, look-alikes none" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
addr = [o["slots"].get("address") for o in out]
got = [(a["street"], a["postcode"], a["city"]) if a else None for a in addr]
want = [None, ("storgata 12b", "0155", "oslo"), None,
        ("prinsengracht 263", "1016GV", "amsterdam"), None,
        ("drottninggatan 5", "111 51", "stockholm"), ("lindenstraße 7", "10969", "berlin"),
        ("kingsway 12", "", "")] + [None] * 8
assert got == want, got
assert "1. mars 2027" in out[1]["reply"] and "bekreftet" in out[1]["reply"], out[1]["reply"]
assert "1 april 2027" in out[5]["reply"] and "bekräftat" in out[5]["reply"], out[5]["reply"]
' "$TMP/lower.jsonl"
fi

# ---- which of two dates is the move's, misspelt months, the end of a month ----
# The movers' day, a key handover or a birthday named first is not the
# start date the customer gives after it; a correction replaces the date
# before it; "febuar" is February; "ved utgangen av februar" is its last day.
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/twodates.jsonl" \
		'{"text": "The movers come on 27 Feb, our contract at the new house should start on 1 March."}' \
		'{"text": "Nøkkeloverlevering er 25. februar, men kontrakten skal starte 1. mars."}' \
		'{"text": "Flyttfirman kommer 27 februari, tillträdet är 1 mars. Kan avtalet starta då?"}' \
		'{"text": "Schlüsselübergabe ist am 25. Februar, der Vertrag soll aber erst am 1. März beginnen."}' \
		'{"text": "Het verhuisbedrijf komt 27 februari, we krijgen de woning 1 maart."}' \
		'{"text": "Vi flytter 2. februar, nei vent, 3. februar. Kan avtalen starte da?"}' \
		'{"text": "Meine Tochter hat am 20. Februar Geburtstag, wir ziehen am 22. Februar um."}' \
		'{"text": "Our daughter has her birthday on 20 February and we move on the 22nd"}' \
		'{"text": "Flytter 15. febuar, når starter avtalen?"}' \
		'{"text": "Umzug am 15. Febraur, kann der Vertrag dann beginnen?"}' \
		'{"text": "Vi flytter ved utgangen av februar. Når starter avtalen?"}' \
		'{"text": "Vi flyttar i slutet av februari, kan avtalet börja då?"}'
	expect_py "the start date the customer gives, a correction, misspelt months and the end of a month" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
dates = [o["slots"].get("date") for o in out]
assert dates == ["2027-03-01"] * 5 + ["2027-02-03", "2027-02-22", "2027-02-22",
                 "2027-02-15", "2027-02-15", "2027-02-28", "2027-02-28"], dates
assert not any("address" in o["slots"] for o in out), [o["slots"] for o in out]
assert "1 March 2027" in out[0]["reply"], out[0]["reply"]
' "$TMP/twodates.jsonl"
fi

# ---- what the new date rules must not do (a reviewer's cases) ----
# An apology is no correction; a start verb about the painters is no
# contract start; a day alone after a date gone by is still ahead; a word
# of the move names no street; a misspelt month at the end of a message
# leaves nothing behind for the next one.
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/review.jsonl" \
		'{"text": "Sorry, I called you yesterday, we move in on 1 March."}' \
		'{"text": "Beklager, jeg ringte i går. Vi flytter inn 1. mars."}' \
		'{"text": "Entschuldigung, ich habe gestern schon angerufen. Wir ziehen am 1. März ein."}' \
		'{"text": "We move in on 1 March. The renovation work starts on 10 March."}' \
		'{"text": "Vi flytter inn 1. mars. Oppussingen starter 10. mars."}' \
		'{"text": "I paid the last bill on 20 November, we move in on the 22nd."}' \
		'{"text": "My contract number and meter ID are 707057500555012344"}' \
		'{"text": "xxxxxxxxxxxxxxxxxxxx yy febuar"}' '{"text": "Flytter 15"}'
	expect_py "apologies, other starts, past anchors and meter labels keep the dates and meter IDs they had" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
dates = [o["slots"].get("date") for o in out]
assert dates[:6] == ["2027-03-01"] * 5 + ["2026-12-22"], dates
assert out[6]["slots"].get("meter", {}).get("id") == "707057500555012344", out[6]["slots"]
assert out[8]["slots"] == {}, out[8]["slots"]
' "$TMP/review.jsonl"
fi

# ---- a second reviewer's cases: corrections said closely, a start with no
# contract word, an abbreviated label, a misspelt month in running text,
# a sign-off after a technical sentence ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/review2.jsonl" \
		'{"text": "We move in on 2 March, I mean 3 March."}' \
		'{"text": "Vi flytter 2. mars, beklager, 3. mars."}' \
		'{"text": "Einzug am 2. März, ich meine am 3. März."}' \
		'{"text": "The movers come on 27 February. Can you start on 1 March?"}' \
		'{"text": "Vi flytter 15. febuar og vil ta med Pulsen."}' \
		'{"text": "Kundennr. 004512345678901234, wir ziehen am 1. März um"}' \
		'{"text": "Vi har solceller. Mvh Kari Nordmann"}'
	expect_py "corrections, a start with no contract word, an abbreviated label, a misspelt month and a sign-off" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
dates = [o["slots"].get("date") for o in out[:6]]
assert dates == ["2027-03-03"] * 3 + ["2027-03-01", "2027-02-15", "2027-03-01"], dates
assert "meter" not in out[5]["slots"], out[5]["slots"]
assert out[6]["technical_part"] == ["Vi har solceller."], out[6]["technical_part"]
' "$TMP/review2.jsonl"
fi

# ---- payment references, customer numbers and old meter IDs ----
# An 18-digit KID or OCR payment reference is no meter ID: the customer
# asking about an invoice was told "your meter ID looks wrong", or was
# thanked for a meter ID. A bank clearing number is no street ("clearing"
# ends in "ring"), and a meter ID called the old one is not taken.
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/othernum.jsonl" \
		'{"text": "KID-nummeret på fakturaen er 004512378912345672, må jeg betale den etter flyttingen?"}' \
		'{"text": "OCR-nummer 735991234567891234 på fakturan, ska jag betala den trots flytten?"}' \
		'{"text": "Jag vill betala via autogiro från clearing 8327-9, konto 903 123 456-7"}' \
		'{"text": "Betalingskenmerk 871687140000012343, hoe betaal ik?"}' \
		'{"text": "Gammel målepunkt-ID var 707057500555012344, ny vet jeg ikke enda."}' \
		'{"text": "Alte MaLo 50734120989, die neue kenne ich noch nicht"}' \
		'{"text": "Meter number at the old place was 707057500314159266"}' \
		'{"text": "kundenummer 123456 og målepunkt 707057500555012344"}'
	expect_py "payment references and customer numbers are no meter ID, a clearing number no street, an old meter ID not taken" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["slots"].get("meter", {}).get("id") for o in out] == [None] * 7 + ["707057500555012344"], [o["slots"] for o in out]
assert not any("address" in o["slots"] for o in out), [o["slots"] for o in out]
ids = [[i["id"] for i in o["intents"]] for o in out]
assert ids[:4] == [["payment_method"]] * 4, ids
assert "ID" not in out[0]["reply"] and "ID" not in out[1]["reply"], (out[0]["reply"], out[1]["reply"])
' "$TMP/othernum.jsonl"
fi

# ---- a house number, a filler and a month with its own day ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/housedays.jsonl" \
		'{"text": "moving to baker street 21 on december 1"}' \
		'{"text": "vi flytter 3 i mai 12"}'
	expect_py "the number of a street before a filler and a month with its day is no day; a move word ending in a suffix (flytter) is no street" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert out[0]["slots"]["date"] == "2026-12-01", out[0]["slots"]
assert out[1]["slots"]["date"] == "2027-05-03", out[1]["slots"]
' "$TMP/housedays.jsonl"
fi

# ---- what the production data reads from a message (cli_messages.txt) ----
if [ ${#DATA[@]} -eq 0 ]; then
	python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip() and not line.startswith("#"):
        print(json.dumps({"text": line.split(" | ")[0]}))
' "$FIX/cli_messages.txt" >"$TMP/messages.jsonl"
	run classify "${TODAY[@]}" --jsonl <"$TMP/messages.jsonl" >"$TMP/messages.out" 2>&1
	expect_py "each message of cli_messages.txt gives its intents, topics, language, date and meter ID" '
import json, sys
cases = [(n, l.rstrip("\n").split(" | "))
         for n, l in enumerate(open(sys.argv[1], encoding="utf-8"), 1)
         if l.strip() and not l.startswith("#")]
out = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(out) == len(cases), (len(out), len(cases))
bad = []
for (n, (text, *want)), o in zip(cases, out):
    got = [",".join(sorted(i["id"] for i in o["intents"])) or "-",
           ",".join(sorted(o["l2_topics"])) or "-", o["lang"], o["slots"].get("date", "-"),
           o["slots"].get("meter", {}).get("id", "-")][:len(want)]
    if got != want:
        bad.append(f"line {n}: {text!r} gave {got}, want {want}")
assert not bad, "\n".join(bad)
' "$FIX/cli_messages.txt" "$TMP/messages.out"
fi

# ---- a table pasted in: its "|" is no verb of having ([owners] have) ----
if [ ${#DATA[@]} -eq 0 ]; then
	classify_lines "$TMP/table.jsonl" '{"text": "Car | Solar panels"}' \
		'{"text": "Device | State\nEV | charging\nBattery | error 42"}'
	expect_py "a pasted table with a car in it still escalates its solar panels and battery" '
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [o["l2_topics"] for o in out] == [["solar"], ["battery"]], [o["l2_topics"] for o in out]
' "$TMP/table.jsonl"
fi

# ---- the new address as the production data reads it (cli_streets.txt) ----
if [ ${#DATA[@]} -eq 0 ]; then
	python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip() and not line.startswith("#"):
        print(json.dumps({"text": line.rsplit(" | ", 1)[0]}))
' "$FIX/cli_streets.txt" >"$TMP/streets.jsonl"
	run classify "${TODAY[@]}" --jsonl <"$TMP/streets.jsonl" >"$TMP/streets.out" 2>&1
	expect_py "each message of cli_streets.txt gives its street" '
import json, sys
cases = [(n, l.rstrip("\n").rsplit(" | ", 1))
         for n, l in enumerate(open(sys.argv[1], encoding="utf-8"), 1)
         if l.strip() and not l.startswith("#")]
out = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(out) == len(cases), (len(out), len(cases))
bad = []
for (n, (text, want)), o in zip(cases, out):
    got = (o["slots"].get("address") or {}).get("street", "none")
    if got != want:
        bad.append(f"line {n}: {text!r} gave {got!r}, want {want!r}")
assert not bad, "\n".join(bad)
' "$FIX/cli_streets.txt" "$TMP/streets.out"
fi

# ---- eval: thresholds decide the exit code ----

cat >"$TMP/labelled.jsonl" <<'EOF'
{"text": "Can I take my Tibber Pulse with me to the new house?", "lang": "en", "intents": ["pulse_relocation"], "escalate": false, "l2_topics": []}
{"text": "How do I change my payment method?", "lang": "en", "intents": ["payment_method"], "escalate": false, "l2_topics": []}
{"text": "We have solar panels and a battery", "lang": "en", "intents": [], "escalate": true, "l2_topics": ["solar", "battery"]}
{"text": "Wann beginnt mein Vertrag?", "lang": "de", "intents": ["contract_start_date"], "escalate": false, "l2_topics": []}
EOF
run eval "${DATA[@]}" --min-exact 0.5 --min-escalation-recall 0.5 --min-lang 0.5 \
	"$TMP/labelled.jsonl" >"$TMP/out" 2>&1
expect_rc 0 $? "eval with loose thresholds"
expect_in "$TMP/out" "eval: passed" "eval with loose thresholds"
run eval "${DATA[@]}" --min-exact 1.0 --min-escalation-recall 1.0 --min-lang 1.0 \
	"$TMP/labelled.jsonl" >"$TMP/out" 2>&1
expect_rc 0 $? "eval, every label right"

sed 's/"intents": \["payment_method"\]/"intents": ["pulse_relocation"]/' \
	"$TMP/labelled.jsonl" >"$TMP/wrong.jsonl"
run eval "${DATA[@]}" --min-exact 0.5 "$TMP/wrong.jsonl" >"$TMP/out" 2>&1
expect_rc 0 $? "eval, a wrong label, loose threshold"
run eval "${DATA[@]}" --min-exact 1.0 "$TMP/wrong.jsonl" >"$TMP/out" 2>&1
expect_rc 1 $? "eval, a wrong label, --min-exact 1.0"
expect_in "$TMP/out" "eval: FAILED" "eval, a wrong label"
expect_in "$TMP/out" "How do I change my payment method?" "eval lists the misclassified message"

# After misclassified lines: still no report begun on stdout.
{ cat "$TMP/wrong.jsonl"; printf '%s\n' '{"text": "hi", "lang": "en", "intents": ["refund"], "escalate": false}'; } \
	>"$TMP/badlabel.jsonl"
run eval "${DATA[@]}" "$TMP/badlabel.jsonl" >"$TMP/out" 2>"$TMP/err"
expect_rc 4 $? "eval, an unknown intent label"
expect_in "$TMP/err" "badlabel.jsonl:$(($(wc -l <"$TMP/wrong.jsonl") + 1)):" "eval, an unknown intent label"
[ ! -s "$TMP/out" ] || fail "eval, an unknown intent label: no report begun on stdout: $(cat "$TMP/out")"
run eval "${DATA[@]}" "$TMP/no-such-file.jsonl" >/dev/null 2>&1
expect_rc 4 $? "eval, a missing file"

# ---- chat ----

printf 'When does my contract start?\n\n1 March 2027\n/reset\n1 March 2027\n/quit\nhello\n' |
	run chat "${DATA[@]}" "${TODAY[@]}" >"$TMP/out" 2>&1
expect_rc 0 $? "chat"
expect_in "$TMP/out" "assistant> To confirm your start date" "chat"
expect_in "$TMP/out" "assistant> To confirm 1 March 2027 as your start date" "chat"
expect_in "$TMP/out" "(new conversation)" "chat"
expect_py "chat: /reset forgets the question, /quit ends" '
import sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.startswith("assistant> ")]
assert len(lines) == 3, lines
assert "To confirm 1 March 2027" not in lines[2], lines
' "$TMP/out"

# ---- serve: stdout is not its output ----
# A supervisor that closed it must still see a clean stop as one (exit 0).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve "${DATA[@]}" --host 127.0.0.1 --port "$port" >&- 2>"$TMP/serve.err" &
pid=$!
for _ in $(seq 100); do
	python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz')" \
		2>/dev/null && break
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
expect_rc 0 $? "serve with stdout closed, stopped by SIGTERM"
expect_in "$TMP/serve.err" '"event":"stopped"' "serve with stdout closed ran and stopped"

echo "test_cli.sh: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
