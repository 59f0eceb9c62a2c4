#!/usr/bin/env bash
# Build the s2sr container image: a wheelhouse of s2sr and its dependencies, then the image with
# docker or podman (infra/docker/Dockerfile, or Dockerfile.gpu with --gpu).
#
#   infra/build-image.sh                       # CPU image s2sr:VERSION on python:3.11-slim
#   infra/build-image.sh --gpu                 # GPU image s2sr:VERSION-gpu on a CUDA runtime base
#   infra/build-image.sh --offline-base        # no image registry: base image made with debootstrap
#
# Options:
#   --gpu                 build infra/docker/Dockerfile.gpu (onnxruntime-gpu), tag suffix -gpu
#   --tag NAME            image name (default: localhost/s2sr:VERSION[-gpu])
#   --base-image IMAGE    the Dockerfile's BASE_IMAGE (default: the Dockerfile's own)
#   --offline-base        make a Debian bookworm base (python3, venv) with debootstrap and import it
#                         as localhost/s2sr-base:bookworm; the rootfs tarball is cached in
#                         $S2SR_BASE_CACHE (default ~/.cache/s2sr/base-image) and reused
#   --mirror URL          Debian mirror for --offline-base (default: the first one in apt's sources)
#   --python-version X.Y  Python of the image, for the wheelhouse (default 3.11; 3.12 with --gpu)
#   --wheelhouse DIR      where the wheels go (default build/wheelhouse[-gpu]); dependencies
#                         already there are reused (s2sr's own wheel is always rebuilt)
#   --fresh-wheels        empty the wheelhouse first
#   --engine CMD          container engine command (default: $CONTAINER_ENGINE, else podman, else
#                         docker); may carry options, e.g. "podman --root /x --runroot /y"
#   --no-network          build with --network=none (everything comes from the wheelhouse)
#
# Prints the image name on the last line of stdout.  Exit code 2: bad arguments or a missing
# tool; 1: a failed step.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

gpu=0; tag=""; base_image=""; offline_base=0; mirror=""; pyver=""; wheelhouse=""; fresh=0
engine="${CONTAINER_ENGINE:-}"; network=()

die() { echo "build-image.sh: error: $1" >&2; exit "${2:-1}"; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value" 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --gpu) gpu=1 ;;
        --tag) need_value "$@"; tag="$2"; shift ;;
        --base-image) need_value "$@"; base_image="$2"; shift ;;
        --offline-base) offline_base=1 ;;
        --mirror) need_value "$@"; mirror="$2"; shift ;;
        --python-version) need_value "$@"; pyver="$2"; shift ;;
        --wheelhouse) need_value "$@"; wheelhouse="$2"; shift ;;
        --fresh-wheels) fresh=1 ;;
        --engine) need_value "$@"; engine="$2"; shift ;;
        --no-network) network=(--network=none) ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" 2 ;;
    esac
    shift
done

if [[ -z "$engine" ]]; then
    if command -v podman >/dev/null; then engine=podman
    elif command -v docker >/dev/null; then engine=docker
    else die "neither podman nor docker is installed; install one (e.g. apt-get install podman) or pass --engine" 2
    fi
fi
read -r -a ENGINE <<< "$engine"
command -v "${ENGINE[0]}" >/dev/null || die "container engine '${ENGINE[0]}' not found" 2

PYTHON="${PYTHON:-python3}"
version="$("$PYTHON" - "$REPO/pyproject.toml" <<'EOF'
import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])
EOF
)" || die "cannot read the version from pyproject.toml (needs Python >= 3.11 as \$PYTHON)" 2

if [[ $gpu == 1 ]]; then
    dockerfile="$HERE/docker/Dockerfile.gpu"; suffix="-gpu"; extra="[gpu]"; pyver="${pyver:-3.12}"
else
    dockerfile="$HERE/docker/Dockerfile"; suffix=""; extra=""; pyver="${pyver:-3.11}"
fi
tag="${tag:-localhost/s2sr:${version}${suffix}}"
wheelhouse="${wheelhouse:-$REPO/build/wheelhouse${suffix}}"

# -- offline base image (debootstrap) --------------------------------------------------------
if [[ $offline_base == 1 ]]; then
    [[ -n "$base_image" ]] && die "--offline-base and --base-image exclude each other" 2
    [[ $gpu == 1 ]] && die "--offline-base makes a Debian base without CUDA; pass --base-image for --gpu" 2
    base_image="localhost/s2sr-base:bookworm"
    if ! "${ENGINE[@]}" image inspect "$base_image" >/dev/null 2>&1; then
        cache="${S2SR_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s2sr/base-image}"
        tarball="$cache/bookworm-python3.tar"
        if [[ ! -s "$tarball" ]]; then
            command -v debootstrap >/dev/null || die "--offline-base needs debootstrap (apt-get install debootstrap)" 2
            if [[ -z "$mirror" ]]; then
                mirror="$(grep -h -o -E '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
                    /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
                    | head -1 | awk '{print $2}')" || true
                mirror="${mirror:-http://deb.debian.org/debian}"
            fi
            mkdir -p "$cache"
            rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
            trap 'rm -rf "$rootfs"' EXIT
            echo "building the base rootfs with debootstrap from $mirror" >&2
            debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
                bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
                || die "debootstrap failed; see $cache/debootstrap.log"
            rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
            tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
            rm -rf "$rootfs"; trap - EXIT
        fi
        "${ENGINE[@]}" import --change 'CMD ["python3"]' "$tarball" "$base_image" >/dev/null
    fi
fi

# -- wheelhouse ------------------------------------------------------------------------------
[[ $fresh == 1 ]] && rm -rf "$wheelhouse"
mkdir -p "$wheelhouse"
wheel="$wheelhouse/s2sr-${version}-py3-none-any.whl"
# the s2sr wheel is rebuilt every time (it is the code under test); dependencies are reused
rm -f "$wheel"
echo "building the wheelhouse in $wheelhouse (Python $pyver)" >&2
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$wheelhouse" "$REPO" \
    || die "building the s2sr wheel failed"
[[ -f "$wheel" ]] || die "pip did not produce $wheel"
# every manylinux tag glibc 2.36 (Debian bookworm; Ubuntu 24.04 has 2.39) runs: pip does not expand them
platforms=()
for t in manylinux1 manylinux2010 manylinux2014 manylinux_2_{5,12,17,24,26,27,28,31,34,35,36}; do
    platforms+=(--platform "${t}_x86_64")
done
"$PYTHON" -m pip download --quiet --dest "$wheelhouse" --find-links "$wheelhouse" \
    --only-binary=:all: --python-version "$pyver" --implementation cp \
    "${platforms[@]}" "s2sr${extra} @ file://$wheel" \
    || die "downloading the dependencies into $wheelhouse failed (a package index must be reachable once)"

# -- image -----------------------------------------------------------------------------------
# the build context: the wheelhouse (as wheels/, hard links where possible) and the entrypoint
context="$REPO/build/image-context${suffix}"
rm -rf "$context"; mkdir -p "$context/wheels"
cp -l "$wheelhouse"/*.whl "$context/wheels/" 2>/dev/null || cp "$wheelhouse"/*.whl "$context/wheels/"
cp "$HERE/docker/entrypoint.sh" "$context/entrypoint.sh"
build_args=(--build-arg "S2SR_VERSION=$version")
# podman writes OCI images by default, which have no HEALTHCHECK: ask for the docker format
[[ "$(basename "${ENGINE[0]}")" == podman ]] && build_args+=(--format docker)
[[ -n "$base_image" ]] && build_args+=(--build-arg "BASE_IMAGE=$base_image")
echo "building $tag with ${ENGINE[0]} from $(basename "$dockerfile")" >&2
start=$(date +%s)
"${ENGINE[@]}" build "${network[@]}" --file "$dockerfile" --tag "$tag" "${build_args[@]}" "$context" >&2 \
    || die "the image build failed"
echo "built $tag in $(( $(date +%s) - start )) s" >&2
echo "$tag"
