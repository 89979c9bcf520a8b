# syntax=docker/dockerfile:1.7
# One build stage compiles every binary once; each service is a small runtime
# target (debian-slim + libpq + CA certificates, running as a non-root user).
#   docker build --target webhook-api .     docker build --target reconciler .
#   docker build --target sandbox .         (the fake providers; also runs the demo scenarios)
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
 && mkdir -p /out \
 && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/ \;

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home app
USER app
ENV RUST_LOG=info LOG_FORMAT=json

FROM runtime AS webhook-api
COPY --from=build /out/webhook-api /usr/local/bin/webhook-api
ENV HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=12 \
  CMD ["/usr/local/bin/webhook-api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/webhook-api"]

FROM runtime AS reconciler
COPY --from=build /out/reconciler /usr/local/bin/reconciler
ENV RECONCILER_HTTP_ADDR=0.0.0.0:9100
EXPOSE 9100
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=12 \
  CMD ["/usr/local/bin/reconciler", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/reconciler"]

# The fake Mono, Belvo and Tpaga APIs (pse-sandbox serve). The same image plays the
# end-to-end scenarios with another command: pse-sandbox scenario day --api … --sandbox …
FROM runtime AS sandbox
COPY --from=build /out/pse-sandbox /usr/local/bin/pse-sandbox
ENV SANDBOX_ADDR=0.0.0.0:9999
EXPOSE 9999
HEALTHCHECK --interval=2s --timeout=3s --start-period=5s --retries=15 \
  CMD ["/usr/local/bin/pse-sandbox", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pse-sandbox"]
CMD ["serve"]
