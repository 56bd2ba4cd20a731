# A thin wrapper around CMake. `make test` and `make run` work on a fresh
# Debian 12 machine: missing packages are installed first (apt-get, only
# when something is missing).
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc)
DEPS = cmake pkg-config gcc make libwebsockets-dev libjson-c-dev \
       libhiredis-dev libutf8proc-dev libcmocka-dev redis-server python3 chromium \
       nodejs npm

.PHONY: all deps build test test-asan test-tsan run bench fuzz clean

all: build

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || \
	    command -v $$p >/dev/null || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DAUTOASSIST_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The tests that run the server's threads (the loop, the engine worker,
# the Redis worker, a reload's loader, the log writer) built with
# ThreadSanitizer: the engine worker's and the log's own tests and the
# end-to-end suite. A report makes the
# server exit 66, which the suite fails on. setarch -R turns address space
# randomisation off for them: some kernels randomise more bits than gcc
# 12's ThreadSanitizer can map around.
test-tsan: deps
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DAUTOASSIST_TSAN=ON
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target autoassist test_ew test_log
	cd $(BUILD_TSAN) && TSAN_OPTIONS="halt_on_error=0 exitcode=66" \
	  setarch $$(uname -m) -R ctest --output-on-failure -R '^(ew|log|e2e_server)$$'

# The chat server on http://localhost:8080/ (PORT=... to change). Without
# REDIS=URL a local redis-server is started on a unix socket under the build
# directory (append-only, so tickets survive it) and the demo grid registry
# is loaded into it.
PORT  ?= 8080
REDIS ?=
run: build
	@set -e; url="$(REDIS)"; \
	if [ -z "$$url" ]; then \
	  dir="$(abspath $(BUILD))/redis"; mkdir -p "$$dir"; \
	  if ! redis-cli -s "$$dir/redis.sock" ping >/dev/null 2>&1; then \
	    redis-server --port 0 --unixsocket "$$dir/redis.sock" --dir "$$dir" \
	      --appendonly yes --daemonize yes --logfile "$$dir/redis.log"; \
	    for i in 1 2 3 4 5 6 7 8 9 10; do \
	      redis-cli -s "$$dir/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.2; done; \
	  fi; \
	  url="unix://$$dir/redis.sock"; \
	  $(BUILD)/autoassist registry load tests/fixtures/registry.jsonl --redis "$$url"; \
	fi; \
	exec $(BUILD)/autoassist serve --port $(PORT) --redis "$$url" --spool $(BUILD)/spool.jsonl

# Every benchmark in one run (WebSocket load against a bare libwebsockets
# echo and a Node ws echo, event loops, processes, escalation into Redis,
# classification against NLP.js), about 8 minutes on 2 cores; writes
# BENCHMARKS.md. A Release build of its own; fails on errors and lost
# messages, never on a time. BENCH_SECONDS=N sets the main runs' length,
# BENCH_ROUNDS=N how many rounds of them (each server's best is kept).
BUILD_BENCH ?= build-bench
bench: deps
	cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_BENCH) -j $(JOBS)
	bench/run.sh $(BUILD_BENCH)

# Fuzzes the engine (fuzz/fuzz_engine.c: a customer's text through decide,
# say, the reply frame, the ticket and the stored conversation) with
# libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer, for
# FUZZ_SECONDS, from the corpus' messages. A crash fails it, its input
# saved in build-fuzz/. Not part of make test: it searches, it does not
# check a known case; a crash it finds becomes a fixture case.
BUILD_FUZZ   ?= build-fuzz
FUZZ_SECONDS ?= 120
fuzz: DEPS += clang
fuzz: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUTOASSIST_FUZZ=ON
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_engine
	fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_BENCH) $(BUILD_FUZZ)
