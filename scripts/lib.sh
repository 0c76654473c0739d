# Shared helpers for the set-up scripts (sourced, not run).
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup]\033[0m %s\n' "$*" >&2; exit 1; }

APT_UPDATED=""
apt_install() {
  # Install Debian packages by name, with one `apt-get update` per run.
  command -v apt-get >/dev/null || die "apt-get is missing: install $* by hand on this system."
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    $sudo apt-get update -q >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

load_env() {
  # The project's .env fills in what the environment does not set (as the settings do).
  if [ -f .env ]; then
    while IFS='=' read -r key value; do
      [[ -z "$key" || "$key" == \#* ]] && continue
      [ -n "${!key+x}" ] || export "$key=$value"
    done < .env
  fi
}
