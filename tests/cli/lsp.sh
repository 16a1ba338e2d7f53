#!/usr/bin/env bash
# Editors agree with `vmspec check`: yaml-language-server (what VS Code,
# Neovim and others run for YAML; tests/install-deps puts it under
# build/node/) is driven over LSP by tests/cli/lsp-client.mjs, with the
# schema from each file's `# yaml-language-server: $schema=` line or from
# yaml.schemas.  Every example and good spec gets no diagnostic; every
# structural bad spec (tests/specs/bad/EXPECTED) gets one on the line
# check reports; sizes are judged alike; completion offers each key once;
# hover shows the key's description and no schema title.
set -u
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
SERVER=${YAML_LANGUAGE_SERVER:-$PWD/build/node/node_modules/yaml-language-server/bin/yaml-language-server}
SCHEMA=$PWD/schemas/vmspec.schema.json
FILES=$PWD/tests/specs/files
CLIENT=$PWD/tests/cli/lsp-client.mjs
n=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# lsp [--schema FILE] diagnostics FILE... | complete|hover FILE LINE COL
lsp() { timeout 30 node "$CLIENT" "$SERVER" "$@"; }

# Missing tools fail: `make check` installs them (tests/install-deps).
if ! command -v node >/dev/null || [ ! -f "$SERVER" ]; then
    fail "yaml-language-server is installed" \
         "no node or no $SERVER: run tests/install-deps"
    echo "1..$n"
    exit 1
fi
ok "yaml-language-server is installed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The examples through their own schema lines, as an editor opens them.
out=$(lsp diagnostics examples/*.yaml examples/*/*.yaml 2>&1); rc=$?
count=$(grep -c ': no diagnostics$' <<<"$out")
total=$(ls examples/*.yaml examples/*/*.yaml | wc -l)
[ $rc -eq 0 ] && [ "$count" -eq "$total" ] &&
    ok "no diagnostics in the $total examples" ||
    fail "no diagnostics in the examples" "rc=$rc" "$out"

# The corpus, with the schema mapped by settings (few carry the line).
cd tests/specs
corpus=$(lsp --schema "$SCHEMA" diagnostics good/*.yaml bad/*.yaml 2>&1); rc=$?
cd ../..
[ $rc -eq 0 ] && ok "the server reads the corpus" ||
    fail "the server reads the corpus" "rc=$rc" "$corpus"
for f in tests/specs/good/*.yaml; do
    f=${f#tests/specs/}
    grep -qxF "$f: no diagnostics" <<<"$corpus" &&
        ok "no diagnostics in $f" ||
        fail "no diagnostics in $f" "$(grep -F "$f:" <<<"$corpus")"
done

# Where the server places a diagnostic elsewhere than check does, and why:
#   missing-kernel.yaml  a missing key: check points at the map that lacks
#                        it (5:3), the server at the key holding the map
#                        (boot:, line 4)
#   two-docs.yaml        the server checks each document of a stream on
#                        its own: the second is flagged where its content
#                        starts (line 4), not at its `---` (line 3)
server_line() {
    case "$1" in
        missing-kernel.yaml) echo 4 ;;
        two-docs.yaml) echo 4 ;;
        *) echo "$2" ;;
    esac
}
while IFS='|' read -r file class expect; do
    file=$(echo $file); class=$(echo $class); expect=${expect# }
    case "$file" in ''|\#*) continue ;; esac
    [ "$class" = structural ] || continue
    if [[ $expect =~ ^([0-9]+):[0-9]+: ]]; then
        line=${BASH_REMATCH[1]}
    elif [ "$file" = empty.yaml ]; then
        line=1                  # "empty spec": the whole file
    else
        fail "bad/$file: the server flags check's line" \
             "no line in the expectation '$expect'"
        continue
    fi
    line=$(server_line "$file" "$line")
    if grep -q "^bad/$file:$line:" <<<"$corpus"; then
        ok "bad/$file: the server flags line $line, as check does"
    else
        fail "bad/$file: the server flags line $line, as check does" \
             "check: $expect" "server:" "$(grep -F "bad/$file" <<<"$corpus")"
    fi
done < tests/specs/bad/EXPECTED

# A spec that extends another and leaves machine.type to its base: its
# machine keys are still checked, on the lines check flags, and a bad size
# is called a size.  The schema line is relative, as in examples/.
mkdir "$tmp/specs"
ln -s "$PWD/schemas" "$tmp/schemas"
printf 'vmspec: 1\nname: base\nmachine: {type: virt}\nboot: {kernel: %s/vmlinuz}\n' \
    "$FILES" > "$tmp/specs/base.yaml"
cat > "$tmp/specs/child.yaml" <<'EOF'
# yaml-language-server: $schema=../schemas/vmspec.schema.json
extends: base.yaml
name: child
machine:
  memroy: 512M
  cpus: "4"
  memory: 12Q
EOF
server=$(lsp diagnostics "$tmp/specs/child.yaml" 2>&1)
check=$($VMSPEC check "$tmp/specs/child.yaml" 2>&1)
lines() { grep -o "child.yaml:[0-9]*:" | sort -u | tr '\n' ' '; }
want=$(lines <<<"$check")
[ "$want" = "child.yaml:5: child.yaml:6: child.yaml:7: " ] &&
    [ "$(lines <<<"$server")" = "$want" ] &&
    ok "machine without type under extends: the lines check flags" ||
    fail "machine without type under extends: the lines check flags" \
         "check: $check" "server: $server"
grep -qF "child.yaml:7:11: Expected a size: a number of bytes, or a number with a K, M, G, T or P suffix" <<<"$server" &&
    ok "a bad size is called a size" || fail "a bad size is called a size" "$server"

# Sizes: the server and check take and refuse the same values (memory's
# range included, for the integer form; check alone bounds the others).
sizes=(256M 256m 256MB 256Mb 256MiB 256mib 268435456 0x10000000
       0o2000000000 '"268435456"' '"0x10000000"' '"+268435456"' 1G 64T
       12Q 256MX 256iB -1 1.5G '""' 0x 0X10000000 '"256 M"' 1024 0x1000
       70368744177665 M '[1]' '{a: 1}' true)
files=()
for i in "${!sizes[@]}"; do
    printf 'vmspec: 1\nname: s%d\nmachine: {type: microvm, memory: %s}\nboot: {kernel: %s/vmlinuz}\n' \
        "$i" "${sizes[$i]}" "$FILES" > "$tmp/size$i.yaml"
    files+=("$tmp/size$i.yaml")
done
server=$(lsp --schema "$SCHEMA" diagnostics "${files[@]}" 2>&1)
for i in "${!sizes[@]}"; do
    $VMSPEC check "$tmp/size$i.yaml" >/dev/null 2>&1 && want=takes || want=refuses
    grep -qxF "$tmp/size$i.yaml: no diagnostics" <<<"$server" && got=takes ||
        got=refuses
    [ "$got" = "$want" ] &&
        ok "memory: ${sizes[$i]}: the server $got it, as check does" ||
        fail "memory: ${sizes[$i]}: the server $got it, check $want it" \
             "$(grep -F "size$i.yaml" <<<"$server")"
done

# Completion in an empty spec: each top-level key once, each inserting
# "KEY:" (no bare words, no entry named after a schema title).
printf '# yaml-language-server: $schema=../schemas/vmspec.schema.json\n' \
    > "$tmp/specs/empty.yaml"
out=$(lsp complete "$tmp/specs/empty.yaml" 2 1 2>&1)
labels=$(cut -f1 <<<"$out" | sort | tr '\n' ' ')
keys=$(node -e 'const s = require(process.argv[1]);
    console.log(Object.keys(s.properties).sort().join("\n"))' "$SCHEMA" |
    tr '\n' ' ')
[ -n "$keys" ] && [ "$labels" = "$keys" ] &&
    ! awk -F'\t' 'index($2, $1 ":") != 1' <<<"$out" | grep -q . &&
    ok "completion in an empty spec: each key once, as KEY:" ||
    fail "completion in an empty spec: each key once, as KEY:" \
         "want: $keys" "$out"

# Completion in machine: of a spec that extends another, with no type.
printf '# yaml-language-server: $schema=../schemas/vmspec.schema.json\nextends: base.yaml\nmachine:\n  \n' \
    > "$tmp/specs/untyped.yaml"
out=$(lsp complete "$tmp/specs/untyped.yaml" 4 3 2>&1)
labels=$(cut -f1 <<<"$out" | sort | tr '\n' ' ')
[ "$labels" = "cpus memory type " ] &&
    ok "completion in machine: without type: cpus, memory, type" ||
    fail "completion in machine: without type: cpus, memory, type" "$out"

# Hover: the key's description, under no heading (the schema title used
# to head every hover).
printf '# yaml-language-server: $schema=../schemas/vmspec.schema.json\nvmspec: 1\nmachine:\n  type: virt\n  cpus: 2\n' \
    > "$tmp/specs/hover.yaml"
out=$(lsp hover "$tmp/specs/hover.yaml" 5 4 2>&1)
[ "$(head -1 <<<"$out")" = "Number of virtual CPUs" ] && ! grep -q '^#' <<<"$out" &&
    ok "hover on cpus: its description, no title" ||
    fail "hover on cpus: its description, no title" "$out"

# describe and the schema give each machine type the same cpus range.
ranges=$(node -e 'const s = require(process.argv[1]);
    for (const b of s.properties.machine.allOf)
        if (b.if.properties)
            console.log(b.if.properties.type.const,
                        b.then.properties.cpus.maximum);' "$SCHEMA")
[ -n "$ranges" ] || fail "the schema has machine types" "$ranges"
while read -r type max; do
    desc=$($VMSPEC describe "$type" | awk '$1 == "cpus" { print $2, $3 }')
    [ "$desc" = "int 1..$max" ] &&
        ok "describe $type: cpus int 1..$max, as the schema says" ||
        fail "describe $type: cpus as the schema says" \
             "describe: $desc" "schema maximum: $max"
done <<<"$ranges"
echo "1..$n"
