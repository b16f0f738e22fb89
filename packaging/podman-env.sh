# Sourced: podman with storage and settings of this checkout (docs: lab-recipes), not the host's.
#   . packaging/podman-env.sh DIR
# runc (crun refuses hybrid cgroups here), cgroupfs, file events, ulimits this machine allows.
_pd=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$_pd/root" "$_pd/run" "$_pd/tmp"
cat >"$_pd/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$_pd/run"
graphroot = "$_pd/root"
CONF
cat >"$_pd/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$_pd/tmp"
CONF
export CONTAINERS_STORAGE_CONF=$_pd/storage.conf CONTAINERS_CONF=$_pd/containers.conf
unset _pd
