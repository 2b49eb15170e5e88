#!/usr/bin/env bash
# Installs the Debian packages that `make tools` relies on, judged by the files and
# commands themselves rather than by a few of them: a package that is present but whose
# siblings are not (libgrpc++-dev without libprotobuf-dev) must not pass as installed.
#
# Each line: <kind> <what> <Debian package that provides it>
#   cmd  NAME     an executable on PATH
#   pc   MODULE   a pkg-config module (its .pc file)
#   file PATH     a file
# `--check` only reports what is missing (exit 1 if anything is).
set -euo pipefail

NEEDS='
cmd  protoc                                       protobuf-compiler
cmd  grpc_cpp_plugin                              protobuf-compiler-grpc
cmd  pkg-config                                   pkg-config
cmd  cmake                                        cmake
cmd  g++                                          g++
cmd  ip                                           iproute2
cmd  jq                                           jq
cmd  chromium                                     chromium
cmd  chromedriver                                 chromium-driver
pc   grpc++                                       libgrpc++-dev
pc   protobuf                                     libprotobuf-dev
file /usr/include/google/protobuf/duration.proto  libprotobuf-dev
file /usr/include/google/protobuf/timestamp.proto libprotobuf-dev
'

present() {
  case "$1" in
    cmd) command -v "$2" >/dev/null 2>&1 ;;
    pc) command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$2" ;;
    file) [ -e "$2" ] ;;
    *) echo "system_deps.sh: unknown kind $1" >&2; exit 2 ;;
  esac
}

missing() {
  local kind what package
  while read -r kind what package; do
    [ -n "$kind" ] || continue
    present "$kind" "$what" || echo "$package"
  done <<<"$NEEDS" | sort -u
}

packages=$(missing)
if [ -z "$packages" ]; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "missing Debian packages: $packages" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "installing Debian packages:" $packages
$sudo apt-get update -qq
# shellcheck disable=SC2086  # one word per package
$sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
still=$(missing)
if [ -n "$still" ]; then
  echo "system_deps.sh: still missing after apt-get install: $still" >&2
  exit 1
fi
