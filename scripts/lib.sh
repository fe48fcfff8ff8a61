# Shared by the scripts that start servers on this machine: a work folder
# removed at exit, the started processes stopped at exit, free loopback
# ports, and waiting for a port to accept connections.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_tcp() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not ready" >&2; exit 1; }

# start_mosquitto PORT PERSIST: an anonymous Mosquitto on 127.0.0.1:PORT with
# the settings of docs/BROKERS.md; PERSIST is true or false.
start_mosquitto() {
  cat > "$work/mosquitto.conf" <<CONF
listener $1 127.0.0.1
allow_anonymous true
persistence $2
persistence_location $work/
autosave_interval 10
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
log_dest stderr
log_type error
$( [ "$(id -u)" = 0 ] && echo "user root" )
CONF
  /usr/sbin/mosquitto -c "$work/mosquitto.conf" & pids+=($!)
  wait_tcp "$1"
}
