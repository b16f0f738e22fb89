#!/usr/bin/env bash
# make release: static, stripped latticed, lattice, lattice-cni and lattice-lab in a versioned
# tarball with SHA-256 sums, under $DIST (default target/dist):
#   lattice-VERSION-x86_64-linux.tar.gz (+ .sha256) and the same tree unpacked beside it,
#   which `make deb` and `make image` package without building again.
# Static: glibc's static libc (crt-static gives static-pie binaries); the musl target is not
# installed on these machines. See docs/install.md for what static glibc means for name lookups.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-gnu
DIST=${DIST:-target/dist}
CARGO=${CARGO:-cargo}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
# The commit --version prints; -dirty when tracked files differ from it (build-support/version.rs).
if commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  git diff-index --quiet HEAD -- 2>/dev/null || commit="$commit-dirty"
else
  commit=unknown
fi
export LATTICE_COMMIT=$commit
# Only the target's flags: build scripts and proc macros stay dynamic host code.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
"$CARGO" build --release --locked --target "$TARGET" \
  -p agent -p cli -p cni -p topology-lab --bins

name=lattice-$version-x86_64-linux
stage=$DIST/$name
rm -rf "$stage" "$DIST/$name.tar.gz" "$DIST/$name.tar.gz.sha256"
mkdir -p "$stage/bin" "$stage/examples" "$stage/systemd" "$stage/docs"
for b in latticed lattice lattice-cni lattice-lab; do
  strip --strip-all -o "$stage/bin/$b" "target/$TARGET/release/$b"
done
cp packaging/examples/latticed.yaml "$stage/examples/latticed.yaml"
cp docs/examples/10-lattice.conflist "$stage/examples/10-lattice.conflist"
cp packaging/systemd/latticed.service "$stage/systemd/latticed.service"
cp README.md "$stage/README.md"
cp docs/install.md docs/operations.md docs/configuration.md docs/cni.md "$stage/docs/"
echo "$version" >"$stage/VERSION"
echo "$commit" >"$stage/COMMIT"
(cd "$stage" && sha256sum bin/* >SHA256SUMS)
# Reproducible archive: fixed owner, order and times (the commit's time).
mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
  -C "$DIST" -czf "$DIST/$name.tar.gz" "$name"
(cd "$DIST" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "release: $DIST/$name.tar.gz ($commit)"
ls -l "$stage/bin" "$DIST/$name.tar.gz" | awk 'NF > 5 {print "  " $5 "\t" $NF}'
