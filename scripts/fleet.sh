#!/usr/bin/env bash
# Fleet test on this machine: DEVICES simulated devices (one per patient,
# their own credentials, each its own MQTT connection) connect to Vitalwire
# through BROKER=embedded (the default) or BROKER=mosquitto, and play the
# simulation in real time for FOR (60s). Prints wearsim's JSON report, with
# the fleet's heap per connection and the publish rate. Everything binds to
# 127.0.0.1 and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BROKER=${BROKER:-embedded}
DEVICES=${DEVICES:-10000}
FOR=${FOR:-60s}
UPLOAD=${UPLOAD:-5s}

. scripts/lib.sh

go build -o "$work/vitalwire" ./cmd/vitalwire
go build -o "$work/wearsim" ./cmd/wearsim
mqtt_port=$(port); http_port=$(port)

if [ "$BROKER" = mosquitto ]; then
  start_mosquitto "$mqtt_port" false
  broker_yaml="broker:\n  embedded: false\nmqtt:\n  broker: tcp://127.0.0.1:$mqtt_port\n  client_id: vitalwire-fleet\n  connections: 2"
else
  # The whole fleet connects from this one address: lift the per-source limits.
  broker_yaml="broker:\n  embedded: true\n  addr: 127.0.0.1:$mqtt_port\n  limits:\n    max_connections_per_source: 0\n    connect_rate_per_source: 0"
fi
printf "data_dir: $work/data\nhttp:\n  addr: 127.0.0.1:$http_port\n$broker_yaml\nlog:\n  level: warn\n" > "$work/vitalwire.yaml"
"$work/vitalwire" serve --config "$work/vitalwire.yaml" & pids+=($!)
wait_tcp "$http_port"; wait_tcp "$mqtt_port"
token=$("$work/vitalwire" token create --sub fleet-admin --role admin --data-dir "$work/data" 2>/dev/null)

common=(--patients "$DEVICES" --devices-per-patient 1 --prefix fleet --upload-every "$UPLOAD" --seed 1)
time "$work/wearsim" provision --server "http://127.0.0.1:$http_port" --token "$token" "${common[@]}" --out "$work/devices.json" >&2
echo "fleet: broker=$BROKER devices=$DEVICES for=$FOR upload-every=$UPLOAD" >&2
"$work/wearsim" run --broker "tcp://127.0.0.1:$mqtt_port" --devices "$work/devices.json" "${common[@]}" --for "$FOR" --quiet
ps -o rss=,comm= -p "${pids[-1]}" | awk '{printf "vitalwire RSS at the end: %.0f MiB\n", $1/1024}' >&2
