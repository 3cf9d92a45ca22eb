#!/usr/bin/env bash
# `token credential` as kubectl runs it (a whole process), next to a Go exec plugin's bare
# start, on a real Secret Service. Run inside .ci/with-keyring with a built binary:
#   cargo build --profile bench --bin kubectl-coreweave && .ci/with-keyring benches/credential.sh target/release/kubectl-coreweave
# warm: the token is in the kernel keyring copy; cold: that copy is dropped before each run,
# so the Secret Service is asked (D-Bus connection, session, search, secret).
set -euo pipefail
bin="${1:?usage: benches/credential.sh PATH/TO/kubectl-coreweave}"
printf 'CW-SECRET-bench-0123456789abcdef' |
  secret-tool store --label=bench service kubectl-coreweave username bench
export KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}'
# Drops the kernel keyring copy (KEYCTL_SEARCH on the session keyring, KEYCTL_INVALIDATE).
drop_copy="python3 -c 'import ctypes,os;l=ctypes.CDLL(None);k=l.syscall(250,10,-3,b\"user\",(\"kubectl-coreweave:bench:\"+os.environ.get(\"DBUS_SESSION_BUS_ADDRESS\",\"\")).encode(),0);k>0 and l.syscall(250,21,k)'"
"$bin" token credential bench >/dev/null
hyperfine -N --warmup 20 --runs 200 --export-json "${BENCH_JSON_DIR:-/tmp}/credential-warm.json" \
  -n 'token credential (warm)' "$bin token credential bench" \
  -n 'gke-gcloud-auth-plugin --version' 'gke-gcloud-auth-plugin --version'
hyperfine --shell=none --warmup 5 --runs 100 --export-json "${BENCH_JSON_DIR:-/tmp}/credential-cold.json" --prepare "$drop_copy" \
  -n 'token credential (cold)' "$bin token credential bench" \
  -n 'gke-gcloud-auth-plugin --version' 'gke-gcloud-auth-plugin --version'

# kubectl itself, once with the token inline and once through the exec entry (warm copy),
# against a plain HTTP server on loopback (`kubectl get --raw /` runs the plugin as any
# request does).
dir="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
port=18765
(cd "$dir" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
sleep 1
head='apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster: {server: "http://127.0.0.1:'"$port"'"}
users:
- name: u
  user:'
printf '%s\n    token: CW-SECRET-bench-0123456789abcdef\n' "$head" >"$dir/static"
printf '%s\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n      args: [token, credential, bench]\n      interactiveMode: Never\n' \
  "$head" "$(realpath "$bin")" >"$dir/exec"
kubectl --kubeconfig "$dir/exec" get --raw / >/dev/null
hyperfine -N --warmup 5 --runs 60 --export-json "${BENCH_JSON_DIR:-/tmp}/credential-kubectl.json" \
  -n 'kubectl get --raw / (static token)' "kubectl --kubeconfig $dir/static get --raw /" \
  -n 'kubectl get --raw / (exec entry)' "kubectl --kubeconfig $dir/exec get --raw /"
