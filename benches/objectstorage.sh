#!/usr/bin/env bash
# `objectstorage credentials` answering from its kept key, against `token credential`
# answering from its kernel keyring copy, as whole processes (the AWS CLI and kubectl run
# each once per command). Run inside .ci/with-keyring with a built binary:
#   cargo build --release && .ci/with-keyring benches/objectstorage.sh target/release/kubectl-coreweave
# The first calls mint one key each from a loopback stand-in of the access-key endpoint;
# every measured run is then answered from the kept key. The script runs in a session
# keyring of its own (x86_64 keyctl syscall 250), so nothing it keeps outlives it.
set -euo pipefail
bin="${1:?usage: benches/objectstorage.sh PATH/TO/kubectl-coreweave}"
if [ -z "${KCW_BENCH_OWN_SESSION:-}" ]; then
  export KCW_BENCH_OWN_SESSION=1
  exec python3 -c 'import ctypes,os,sys;assert ctypes.CDLL(None).syscall(250,1,None)>0;os.execvp("bash",["bash"]+sys.argv[1:])' "$0" "$@"
fi
dir="$(mktemp -d)"
port=18766
python3 - "$port" <<'PY' &
import datetime, http.server, json, secrets, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        secs = json.loads(self.rfile.read(n))["durationSeconds"]
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=secs)
        out = json.dumps({"accessKeyId": "CWBENCH" + secrets.token_hex(4), "secretKey": secrets.token_hex(20),
                          "principalName": "p", "expiry": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
server=$!
trap 'kill "$server" 2>/dev/null; secret-tool clear service kubectl-coreweave username bench-objstore; rm -rf "$dir"' EXIT
sleep 1
token="CW-SECRET-bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$dir/inline" <<K
apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: https://c1.k8s.test.coreweave.com
contexts:
- name: cw
  context:
    cluster: c1
    user: alice
users:
- name: alice
  user:
    token: $token
current-context: cw
K
cp "$dir/inline" "$dir/stored"
export COREWEAVE_API_ENDPOINT="http://127.0.0.1:$port" KUBECONFIG="$dir/stored"
"$bin" token store --item bench-objstore >/dev/null
"$bin" token credential bench-objstore >/dev/null
"$bin" objectstorage credentials >/dev/null
"$bin" --kubeconfig "$dir/inline" objectstorage credentials >/dev/null
hyperfine -N --warmup 20 --runs 300 --export-json "${BENCH_JSON_DIR:-/tmp}/objectstorage.json" \
  -n 'token credential (warm)' "$bin token credential bench-objstore" \
  -n 'objectstorage credentials (token in keyring, kept key)' "$bin objectstorage credentials" \
  -n 'objectstorage credentials (token inline, kept key)' "$bin --kubeconfig $dir/inline objectstorage credentials" \
  -n 'token credential (warm, again)' "$bin token credential bench-objstore"
