#!/usr/bin/env bash
# A small real OpenStack on 127.0.0.1 for Beskar's entity tests: Keystone, Placement, Nova API,
# Neutron server, Cinder API and Glance from Debian 12's packages (OpenStack Zed), on a MariaDB
# with a private data directory. No agents, no compute: Nova, Neutron and Cinder use
# `transport_url = fake://`, so everything the APIs store works and nothing boots.
#
#   scripts/test-cloud.sh install   apt-get the packages (idempotent)
#   scripts/test-cloud.sh start     initialise on first use, start, wait until every API answers,
#                                   then print the environment (eval "$(scripts/test-cloud.sh start)")
#   scripts/test-cloud.sh env       print the environment of a started cloud
#   scripts/test-cloud.sh stop      stop what `start` started (by its recorded process ids)
#   scripts/test-cloud.sh reset     stop and delete all state (the next start is a fresh cloud)
#
# State lives in $BESKAR_TEST_CLOUD_DIR (default /tmp/beskar-test-cloud): configuration, database,
# logs, a clouds.yaml with the admin credentials (entry `beskar-test`). The printed environment is
#   BESKAR_TEST_CLOUD=<dir>/clouds.yaml
# which the tests that need a live cloud read. Ports: $BESKAR_TEST_CLOUD_PORT_BASE (default 0)
# is added to the standard ports (5000, 8774, 8778, 9696, 8776, 9292).
set -euo pipefail

DIR=${BESKAR_TEST_CLOUD_DIR:-/tmp/beskar-test-cloud}
BASE=${BESKAR_TEST_CLOUD_PORT_BASE:-0}
HOST=127.0.0.1
PY=/usr/bin/python3   # Debian's Python: the services' libraries live in its dist-packages
KEYSTONE_PORT=$((5000 + BASE)); NOVA_PORT=$((8774 + BASE)); PLACEMENT_PORT=$((8778 + BASE))
NEUTRON_PORT=$((9696 + BASE)); CINDER_PORT=$((8776 + BASE)); GLANCE_PORT=$((9292 + BASE))
PACKAGES="mariadb-server keystone nova-api placement-api neutron-server cinder-api glance-api
          python3-pymysql uwsgi-core uwsgi-plugin-python3 curl"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
ME=$(id -un); MYGROUP=$(id -gn)
SERVICES="keystone placement nova neutron cinder glance"

log() { echo "test-cloud: $*" >&2; }
die() { log "$*"; exit 1; }

install() {
  local missing=""
  for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
  done
  [ -z "$missing" ] && { log "packages already installed"; return; }
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  # Debian's maintainer scripts would start daemons; the private setup below runs its own instead.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

db_url() { echo "mysql+pymysql://openstack:$(cat "$DIR/secret")@localhost/$1?unix_socket=$DIR/run/mysql.sock&charset=utf8"; }

authtoken() {  # [keystone_authtoken] (and the same block for nova's clients) for service user $1
  cat <<EOF
auth_url = http://$HOST:$KEYSTONE_PORT/v3
www_authenticate_uri = http://$HOST:$KEYSTONE_PORT/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $(cat "$DIR/secret")
region_name = RegionOne
EOF
}

write_config() {
  local etc=$DIR/etc
  mkdir -p "$etc/nova" "$etc/placement" "$DIR/keystone" "$DIR/neutron" "$DIR/glance/images" "$DIR/lock"
  cat > "$etc/keystone.conf" <<EOF
[DEFAULT]
log_file = $DIR/log/keystone.log
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $DIR/keystone/fernet-keys
[credential]
key_repository = $DIR/keystone/credential-keys
EOF
  cp /etc/nova/api-paste.ini "$etc/nova/api-paste.ini"
  cat > "$etc/nova/nova.conf" <<EOF
[DEFAULT]
transport_url = fake://
enabled_apis = osapi_compute
log_file = $DIR/log/nova-api.log
state_path = $DIR/nova
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[keystone_authtoken]
$(authtoken nova)
[placement]
$(authtoken placement)
[neutron]
$(authtoken neutron)
[oslo_concurrency]
lock_path = $DIR/lock
[wsgi]
api_paste_config = $etc/nova/api-paste.ini
EOF
  cat > "$etc/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $DIR/log/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $(db_url placement)
[keystone_authtoken]
$(authtoken placement)
EOF
  cat > "$etc/neutron.conf" <<EOF
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = fake://
bind_host = $HOST
bind_port = $NEUTRON_PORT
api_workers = 1
global_physnet_mtu = 9000
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_paste_config = /etc/neutron/api-paste.ini
state_path = $DIR/neutron
log_file = $DIR/log/neutron.log
[database]
connection = $(db_url neutron)
[keystone_authtoken]
$(authtoken neutron)
[nova]
$(authtoken nova)
[oslo_concurrency]
lock_path = $DIR/lock
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security
[ml2_type_vlan]
network_vlan_ranges = external,physnet1
[ml2_type_flat]
flat_networks = *
[ml2_type_vxlan]
vni_ranges = 1:1000
EOF
  cat > "$etc/cinder.conf" <<EOF
[DEFAULT]
transport_url = fake://
auth_strategy = keystone
osapi_volume_listen = $HOST
osapi_volume_listen_port = $CINDER_PORT
osapi_volume_workers = 1
api_paste_config = /etc/cinder/api-paste.ini
state_path = $DIR/cinder
log_file = $DIR/log/cinder-api.log
[database]
connection = $(db_url cinder)
[keystone_authtoken]
$(authtoken cinder)
[oslo_concurrency]
lock_path = $DIR/lock
EOF
  cat > "$etc/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $HOST
bind_port = $GLANCE_PORT
workers = 1
log_file = $DIR/log/glance-api.log
[database]
connection = $(db_url glance)
[keystone_authtoken]
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $DIR/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $DIR/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $DIR/glance/tasks
[oslo_concurrency]
lock_path = $DIR/lock
EOF
}

spawn() {  # spawn NAME COMMAND...: run detached in its own session, remember its process id
  local name=$1; shift
  setsid "$@" >>"$DIR/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$DIR/run/$name.pid"
}

alive() { [ -f "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }

wait_for() {  # wait_for NAME URL: until the URL answers any HTTP status, or the process died
  local name=$1 url=$2
  for _ in $(seq 1 240); do
    curl -s -o /dev/null -m 2 "$url" && return 0
    alive "$name" || die "$name exited while starting; see $DIR/log/$name.out and $DIR/log/"
    sleep 0.25
  done
  die "$name did not answer at $url within 60 s; see $DIR/log/"
}

uwsgi_app() {  # uwsgi_app NAME PORT WSGI_FILE ENV=VALUE: an API under uwsgi
  spawn "$1" uwsgi --plugins python3 --http-socket "$HOST:$2" --wsgi-file "$3" --env "$4" \
    --master --processes 2 --threads 1 --lazy-apps --die-on-term --buffer-size 65535 \
    --add-header "Connection: close" --need-app
}

start_database() {
  mkdir -p "$DIR/run" "$DIR/log"
  if [ ! -d "$DIR/mysql/mysql" ]; then
    # Root without a password is safe here: the server listens on a private socket only.
    mariadb-install-db --no-defaults --datadir="$DIR/mysql" --user="$ME" \
      --auth-root-authentication-method=normal >"$DIR/log/mariadb-install.out" 2>&1
  fi
  alive mariadb || spawn mariadb mariadbd --no-defaults --datadir="$DIR/mysql" --user="$ME" \
    --socket="$DIR/run/mysql.sock" --skip-networking --pid-file="$DIR/run/mysqld.pid" \
    --log-error="$DIR/log/mariadb.log" --innodb-buffer-pool-size=128M --max-connections=400 \
    --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
  for _ in $(seq 1 120); do
    mariadb --no-defaults -S "$DIR/run/mysql.sock" -uroot -e "select 1" >/dev/null 2>&1 && return 0
    alive mariadb || die "mariadb exited; see $DIR/log/mariadb.log"
    sleep 0.25
  done
  die "mariadb did not start; see $DIR/log/mariadb.log"
}

initialise() {  # first start only: databases, schemas, keystone bootstrap, service users and endpoints
  log "initialising a new cloud in $DIR"
  local sql="CREATE USER IF NOT EXISTS 'openstack'@'localhost' IDENTIFIED BY '$(cat "$DIR/secret")';"
  for db in keystone nova_api nova nova_cell0 placement neutron cinder glance; do
    sql="$sql CREATE DATABASE IF NOT EXISTS $db; GRANT ALL ON $db.* TO 'openstack'@'localhost';"
  done
  mariadb --no-defaults -S "$DIR/run/mysql.sock" -uroot -e "$sql"
  local etc=$DIR/etc
  keystone-manage --config-file "$etc/keystone.conf" db_sync
  keystone-manage --config-file "$etc/keystone.conf" fernet_setup --keystone-user "$ME" --keystone-group "$MYGROUP"
  keystone-manage --config-file "$etc/keystone.conf" credential_setup --keystone-user "$ME" --keystone-group "$MYGROUP"
  keystone-manage --config-file "$etc/keystone.conf" bootstrap --bootstrap-password "$(cat "$DIR/secret")" \
    --bootstrap-admin-url "http://$HOST:$KEYSTONE_PORT/v3" --bootstrap-public-url "http://$HOST:$KEYSTONE_PORT/v3" \
    --bootstrap-internal-url "http://$HOST:$KEYSTONE_PORT/v3" --bootstrap-region-id RegionOne
  # The other schemas migrate in parallel: they are independent and each takes seconds.
  local pids=""
  (placement-manage --config-file "$etc/placement/placement.conf" db sync) & pids="$pids $!"
  (nova-manage --config-file "$etc/nova/nova.conf" api_db sync &&
   nova-manage --config-file "$etc/nova/nova.conf" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)" &&
   nova-manage --config-file "$etc/nova/nova.conf" db sync &&
   nova-manage --config-file "$etc/nova/nova.conf" cell_v2 create_cell --name cell1 --transport-url fake:// \
     --database_connection "$(db_url nova)" >/dev/null) & pids="$pids $!"
  (neutron-db-manage --config-file "$etc/neutron.conf" upgrade heads) >>"$DIR/log/neutron-db-manage.out" 2>&1 & pids="$pids $!"
  (cinder-manage --config-file "$etc/cinder.conf" db sync) & pids="$pids $!"
  (glance-manage --config-file "$etc/glance-api.conf" db_sync) & pids="$pids $!"
  local failed=0
  for pid in $pids; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || die "a schema migration failed; see $DIR/log/"
  touch "$DIR/initialised-schemas"
}

register_services() {  # needs keystone running: service users, services and endpoints
  "$PY" - "$DIR/secret" "http://$HOST:$KEYSTONE_PORT/v3" <<EOF
import sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
secret = open(sys.argv[1]).read().strip()
s = session.Session(auth=v3.Password(auth_url=sys.argv[2], username="admin", password=secret, project_name="admin",
                                     user_domain_id="default", project_domain_id="default"))
k = dict(endpoint_filter={"service_type": "identity", "interface": "public"})
def one(path, key, **query):
    found = s.get(path, params=query, **k).json()[key]
    return found[0]["id"] if found else None
def ensure(path, key, body, **query):
    return one(path, key, **query) or s.post(path, json={key[:-1]: body}, **k).json()[key[:-1]]["id"]
service_project = ensure("/projects", "projects", {"name": "service", "domain_id": "default"}, name="service")
admin_role = one("/roles", "roles", name="admin")
for name, kind, port, path in [("nova", "compute", $NOVA_PORT, "/v2.1"), ("placement", "placement", $PLACEMENT_PORT, ""),
                               ("neutron", "network", $NEUTRON_PORT, ""), ("cinder", "volumev3", $CINDER_PORT, "/v3/%(project_id)s"),
                               ("glance", "image", $GLANCE_PORT, "")]:
    user = ensure("/users", "users", {"name": name, "password": secret, "domain_id": "default"}, name=name)
    s.put(f"/projects/{service_project}/users/{user}/roles/{admin_role}", **k)
    service = ensure("/services", "services", {"name": name, "type": kind}, type=kind)
    if not one("/endpoints", "endpoints", service_id=service):
        for interface in ("public", "internal", "admin"):
            s.post("/endpoints", json={"endpoint": {"service_id": service, "interface": interface, "region_id": "RegionOne",
                                                    "url": f"http://$HOST:{port}{path}"}}, **k)
EOF
}

write_clouds_yaml() {
  umask 077
  cat > "$DIR/clouds.yaml" <<EOF
# The admin of the Beskar test cloud in $DIR (written by scripts/test-cloud.sh).
clouds:
  beskar-test:
    auth:
      auth_url: http://$HOST:$KEYSTONE_PORT/v3
      username: admin
      password: $(cat "$DIR/secret")
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
EOF
}

start() {
  command -v keystone-manage >/dev/null || die "the packages are missing: run '$0 install' first"
  mkdir -p "$DIR/run" "$DIR/log"
  [ -f "$DIR/secret" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$DIR/secret")
  write_config
  start_database
  [ -f "$DIR/initialised-schemas" ] || initialise >&2
  local etc=$DIR/etc
  alive keystone || uwsgi_app keystone "$KEYSTONE_PORT" /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_FILES=$etc/keystone.conf"
  wait_for keystone "http://$HOST:$KEYSTONE_PORT/v3"
  [ -f "$DIR/initialised-services" ] || { register_services && touch "$DIR/initialised-services"; }
  alive placement || uwsgi_app placement "$PLACEMENT_PORT" /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$etc/placement"
  alive nova || uwsgi_app nova "$NOVA_PORT" /usr/bin/nova-api-wsgi "OS_NOVA_CONFIG_DIR=$etc/nova"
  alive neutron || spawn neutron neutron-server --config-file "$etc/neutron.conf"
  alive cinder || spawn cinder cinder-api --config-file "$etc/cinder.conf"
  alive glance || spawn glance glance-api --config-file "$etc/glance-api.conf"
  wait_for placement "http://$HOST:$PLACEMENT_PORT/"
  wait_for nova "http://$HOST:$NOVA_PORT/"
  wait_for neutron "http://$HOST:$NEUTRON_PORT/"
  wait_for cinder "http://$HOST:$CINDER_PORT/"
  wait_for glance "http://$HOST:$GLANCE_PORT/"
  write_clouds_yaml
  log "running: keystone :$KEYSTONE_PORT, nova :$NOVA_PORT, placement :$PLACEMENT_PORT, neutron :$NEUTRON_PORT, cinder :$CINDER_PORT, glance :$GLANCE_PORT"
  env_
}

env_() {
  [ -f "$DIR/clouds.yaml" ] || die "no cloud in $DIR: run '$0 start'"
  echo "export BESKAR_TEST_CLOUD=$DIR/clouds.yaml"
}

stop() {
  for name in $SERVICES mariadb; do
    if alive "$name"; then
      # Each service was started in its own session; its process group holds uwsgi's workers too.
      kill -TERM -- "-$(cat "$DIR/run/$name.pid")" 2>/dev/null || true
    fi
  done
  for name in $SERVICES mariadb; do
    for _ in $(seq 1 40); do alive "$name" || break; sleep 0.25; done
    alive "$name" && kill -KILL -- "-$(cat "$DIR/run/$name.pid")" 2>/dev/null || true
    rm -f "$DIR/run/$name.pid"
  done
  log "stopped"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  env) env_ ;;
  stop) [ -d "$DIR/run" ] && stop || log "nothing to stop" ;;
  reset) [ -d "$DIR/run" ] && stop; rm -rf "$DIR"; log "removed $DIR" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
