# Shared by the bench/run_*.sh scripts. Source it after `cd` to the repository
# root; the emulator needs BUILD (the build directory) and WORK (a scratch
# directory) set.

# A TCP port free on loopback right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts a fast bulk endpoint (sluice-es-emulator --fast) in the background;
# $1 names its files in $WORK. Sets EMU_PID and EMU_PORT.
start_es_emulator() {
  "$BUILD/tests/common/sluice-es-emulator" --listen 127.0.0.1:0 --fast > "$WORK/$1.port" 2>"$WORK/$1.err" &
  EMU_PID=$!
  for _ in $(seq 200); do [[ -s $WORK/$1.port ]] && break; sleep 0.05; done
  EMU_PORT=$(head -1 "$WORK/$1.port" | grep -o '[0-9]*$')
}

# The options of the rules' end-to-end scripts (run_rules_share.sh,
# run_rules_floor.sh): sets RULES, EVENTS and LOADGEN (lumberjack_loadgen's
# extra arguments, an array); exits 2 on an unknown option.
rules_run_options() {
  while (($#)); do
    case "$1" in
      --rules) RULES=$2; shift 2 ;;
      --events) EVENTS=$2; shift 2 ;;
      --distinct) LOADGEN+=(--distinct "$2"); shift 2 ;;
      --compression) LOADGEN+=(--compression "$2"); shift 2 ;;
      --fleet) LOADGEN+=(--fleet); shift ;;
      *) echo "$(basename "$0"): unknown option $1" >&2; exit 2 ;;
    esac
  done
}
