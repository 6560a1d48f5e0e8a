# shellcheck shell=bash
# Sourced (from the repository root) by docker/test.sh and
# docker/test-scale-out.sh: podman set up for these machines, the Debian
# packages the tests need, the source tree the tests build and run, a local
# debian:12 base image built from this machine's Debian mirror (no registry
# needed), and image builds on top of it.
#
# Settings (environment):
#   ROISERVE_BUILD_FROM       HEAD (default): build and test the committed
#                             tree; another commit: that one's tree (the
#                             tests' own scripts stay the working tree's);
#                             worktree: the working tree as it is
#   ROISERVE_CONTAINER_CACHE  where the base image's tarball is kept
#                             (default ~/.cache/roiserve-containers)
#   ROISERVE_DEBIAN_SOURCES   the apt sources the base is built from (default:
#                             /etc/apt/sources.list.d/debian.sources, else
#                             /etc/apt/sources.list)
#   ROISERVE_PIP_CA           the CA bundle pip trusts in the CUDA image's build
#                             (default /etc/ssl/certs/ca-certificates.crt, the
#                             host's: PyPI may be reached through a proxy that
#                             the host trusts and the base image does not)

export CONTAINERS_CONF="$PWD/docker/containers.conf"
readonly base_image=localhost/debian:12
readonly roiserve_image=localhost/roiserve:cpu
readonly roiserve_cuda_image=localhost/roiserve:cuda
container_cache=${ROISERVE_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/roiserve-containers}

say() { printf '[%6.1fs] %s\n' "$SECONDS" "$*"; }

# Copies the tree that the images are built from and the tests run on into
# DIR and moves there: the last commit by default (the image is then exactly
# the commit its revision label names, and uncommitted edits in a tree
# shared with others stay out), or the working tree's tracked and unignored
# files.
enter_build_source() {
  local source=$1
  mkdir -p "$source"
  if [[ ${ROISERVE_BUILD_FROM:-HEAD} == worktree ]]; then
    revision="$(git rev-parse HEAD)+worktree"
    git ls-files -z --cached --others --exclude-standard |
      tar --null --files-from=- --ignore-failed-read -cf - | tar -x -C "$source"
  else
    revision=$(git rev-parse "${ROISERVE_BUILD_FROM:-HEAD}^{commit}")
    git archive "$revision" | tar -x -C "$source"
  fi
  cd "$source" || return
  say "building and testing ${ROISERVE_BUILD_FROM:-HEAD} (${revision:0:12})"
}

install_missing_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return
  say "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# debian:12 as mmdebstrap builds it (minbase: essential packages and apt),
# without documentation, manual pages and translations, as registries' slim
# images are; its apt sources are this machine's, so the build stage's
# apt-get reaches the same mirror. --format=tar: mmdebstrap picks the format
# from the output's name, and would make the .partial one a directory.
ensure_base_image() {
  podman image exists "$base_image" && return
  local sources=${ROISERVE_DEBIAN_SOURCES:-/etc/apt/sources.list.d/debian.sources}
  [[ -e "$sources" ]] || sources=/etc/apt/sources.list
  local tarball="$container_cache/debian-12-minbase.tar"
  if [[ ! -s "$tarball" ]]; then
    say "building $base_image with mmdebstrap from $sources"
    mkdir -p "$container_cache"
    mmdebstrap --variant=minbase --format=tar --quiet --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$tarball.partial" "$sources"
    mv "$tarball.partial" "$tarball"
  fi
  podman import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$base_image" >/dev/null
  say "$base_image imported from $tarball"
}

# build_image TAG DOCKERFILE CONTEXT [podman build flags]: the build's output
# goes to a log, shown when it fails. Layers are cached: an unchanged tree
# rebuilds nothing. The machines are shared: the build runs niced, one stage
# at a time (its compile step runs nproc jobs).
build_image() {
  local tag=$1 dockerfile=$2 context=$3 log
  shift 3
  log=$(mktemp)
  local started=$SECONDS
  if ! nice -n 10 podman build --jobs 1 --format docker --build-arg BASE="$base_image" \
      -f "$dockerfile" -t "$tag" "$@" "$context" >"$log" 2>&1; then
    tail -40 "$log" >&2
    rm -f "$log"
    echo "podman build of $tag failed" >&2
    return 1
  fi
  rm -f "$log"
  say "built $tag in $((SECONDS - started)) s"
}

build_roiserve_image() {
  build_image "$roiserve_image" docker/Dockerfile . \
    --build-arg REVISION="$revision"
}

build_roiserve_cuda_image() {
  build_image "$roiserve_cuda_image" docker/Dockerfile.cuda . \
    --build-arg REVISION="$revision" "${cuda_build_flags[@]}"
}

# The CUDA image's build stage installs wheels from PyPI: pip trusts the CA
# bundle given as the build secret pip-ca.
pip_ca=${ROISERVE_PIP_CA:-/etc/ssl/certs/ca-certificates.crt}
cuda_build_flags=()
[[ -s "$pip_ca" ]] && cuda_build_flags=(--secret "id=pip-ca,src=$pip_ca")

# copy_test_inputs DIR [cpu|cuda]: copies the generated shapes-v1 images and
# their annotations (the test-inputs stage of docker/Dockerfile, or of
# docker/Dockerfile.cuda, whose build stage it reuses) to DIR/images/*.png and
# DIR/instances.json.
copy_test_inputs() {
  local dir=$1 flavour=${2:-cpu} container
  local image=localhost/roiserve-test-inputs:$flavour
  if [[ $flavour == cuda ]]; then
    build_image "$image" docker/Dockerfile.cuda . --target test-inputs "${cuda_build_flags[@]}"
  else
    build_image "$image" docker/Dockerfile . --target test-inputs
  fi
  container=$(podman create "$image")
  podman cp "$container:/test-inputs/." "$dir/"
  podman rm "$container" >/dev/null
}
