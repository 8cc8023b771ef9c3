# Sourced by the bench scripts: the reference server they measure against.
# nginx answering a fixed 200 on loopback, started and stopped in the calling
# shell (never inside $(...), which would wait for nginx to exit).
#   start_nginx WORKERS DIR   sets $nginx_port and $nginx_pid, waits until it answers
#   stop_nginx

NGINX=${NGINX:-/usr/sbin/nginx}   # override with NGINX=/path
nginx_pid=""

# A port nobody listens on (bash's /dev/tcp connect fails on a free one).
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port found" >&2
  exit 1
}

start_nginx() {
  local workers=$1 dir=$2
  nginx_port=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<CONF
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
CONF
  "$NGINX" -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 &
  nginx_pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$nginx_port/" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "nginx did not start (see $dir/error.log)" >&2
  exit 1
}

stop_nginx() {
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  nginx_pid=""
}

# Exits 2 naming the first missing tool: wrk, nginx, and the arguments.
require_tools() {
  local tool
  for tool in wrk "$NGINX" "$@"; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "missing $tool (run: make build)" >&2; exit 2; }
  done
}
