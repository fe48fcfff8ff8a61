#!/usr/bin/env bash
# Load test on this machine: wearsim publishes QoS 1 batches of 10 readings
# through a real Mosquitto into Vitalwire, which writes to a real InfluxDB
# (STORE=influx, the default) or to its embedded SQLite store (STORE=sqlite).
# Everything binds to 127.0.0.1 and stops at the end. Prints wearsim's JSON
# report. Knobs: STORE, DURATION (60s), DEVICES (20), CONNECTIONS (ingester
# subscriber connections, 4), WRITERS (4), WINDOW (per-device in-flight, 64).
# BROKER=embedded uses Vitalwire's own broker (device credentials, its ACL
# and limits) instead of Mosquitto.
# Extra arguments go to "wearsim load" (e.g. --rate 8000 messages/s).
# PROBE=1 also measures publish-to-alert latency on a clinician's live
# WebSocket: a probe device trips a rule every 200 ms during the load.
# PROFILE=realistic or PROFILE=flood runs one of issue 15's profiles and
# reports the CPU seconds per million durable readings of Vitalwire,
# Mosquitto and influxd (from /proc/PID/stat, first publish to last
# reading durable) in the JSON's cpu_seconds_per_million_readings:
#   realistic: 2,000 devices, each uploading a history (a reading a second,
#              batches of 10 at QoS 1, as fast as acknowledged)
#   flood:     20 devices, each one patient's stream of a reading every
#              millisecond (1,000 a second), uploaded as fast as acknowledged
#   flood-paced: 20 devices sending 1,000 readings a second each in real
#              time (20,000 readings/s offered)
# READINGS (2000000) is the total of either; READINGS=20000 checks that it
# runs. Any run reports the CPU per million readings.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-}
READINGS=${READINGS:-2000000}
profile_args=()
# The realistic profile's history reaches back a reading a second for
# READINGS/DEVICES seconds before the run: bind the devices from before it.
provision_args=()
case "$PROFILE" in
  realistic) DEVICES=${DEVICES:-2000}; DURATION=${DURATION:-30m}; profile_args=(--readings "$READINGS" --spacing 1s)
    provision_args=(--history "$(( READINGS / DEVICES + 3600 ))s") ;;
  flood) DEVICES=${DEVICES:-20}; DURATION=${DURATION:-30m}; profile_args=(--readings "$READINGS" --spacing 1ms)
    provision_args=(--history 3600s) ;;
  flood-paced) DEVICES=${DEVICES:-20}; DURATION=${DURATION:-30m}; profile_args=(--readings "$READINGS" --rate $((DEVICES * 1000 / 10))) ;;
  "") ;;
  *) echo "PROFILE: realistic, flood, flood-paced or unset" >&2; exit 2 ;;
esac
STORE=${STORE:-influx}
DURATION=${DURATION:-60s}
DEVICES=${DEVICES:-20}
CONNECTIONS=${CONNECTIONS:-4}
WRITERS=${WRITERS:-4}
WINDOW=${WINDOW:-64}
BROKER=${BROKER:-mosquitto}

. scripts/lib.sh
# A connection per device: Mosquitto (and this shell's children) need a
# file per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

go build -o "$work/vitalwire" ./cmd/vitalwire
go build -o "$work/wearsim" ./cmd/wearsim

mqtt_port=$(port); http_port=$(port)
cpu=""
broker_yaml="broker:\n  embedded: true\n  addr: 127.0.0.1:$mqtt_port\n"
if [ "$BROKER" != embedded ]; then
  start_mosquitto "$mqtt_port" true
  cpu="mosquitto=${pids[-1]}"
  broker_yaml="broker:\n  embedded: false\nmqtt:\n  broker: tcp://127.0.0.1:$mqtt_port\n  client_id: vitalwire-load\n  connections: $CONNECTIONS\n"
fi

store_yaml="store:\n  kind: sqlite"
if [ "$STORE" = influx ]; then
  influxd=${VITALWIRE_INFLUXD:-${XDG_CACHE_HOME:-$HOME/.cache}/vitalwire/bin/influxd}
  [ -x "$influxd" ] || GOBIN=$(dirname "$influxd") go install github.com/influxdata/influxdb/cmd/influxd@v1.8.0
  ihttp=$(port); irpc=$(port)
  cat > "$work/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$irpc"
[meta]
  dir = "$work/influx/meta"
[data]
  dir = "$work/influx/data"
  wal-dir = "$work/influx/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
[http]
  bind-address = "127.0.0.1:$ihttp"
  log-enabled = false
  flux-enabled = true
CONF
  "$influxd" -config "$work/influxdb.conf" 2>"$work/influxd.log" & pids+=($!)
  cpu="${cpu:+$cpu,}influxd=$!"
  wait_tcp "$ihttp"
  curl -fsS -XPOST "http://127.0.0.1:$ihttp/query" --data-urlencode "q=CREATE DATABASE vitalwire" >/dev/null
  store_yaml="store:\n  kind: influx\n  influx:\n    url: http://127.0.0.1:$ihttp\n    bucket: vitalwire/autogen"
fi

{ cat alerts/default_rules.yaml; echo "  - {id: probe, kind: threshold, vital: blood_glucose, below: 45, clear: 46, raw: true, severity: low}"; } > "$work/rules.yaml"
printf "alerts:\n  rules_file: $work/rules.yaml\n" > "$work/alerts.yaml"
printf "data_dir: $work/data\nhttp:\n  addr: 127.0.0.1:$http_port\n$broker_yaml$store_yaml\ningest:\n  writers: $WRITERS\nlog:\n  level: warn\n" > "$work/vitalwire.yaml"
cat "$work/alerts.yaml" >> "$work/vitalwire.yaml"
"$work/vitalwire" serve --config "$work/vitalwire.yaml" & pids+=($!)
cpu="vitalwire=$!${cpu:+,$cpu}"
wait_tcp "$http_port"
token=$("$work/vitalwire" token create --sub load-admin --role admin --data-dir "$work/data" 2>/dev/null)

"$work/wearsim" provision --server "http://127.0.0.1:$http_port" --token "$token" --patients "$DEVICES" --devices-per-patient 1 --prefix load --out "$work/devices.json" "${provision_args[@]}" >&2
api() { curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "http://127.0.0.1:$http_port$1" -d "$2"; }
# A clinician of the load patients' care team: wearsim reads the run's own
# readings back with it (lost_readings).
api /api/v1/care-teams '{"id":"load-team","name":"Load"}' >/dev/null
api /api/v1/care-teams/load-team/members '{"kind":"clinician","member":"load-doc"}' >/dev/null
for n in $(seq -f %03g 1 "$DEVICES"); do
  api /api/v1/patients "{\"id\":\"load-$n\",\"mrn\":\"LOAD-$n\",\"name\":\"Load $n\",\"birth_date\":\"1970-01-01\"}" >/dev/null
  api /api/v1/care-teams/load-team/members "{\"kind\":\"patient\",\"member\":\"load-$n\"}" >/dev/null
done
reader=$("$work/vitalwire" token create --sub load-doc --role clinician --data-dir "$work/data" 2>/dev/null)
probe=()
if [ "${PROBE:-0}" = 1 ]; then
  api /api/v1/patients '{"id":"probe-patient","mrn":"PROBE-1","name":"Probe","birth_date":"1970-01-01"}' >/dev/null
  api /api/v1/care-teams '{"id":"probe-team","name":"Probe team"}' >/dev/null
  api /api/v1/care-teams/probe-team/members '{"kind":"clinician","member":"probe-doc"}'
  api /api/v1/care-teams/probe-team/members '{"kind":"patient","member":"probe-patient"}'
  api /api/v1/devices '{"id":"probe-cgm","kind":"cgm","patient":"probe-patient"}' \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([{"id":d["id"],"secret":d["secret"],"kind":"cgm","patient":"probe-patient"}]))' > "$work/probe.json"
  probe=(--probe-device "$work/probe.json" --probe-token "$("$work/vitalwire" token create --sub probe-doc --role clinician --data-dir "$work/data" 2>/dev/null)")
fi
echo "load: profile=${PROFILE:-none} broker=$BROKER store=$STORE devices=$DEVICES connections=$CONNECTIONS writers=$WRITERS window=$WINDOW duration=$DURATION" >&2
"$work/wearsim" load --broker "tcp://127.0.0.1:$mqtt_port" --server "http://127.0.0.1:$http_port" \
  --devices "$work/devices.json" --duration "$DURATION" --window "$WINDOW" --token "$reader" --cpu "$cpu" \
  "${profile_args[@]}" "${probe[@]}" "$@"
