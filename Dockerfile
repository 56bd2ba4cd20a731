# Multi-stage Debian 12 image of the autoassist harness, built with the same
# CMake commands as `make`. The server (a later issue) will be the default
# command; until then the image runs the CLI.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake make gcc pkg-config libc6-dev libutf8proc-dev libjson-c-dev libcmocka-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY include include
COPY service service
COPY bench bench
COPY tests tests
COPY intents intents
COPY templates templates
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j "$(nproc)" \
    && cd build && ctest --output-on-failure -E cli

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libutf8proc2 libjson-c5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /srv/autoassist autoassist
COPY --from=build /src/build/autoassist /usr/local/bin/autoassist
COPY --from=build /src/intents /srv/autoassist/intents
COPY --from=build /src/templates /srv/autoassist/templates
ENV AUTOASSIST_INTENTS=/srv/autoassist/intents \
    AUTOASSIST_TEMPLATES=/srv/autoassist/templates
USER autoassist
WORKDIR /srv/autoassist
ENTRYPOINT ["autoassist"]
CMD ["chat"]
