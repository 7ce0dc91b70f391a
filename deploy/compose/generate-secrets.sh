#!/bin/sh
# Writes every secret compose.yaml mounts into ./secrets (mode 0700), once:
#   secrets/nats/        casegrid nats-credentials: one nkey seed per user (0600),
#                        nkeys.env (public keys, for the NATS nodes' environment)
#   secrets/pg_password  PostgreSQL's password
#   secrets/casegrid.env CASEGRID__DATABASE__URL and CASEGRID__AUTH__JWT_HS256_SECRET
#   secrets/metrics_token  an HS256 JWT of a city-wide supervisor for Prometheus (1 year)
#   secrets/grafana_admin  Grafana's admin password
# and downloads the standard NATS JetStream dashboard (grafana.com 14725) next to the
# casegrid one. CASEGRID names the casegrid binary (default: `casegrid` on PATH, else
# the image through docker run).
set -eu
cd "$(dirname "$0")"
if [ -e secrets ]; then
  echo "secrets/ exists: move it away to generate new ones (rotation: docs/OPERATIONS.md)" >&2
  exit 1
fi
umask 077
mkdir -p secrets
if [ -n "${CASEGRID:-}" ]; then
  "$CASEGRID" nats-credentials secrets/nats
elif command -v casegrid >/dev/null; then
  casegrid nats-credentials secrets/nats
else
  docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/secrets:/out" \
    --entrypoint /usr/local/bin/casegrid "${CASEGRID_IMAGE:-casegrid:latest}" nats-credentials /out/nats
fi
rand() { openssl rand -hex "$1"; }
pg=$(rand 24)
jwt=$(rand 32)
printf '%s' "$pg" > secrets/pg_password
rand 16 > secrets/grafana_admin
cat > secrets/casegrid.env <<ENV
CASEGRID__DATABASE__URL=postgres://casegrid:$pg@postgres:5432/casegrid
CASEGRID__AUTH__JWT_HS256_SECRET=$jwt
ENV
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
exp=$(( $(date +%s) + 365 * 24 * 3600 ))
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
claims=$(printf '{"sub":"sup.prometheus","kind":"supervisor","aud":"casegrid","scope":"city","exp":%s}' "$exp" | b64url)
sig=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -hmac "$jwt" -binary | b64url)
printf '%s.%s.%s' "$header" "$claims" "$sig" > secrets/metrics_token
# Compose file secrets are bind mounts that keep the host's owner and mode, and the
# containers run as other users (casegrid 10001, prometheus nobody, grafana 472). The
# directories stay 0700, so no other user of the host reads them; the files inside are
# readable, and each container mounts only its own.
chmod 0644 secrets/pg_password secrets/grafana_admin secrets/metrics_token secrets/nats/*.nk
curl -fsSL -o grafana/dashboards/nats-jetstream.json \
  https://grafana.com/api/dashboards/14725/revisions/latest/download \
  && sed -i "s/\${DS_PROMETHEUS}/prometheus/g" grafana/dashboards/nats-jetstream.json \
  || echo "could not download the NATS JetStream dashboard; import grafana.com 14725 by hand" >&2
echo "secrets written to $PWD/secrets; now: docker compose up -d"
