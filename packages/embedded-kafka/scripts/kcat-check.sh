#!/usr/bin/env bash
# A second client, not only KafkaJS: librdkafka's kcat produces and consumes a record over
# SASL_SSL with SCRAM-SHA-512 against the embedded-kafka CLI (--tls, --sasl), and is refused with a
# wrong password; PLAIN is checked too (metadata); and kcat reads back what a sidecar wrote
# (its record batches, uncompressed and gzip). Run as `pnpm check:kcat`; CI installs kcat (Debian package `kcat`) and runs it.
# Not part of `pnpm test`: a machine with only Node and npm has no kcat.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"

if ! command -v kcat >/dev/null; then
  echo "kcat-check: kcat is not installed (Debian: apt-get install -y kcat)" >&2
  exit 2
fi

work="$(mktemp -d)"
cli_pid=""
cleanup() {
  if [ -n "$cli_pid" ]; then kill "$cli_pid" 2>/dev/null || true; wait "$cli_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "kcat-check: FAILED: $*" >&2
  echo "--- embedded-kafka stderr:" >&2
  cat "$work/cli.err" >&2 || true
  exit 1
}

"$root/node_modules/.bin/tsx" --conditions=@kafka-sidecar/source packages/embedded-kafka/src/cli.ts \
  --brokers 1 --tls --sasl scram-sha-512:alice:secret --sasl plain:bob:pw --log-level warn >"$work/cli.out" 2>"$work/cli.err" &
cli_pid=$!
for _ in $(seq 1 300); do
  grep -q '^ca: ' "$work/cli.out" 2>/dev/null && break
  kill -0 "$cli_pid" 2>/dev/null || fail "the embedded-kafka CLI exited before printing its ca line"
  sleep 0.1
done
grep -q '^ca: ' "$work/cli.out" || fail "no ca line from the embedded-kafka CLI within 30 s"
bootstrap="$(sed -n 's/^bootstrap: //p' "$work/cli.out")"
ca="$(sed -n 's/^ca: //p' "$work/cli.out")"
echo "kcat-check: $(kcat -V 2>&1 | sed -n 's/^Version //p')"
echo "kcat-check: embedded-kafka at $bootstrap, CA $ca"

sasl_ssl=(-b "$bootstrap" -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice
  -X "ssl.ca.location=$ca")
topic="kcat-check-$$-$RANDOM"
value="hello from kcat at $(date +%s)"

echo "kcat-check: produce (kcat -P ... -X sasl.password=secret -t $topic -k kcat-key)"
printf '%s\n' "$value" | kcat -P "${sasl_ssl[@]}" -X sasl.password=secret -t "$topic" -k kcat-key \
  || fail "kcat could not produce over SASL_SSL"

echo "kcat-check: consume (kcat -C ... -o beginning -c 1 -e)"
consumed="$(kcat -C "${sasl_ssl[@]}" -X sasl.password=secret -t "$topic" -o beginning -c 1 -e \
  -f 'partition %p offset %o key %k value %s\n')" || fail "kcat could not consume over SASL_SSL"
echo "kcat printed: $consumed"
[ "$consumed" = "partition 0 offset 0 key kcat-key value $value" ] || fail "consumed something else"

echo "kcat-check: wrong password (kcat -L ... -X sasl.password=wrong -m 5)"
if kcat -L "${sasl_ssl[@]}" -X sasl.password=wrong -m 5 >"$work/wrong.out" 2>&1; then
  cat "$work/wrong.out"
  fail "kcat got metadata with a wrong password"
fi
refusal="$(grep -m 1 -i 'authentication' "$work/wrong.out" || true)"
echo "kcat printed: $refusal"
case "$refusal" in
  *"invalid credentials with SASL mechanism SCRAM-SHA-512"*) ;;
  *) cat "$work/wrong.out"; fail "kcat was refused, but not for its credentials" ;;
esac
echo "kcat-check: PLAIN too (kcat -L ... -X sasl.mechanisms=PLAIN)"
plain="$(kcat -L -b "$bootstrap" -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X sasl.username=bob \
  -X sasl.password=pw -X "ssl.ca.location=$ca" -m 10 -t "$topic")" || fail "kcat could not authenticate with PLAIN"
echo "kcat printed: $(printf '%s' "$plain" | grep -m 1 'topic ')"

# Record batches a sidecar encoded (its own encoder by default, KafkaJS's with
# KAFKA_SIDECAR_PRODUCE_ENCODER=kafkajs), uncompressed and gzip, read back by librdkafka.
sidecar_topic="kcat-sidecar-$$-$RANDOM"
echo "kcat-check: write through a sidecar (packages/sidecar/scripts/write-through-sidecar.ts $sidecar_topic)"
KAFKA_BROKERS="$bootstrap" KAFKA_SSL=true KAFKA_SSL_CA_FILE="$ca" KAFKA_SASL_MECHANISM=scram-sha-512 \
  KAFKA_SASL_USERNAME=alice KAFKA_SASL_PASSWORD=secret \
  "$root/node_modules/.bin/tsx" --conditions=@kafka-sidecar/source packages/sidecar/scripts/write-through-sidecar.ts \
  "$sidecar_topic" "$work/sidecar.sock" || fail "the sidecar could not write the records"
echo "kcat-check: consume them (kcat -C ... -o beginning -c 4 -e -Z)"
sidecar_read="$(kcat -C "${sasl_ssl[@]}" -X sasl.password=secret -t "$sidecar_topic" -o beginning -c 4 -e -Z \
  -f '%o|%k|%s|%h|%T\n')" || fail "kcat could not consume the sidecar's records"
echo "kcat printed:"
printf '%s\n' "$sidecar_read"
expected="0|k1|v1|h=a,h=b,ünï=c|1700000000001
1|NULL|v2||1700000000002
2|k3|gz-$(printf 'x%.0s' $(seq 1 50))|g=1|1700000000003
3|k4|NULL||1600000000004"
[ "$sidecar_read" = "$expected" ] || fail "kcat read something else from the sidecar's batches; expected:
$expected"
echo "kcat-check: passed (SASL_SSL with SCRAM-SHA-512: produce, consume, wrong password refused; PLAIN: metadata; a sidecar's batches, none and gzip, read back)"
