# Multi-stage Debian 12 image of autoassist, built with the same CMake
# commands as `make`; runs the chat server as a non-root user, configured by
# AUTOASSIST_* environment variables.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake make gcc pkg-config libc6-dev libutf8proc-dev libjson-c-dev libcmocka-dev \
      libwebsockets-dev libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY include include
COPY service service
COPY bench bench
COPY tests tests
COPY intents intents
COPY templates templates
COPY web web
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j "$(nproc)" \
    && cd build && ctest --output-on-failure -E "cli|l2cli|e2e|browser"

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libutf8proc2 libjson-c5 libwebsockets17 libwebsockets-evlib-ev libev4 \
      libhiredis0.14 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /srv/autoassist autoassist \
    && mkdir -p /srv/autoassist/spool && chown autoassist /srv/autoassist/spool
COPY --from=build /src/build/autoassist /usr/local/bin/autoassist
COPY --from=build /src/intents /srv/autoassist/intents
COPY --from=build /src/templates /srv/autoassist/templates
COPY --from=build /src/web /srv/autoassist/web
ENV AUTOASSIST_INTENTS=/srv/autoassist/intents \
    AUTOASSIST_TEMPLATES=/srv/autoassist/templates \
    AUTOASSIST_WEB=/srv/autoassist/web \
    AUTOASSIST_PORT=8080 \
    AUTOASSIST_SPOOL=/srv/autoassist/spool/spool.jsonl
# The spool must outlive the container: tickets Redis could not take wait there.
VOLUME /srv/autoassist/spool
USER autoassist
WORKDIR /srv/autoassist
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${AUTOASSIST_PORT}/healthz" || exit 1
ENTRYPOINT ["autoassist"]
CMD ["serve"]
