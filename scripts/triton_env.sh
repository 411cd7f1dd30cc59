# Sourced by scripts/serve.sh and scripts/serving_test.sh: builds the Triton
# backend and installs a Triton Inference Server, then sets
#   TRITONSERVER     the server binary (from PyPI's nvidia-pytriton wheel)
#   TRITON_BACKENDS  a backend directory holding moeasr/libtriton_moeasr.so
#   TRITON_PYTHON    a Python with tritonclient[grpc] and numpy
#   MOEASR_DECODE    moeasr-decode of the same build
# triton_setup BUILD_DIR. Environment: MOEASR_TRITON_VENV (default .venv-triton),
# and scripts/setup.sh's (MOEASR_SKIP_APT, CMAKE_ARGS, ...).

# nvidia-pytriton 0.7.0 ships tritonserver 2.51.0 (release 24.10), whose backend
# API third_party/triton vendors; change both together.
MOEASR_PYTRITON_VERSION=0.7.0

triton_setup() {
  local build_dir=$1
  MOEASR_EXTRA_PACKAGES="${MOEASR_EXTRA_PACKAGES:-} python3-venv" \
    CMAKE_ARGS="${CMAKE_ARGS:-} -DMOEASR_WITH_TRITON=ON" scripts/setup.sh "$build_dir"
  TRITON_BACKENDS="$PWD/$build_dir/triton-backends"
  mkdir -p "$TRITON_BACKENDS/moeasr"
  cp -f "$build_dir/serving/triton/libtriton_moeasr.so" "$TRITON_BACKENDS/moeasr/"
  MOEASR_DECODE="$PWD/$build_dir/src/cli/moeasr-decode"

  local venv=${MOEASR_TRITON_VENV:-.venv-triton}
  local stamp="$venv/.moeasr-pytriton-$MOEASR_PYTRITON_VERSION"
  if [[ ! -f "$stamp" ]]; then
    echo "triton: installing nvidia-pytriton==$MOEASR_PYTRITON_VERSION (tritonserver) and tritonclient in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "nvidia-pytriton==$MOEASR_PYTRITON_VERSION" \
      "tritonclient[grpc]" numpy
    touch "$stamp"
  fi
  TRITON_PYTHON="$PWD/$venv/bin/python"
  TRITONSERVER=$("$TRITON_PYTHON" -c \
    "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('pytriton').origin).parent / 'tritonserver/bin/tritonserver')")
  export TRITONSERVER TRITON_BACKENDS TRITON_PYTHON MOEASR_DECODE
}
