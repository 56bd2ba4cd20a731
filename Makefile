# A thin wrapper around CMake. `make test` and `make run` work on a fresh
# Debian 12 machine: missing packages are installed first (apt-get, only
# when something is missing).
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
DEPS = cmake pkg-config gcc make libwebsockets-dev libjson-c-dev \
       libhiredis-dev libutf8proc-dev libcmocka-dev redis-server python3

.PHONY: all deps build test test-asan run bench clean

all: build

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
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

# The chat server on http://localhost:8080/ (PORT=... to change).
PORT ?= 8080
run: build
	$(BUILD)/autoassist serve --port $(PORT)

bench: build
	$(BUILD)/bench_classify tests/corpus/train.jsonl tests/corpus/heldout.jsonl

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
