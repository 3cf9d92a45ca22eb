#!/usr/bin/env bash
# `token credential` as kubectl runs it (a whole process), next to a Go exec plugin's bare
# start, on a real Secret Service. Run inside .ci/with-keyring with a built binary:
#   cargo build --profile bench && .ci/with-keyring benches/credential.sh target/bench/kubectl-coreweave
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
hyperfine -N --warmup 20 --runs 200 \
  -n 'token credential (warm)' "$bin token credential bench" \
  -n 'gke-gcloud-auth-plugin --version' 'gke-gcloud-auth-plugin --version'
hyperfine --shell=none --warmup 5 --runs 100 --prepare "$drop_copy" \
  -n 'token credential (cold)' "$bin token credential bench" \
  -n 'gke-gcloud-auth-plugin --version' 'gke-gcloud-auth-plugin --version'
