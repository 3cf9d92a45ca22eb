#!/usr/bin/env bash
# `token credential` as kubectl runs it, on a real Secret Service. Run inside
# .ci/with-keyring with a built binary:
#   cargo build --profile bench --bin kubectl-coreweave
#   .ci/with-keyring benches/credential.sh target/release/kubectl-coreweave
# It stores an item bound to a loopback TLS API server (a self-signed certificate, given to
# kubectl as the cluster's CA), then, in a session keyring of its own (as a login session
# has), alternates:
#   - `kubectl auth whoami` with the token inline, and through the exec entry (warm copy);
#   - `token credential` alone with kubectl's KUBERNETES_EXEC_INFO (server and CA), warm,
#     and cold (the kernel copy dropped before each run);
# and prints medians (ms) and the exec/inline ratio. No hyperfine needed: python3 times it.
set -euo pipefail
bin="$(realpath "${1:?usage: benches/credential.sh PATH/TO/kubectl-coreweave}")"
runs="${BENCH_RUNS:-60}"
dir="$(mktemp -d)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
port=18766
cat >"$dir/server.py" <<'PY'
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                           "status": {"userInfo": {"username": "bench"}}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
python3 "$dir/server.py" "$port" "$dir/cert.pem" "$dir/key.pem" &
server=$!
sleep 1
ca="$(base64 -w0 "$dir/cert.pem")"
cat >"$dir/static" <<EOF
apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster: {server: "https://127.0.0.1:$port", certificate-authority-data: $ca}
users:
- name: u
  user:
    token: CW-SECRET-bench-0123456789abcdef
EOF
cp "$dir/static" "$dir/exec"
"$bin" token store --kubeconfig "$dir/exec" --item bench-credential --force >/dev/null
info="$(printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://127.0.0.1:%s","certificate-authority-data":"%s"}}}' "$port" "$ca")"
python3 - "$bin" "$dir" "$runs" "$info" <<'PY'
import ctypes, os, statistics, subprocess, sys, time
bin_, d, runs, info = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
libc = ctypes.CDLL(None, use_errno=True)
# keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a session keyring of our own, as a login has.
assert libc.syscall(250, 1, None) > 0, "cannot join a session keyring"
def timed(cmd, env=None, prepare=None):
    if prepare:
        prepare()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - t) * 1000
def drop():
    # Invalidate every key in the session keyring (the plugin's copies).
    ids = (ctypes.c_int32 * 64)()
    n = libc.syscall(250, 11, -3, ids, ctypes.sizeof(ids))
    for i in range(max(0, n) // 4):
        libc.syscall(250, 21, ids[i])
whoami = lambda f: ["kubectl", "--kubeconfig", f"{d}/{f}", "auth", "whoami"]
cred = [bin_, "token", "credential", "bench-credential"]
env = dict(os.environ, KUBERNETES_EXEC_INFO=info)
for f in ("static", "exec"):
    timed(whoami(f))
timed(cred, env)
rows = {"kubectl auth whoami, token inline": [], "kubectl auth whoami, exec entry (warm)": [],
        "token credential (warm)": [], "token credential (cold)": []}
for _ in range(runs):
    rows["kubectl auth whoami, token inline"].append(timed(whoami("static")))
    rows["kubectl auth whoami, exec entry (warm)"].append(timed(whoami("exec")))
    for _ in range(3):
        rows["token credential (warm)"].append(timed(cred, env))
    rows["token credential (cold)"].append(timed(cred, env, drop))
    timed(cred, env)
med = {k: statistics.median(v) for k, v in rows.items()}
for k, v in rows.items():
    print(f"{k:42} median {med[k]:7.2f} ms  (n={len(v)}, min {min(v):.2f})")
inline, exec_ = med["kubectl auth whoami, token inline"], med["kubectl auth whoami, exec entry (warm)"]
print(f"exec entry / inline token per kubectl auth whoami: {exec_ / inline:.3f}")
PY
