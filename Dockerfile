# casegrid: one image for every service; the service is the command argument.
#   docker build -t casegrid .
#   docker run casegrid gateway        # = casegrid serve gateway
# Not built on the project's test machines (no container engine there): see README
# "Deployment" for what was and was not run.

# --- builder: the official Rust image -------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# Manifests first, so a change to the code does not refetch every crate.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY services services
COPY cli cli
COPY tests tests
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p casegrid --bin casegrid \
 && install -D -m 0755 target/release/casegrid /out/casegrid

# --- runtime: small, non-root -----------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 casegrid \
 && useradd --system --uid 10001 --gid casegrid --home-dir /var/lib/casegrid --shell /usr/sbin/nologin casegrid \
 && install -d -o casegrid -g casegrid -m 0750 /var/lib/casegrid
COPY --from=builder /out/casegrid /usr/local/bin/casegrid
# The district (grids, departments, rules, calendar, principals): replace it by mounting
# your own folder over /etc/casegrid/district (a ConfigMap in Kubernetes).
COPY deploy/config /etc/casegrid/district
ENV CASEGRID__DISTRICT__CONFIG_DIR=/etc/casegrid/district \
    CASEGRID__HTTP__ADDR=0.0.0.0:8080 \
    CASEGRID__DATABASE__URL=sqlite:///var/lib/casegrid/casegrid.db?mode=rwc \
    CASEGRID__ROUTING__DATABASE_URL=sqlite:///var/lib/casegrid/routing.db?mode=rwc \
    RUST_LOG=info
USER 10001:10001
WORKDIR /var/lib/casegrid
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/casegrid", "serve"]
CMD ["gateway"]
