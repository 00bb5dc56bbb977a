#!/usr/bin/env bash
# Starts local OCI registries (Debian's docker-registry, distribution 2.8) on
# 127.0.0.1 for testing image pulls, each on a free port with its own storage
# under one temp dir, and stops them on exit:
#   plain  HTTP, no auth
#   basic  HTTP, htpasswd Basic auth (user testuser, password testpass)
#   tls    HTTPS with a self-signed certificate (pull with tlsVerify: false)
#   token  HTTP, Bearer tokens from a small Node token server (testuser/testpass)
#
# Usage:
#   sudo bash scripts/test-registry.sh --install     install docker-registry if missing, then exit
#   bash scripts/test-registry.sh                    start, print the URLs, run until Ctrl-C
#   bash scripts/test-registry.sh -- CMD [ARG...]    start, run CMD with REGISTRY_PLAIN, REGISTRY_BASIC,
#                                                    REGISTRY_TLS, REGISTRY_TOKEN (host:port) in its
#                                                    environment, stop, exit with CMD's status
# The vitest suite (test/integration/registry/) starts its own registries the
# same way (test/integration/registry/test-registry.ts); it only needs the package.
set -euo pipefail

PACKAGE=docker-registry
BIN=/usr/bin/docker-registry
USER_NAME=testuser
PASSWORD=testpass
# htpasswd -nbB testuser testpass (the registry reads bcrypt entries only)
HTPASSWD='testuser:$2y$05$kXlG7fvCuVMP6Nzgd0kTm.SjkGI6KZ7O6JVHii/fnCj0LUFuMlnUC'

die() { echo "test-registry: $*" >&2; exit 1; }

install_registry() {
  [[ -x $BIN ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "$BIN is missing and installing it needs root: sudo apt-get install $PACKAGE (or sudo bash $0 --install)"
  command -v apt-get >/dev/null || die "$BIN is missing and apt-get is not available: install the distribution registry (docker-registry) by hand"
  echo "test-registry: installing $PACKAGE" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$PACKAGE" >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$PACKAGE" >&2; } \
    || die "apt-get install $PACKAGE failed"
  # the package's service (port 5000, /var/lib/docker-registry) is not used here
  if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl disable --now docker-registry >&2 || true
  fi
}

if [[ ${1:-} == --install ]]; then install_registry; exit 0; fi
install_registry
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
command -v node >/dev/null || die "node is missing (the token server is a Node script)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sandbox-test-registry.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

cert() { # DIR NAME: self-signed for 127.0.0.1 and localhost
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/$2.key" -out "$1/$2.crt" -days 2 -subj "/CN=$2" \
    -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' >/dev/null 2>&1 || die "openssl could not make a certificate"
}

wait_v2() { # URL PID LOG
  local i code
  for ((i = 0; i < 150; i++)); do
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "docker-registry exited before answering $1/v2/"; }
    code=$(node -e "
      const u=new URL(process.argv[1]);const m=require(u.protocol==='https:'?'https':'http');
      const r=m.get(u,{rejectUnauthorized:false,timeout:1000},(res)=>{console.log(res.statusCode);res.resume()});
      r.on('error',()=>console.log(0));r.on('timeout',()=>{r.destroy()})" "$1/v2/" 2>/dev/null || echo 0)
    [[ $code == 200 || $code == 401 ]] && return 0
    sleep 0.1
  done
  cat "$3" >&2
  die "docker-registry did not answer $1/v2/ within 15 s"
}

TOKEN_SERVER='
const http=require("http"),crypto=require("crypto"),fs=require("fs");
const [cert,key,user,pass,portFile]=process.argv.slice(1);
const der=fs.readFileSync(cert,"utf8").replace(/-----[^-]+-----/g,"").replace(/\s+/g,"");
const pk=fs.readFileSync(key,"utf8");const b=(x)=>Buffer.from(x).toString("base64url");
const s=http.createServer((req,res)=>{const u=new URL(req.url,"http://x");let who="";
  const a=req.headers.authorization||"";
  if(a.startsWith("Basic ")){const [n,p]=Buffer.from(a.slice(6),"base64").toString().split(":");
    if(n!==user||p!==pass){res.writeHead(401,{"content-type":"application/json"});
      return res.end(JSON.stringify({errors:[{code:"UNAUTHORIZED",message:"invalid username or password"}]}));}who=n;}
  const access=who?u.searchParams.getAll("scope").map((x)=>/^(repository):(.+):([a-z,*]+)$/.exec(x)).filter(Boolean)
    .map((m)=>({type:m[1],name:m[2],actions:m[3].split(",")})):[];
  const now=Math.floor(Date.now()/1000);
  const t=b(JSON.stringify({alg:"RS256",typ:"JWT",x5c:[der]}))+"."+b(JSON.stringify({iss:"test-issuer",sub:who,
    aud:u.searchParams.get("service")||"test-registry",exp:now+300,nbf:now-10,iat:now,jti:crypto.randomBytes(8).toString("hex"),access}));
  res.writeHead(200,{"content-type":"application/json"});
  res.end(JSON.stringify({token:t+"."+b(crypto.createSign("RSA-SHA256").update(t).sign(pk)),expires_in:300}));});
s.listen(0,"127.0.0.1",()=>fs.writeFileSync(portFile,String(s.address().port)));
'

start() { # MODE -> sets URL_<MODE> and HOST_<MODE>
  local mode=$1 dir="$WORK/$1" port scheme=http pid
  mkdir -p "$dir/storage"
  port=$(free_port)
  {
    echo 'version: 0.1'
    echo 'log: {level: warn, accesslog: {disabled: true}}'
    echo "storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}"
    echo 'http:'
    echo "  addr: 127.0.0.1:$port"
    echo "  secret: $(openssl rand -hex 16)"
  } >"$dir/config.yml"
  case $mode in
    tls)
      cert "$dir" registry; scheme=https
      printf '  tls: {certificate: %s, key: %s}\n' "$dir/registry.crt" "$dir/registry.key" >>"$dir/config.yml" ;;
    basic)
      echo "$HTPASSWD" >"$dir/htpasswd"
      printf 'auth: {htpasswd: {realm: test-realm, path: %s}}\n' "$dir/htpasswd" >>"$dir/config.yml" ;;
    token)
      cert "$dir" token-signer
      node -e "$TOKEN_SERVER" "$dir/token-signer.crt" "$dir/token-signer.key" "$USER_NAME" "$PASSWORD" "$dir/token-port" &
      PIDS+=($!)
      local i; for ((i = 0; i < 100; i++)); do [[ -s $dir/token-port ]] && break; sleep 0.05; done
      [[ -s $dir/token-port ]] || die "the token server did not start"
      printf 'auth: {token: {realm: "http://127.0.0.1:%s/token", service: test-registry, issuer: test-issuer, rootcertbundle: %s}}\n' \
        "$(cat "$dir/token-port")" "$dir/token-signer.crt" >>"$dir/config.yml" ;;
  esac
  "$BIN" serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_v2 "$scheme://127.0.0.1:$port" "$pid" "$dir/log"
  printf -v "HOST_${mode^^}" '%s' "127.0.0.1:$port"
  printf '%-6s %s://127.0.0.1:%s  (storage %s)\n' "$mode" "$scheme" "$port" "$dir/storage"
}

echo "test-registry: registries under $WORK (user $USER_NAME, password $PASSWORD for basic and token):"
for mode in plain basic tls token; do start "$mode"; done
export REGISTRY_PLAIN=$HOST_PLAIN REGISTRY_BASIC=$HOST_BASIC REGISTRY_TLS=$HOST_TLS REGISTRY_TOKEN=$HOST_TOKEN

if [[ ${1:-} == -- ]]; then
  shift
  [[ $# -gt 0 ]] || die "nothing to run after --"
  set +e
  "$@"
  status=$?
  set -e
  exit "$status"
fi
echo "test-registry: running; Ctrl-C stops them"
sleep infinity &
PIDS+=($!)
wait $! || true
