# Shared by the registry benchmarks (sourced from the repository root): a release
# `phonecert serve` on a free loopback port with its data in a temporary folder removed at exit,
# and curl/python3 helpers for its JSON API.
#
# BENCH_NO_BUILD=1 takes the release binary as it is (when others are editing the sources).
BIN=target/release/phonecert
if [ "${BENCH_NO_BUILD:-0}" != 1 ] || [ ! -x "$BIN" ]; then
  cargo build --release --quiet -p phonecert
fi

PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE=http://127.0.0.1:$PORT
TMP=$(mktemp -d "${TMPDIR:-/tmp}/phonecert-registry-bench.XXXXXX")
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ADMIN_EMAIL=admin@bench.example
ADMIN_PASSWORD='bench password 1234'
server_failed() { echo "$1; server log:" >&2; tail -20 "$TMP/server.log" >&2; exit 1; }
start_server() { # [serve options…]: starts the server (pid in SERVER), waits for /healthz
  PHONECERT_ADMIN_EMAIL=$ADMIN_EMAIL PHONECERT_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    "$BIN" serve --listen "127.0.0.1:$PORT" --data "$TMP/data" --workers 1 "$@" > "$TMP/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)" = 200 ] && break
    kill -0 "$SERVER" 2> /dev/null || server_failed "the server exited"
    sleep 0.1
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)" = 200 ] || server_failed "no /healthz 200 after 30 s"
}

# JSON in and out with python3 (jq may be missing).
json() { # KEY VALUE …: a JSON object of strings
  python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[::2], a[1::2]))))' "$@"
}
field() { # EXPR on the JSON document `d` read from stdin, e.g. field 'd["run"]["state"]'
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
AUTH=()
api() { # METHOD PATH [JSON | @FILE for a raw upload]: the response body; fails unless 2xx
  local m=$1 p=$2 code
  local args=(-sS -X "$m" -o "$TMP/resp" -w '%{http_code}' "${AUTH[@]}")
  if [ $# -ge 3 ]; then
    case $3 in
      @*) args+=(-H 'Content-Type: application/octet-stream' -T "${3#@}") ;;
      *) args+=(-H 'Content-Type: application/json' --data-binary "$3") ;;
    esac
  fi
  code=$(curl "${args[@]}" "$BASE$p")
  case $code in
    2??) cat "$TMP/resp" ;;
    *) echo "$m $p: HTTP $code: $(head -c 600 "$TMP/resp")" >&2; return 1 ;;
  esac
}

api_token() { # logs in as the admin and sets AUTH to an API token's header
  # A session (cookie jar; sent to 127.0.0.1 although Secure) and its CSRF token make an API token.
  AUTH=(-c "$TMP/cookies" -b "$TMP/cookies")
  CSRF=$(api POST /api/v1/session "$(json email "$ADMIN_EMAIL" password "$ADMIN_PASSWORD")" | field 'd["csrf_token"]')
  AUTH+=(-H "X-CSRF-Token: $CSRF")
  TOKEN=$(api POST /api/v1/tokens "$(json label bench)" | field 'd["token"]')
  AUTH=(-H "Authorization: Bearer $TOKEN")
}
