# Shared by the bench/run_*.sh scripts. Source it after `cd` to the repository
# root, with BUILD (the build directory) and WORK (a scratch directory) set.

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
