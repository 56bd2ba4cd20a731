#!/bin/sh
# fuzz/run.sh BUILD SECONDS: runs fuzz_engine for SECONDS, seeded with the
# corpus' messages (one file each), its finds kept in BUILD/fuzz-corpus for
# the next run. A crash stops it with the input saved as BUILD/crash-*;
# the exit status is then non-zero.
set -eu
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/fuzz-corpus" "$build/fuzz-seeds"
python3 - "$build/fuzz-seeds" "$root"/tests/corpus/*.jsonl <<'PY'
import json, sys
out = sys.argv[1]
n = 0
for path in sys.argv[2:]:
    for line in open(path, encoding='utf-8'):
        with open(f'{out}/m{n}', 'w', encoding='utf-8') as f:
            f.write(json.loads(line)['text'])
        n += 1
PY
cd "$build"
exec ./fuzz_engine -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -artifact_prefix=./ fuzz-corpus fuzz-seeds
