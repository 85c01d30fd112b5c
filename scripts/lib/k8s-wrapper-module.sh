# Sourced by the build scripts. k8s.io/kubernetes's own go.mod replaces its ~30 staging modules
# (k8s.io/api, k8s.io/apiserver, ...) with local ./staging paths, which a consumer cannot see;
# this writes a module that requires k8s.io/kubernetes and pins each staging module to the
# matching v0.Y.Z, so its commands build from the module proxy.

# write_k8s_wrapper_module DIR K8S_VERSION MODULE_NAME: writes DIR/go.mod; logs through `log`.
write_k8s_wrapper_module() {
  local dir="$1" version="$2" name="$3"
  local minor="${version#v1.}" gomod_file staging m
  gomod_file=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$version" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod_file" | sort -u)
  [[ -n "$staging" ]] || { log "found no staging replaces in $gomod_file"; return 1; }
  {
    echo "module $name"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m v0.$minor"; done
    echo ")"
  } >"$dir/go.mod"
  log "wrapper module pins $(echo "$staging" | wc -l) staging modules to v0.$minor"
}

# k8s_version_ldflags K8S_VERSION: the -ldflags that make `--version` print the pinned version.
k8s_version_ldflags() {
  local version="$1" minor="${1#v1.}"
  echo "-s -w \
    -X k8s.io/component-base/version.gitVersion=$version \
    -X k8s.io/component-base/version.gitMajor=1 \
    -X k8s.io/component-base/version.gitMinor=${minor%%.*} \
    -X k8s.io/client-go/pkg/version.gitVersion=$version"
}
