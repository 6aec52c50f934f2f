#!/usr/bin/env bash
# Validate the shipped label packs (labels/packs/*.yaml) and the ActorPack
# (labels/actors/*.actorpack.yaml) with GraphSense's own validator, in its own venv,
# plus the checks GraphSense only warns about or skips.
#
#   tests/validate_graphsense.sh            # uses $GS_VENV (default: <repo>/.cache/gs-venv)
#   GS_VENV=/work/tools/gs-venv tests/validate_graphsense.sh
#
# Environment:
#   GS_VENV      venv holding graphsense-lib (created if missing)
#   GS_LIB_SPEC  pip requirement to install when missing (default below, the version the packs
#                were written against; override to try a newer one)
#   PYTHON       interpreter used to create the venv (default: python3)
#
# Exit status: 0 when every pack and the actorpack pass; 1 on any failure; 2 when the
# validator cannot be installed.
#
# What GraphSense checks (graphsense-cli tagpack-tool ... validate): YAML, header/tag/actor
# fields against its schema (unknown fields fail), categories/concepts against its concept
# taxonomy, confidence names, jurisdictions (ISO country codes), actor ids (normalised form),
# actor context (JSON object; known keys typed), lastmod types, duplicates, and, with
# --actorpack-path, that every tag actor exists. What it only warns about (so we fail on it
# here): addresses whose checksum fails ("possible invalid address"). What it does not check
# (so the second step does): the JSON in tag `context`, EVM addresses on non-ETH chains, the
# TRON version byte, and the project's `exposure` attribute values.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GS_VENV="${GS_VENV:-$REPO/.cache/gs-venv}"
GS_LIB_SPEC="${GS_LIB_SPEC:-graphsense-lib[tagpacks]==2.18.1}"
PYTHON="${PYTHON:-python3}"
PACKS="$REPO/labels/packs"
ACTORS="$REPO/labels/actors"

GS="$GS_VENV/bin/graphsense-cli"
if [[ ! -x "$GS" ]]; then
    echo "installing $GS_LIB_SPEC into $GS_VENV" >&2
    { [[ -x "$GS_VENV/bin/python" ]] || "$PYTHON" -m venv "$GS_VENV"; } \
        && "$GS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$GS_LIB_SPEC" \
        || { echo "error: cannot install $GS_LIB_SPEC into $GS_VENV" >&2; exit 2; }
fi
[[ -x "$GS" ]] || { echo "error: $GS not found after install" >&2; exit 2; }

shopt -s nullglob
actorpacks=("$ACTORS"/*.actorpack.yaml)
tagpacks=("$PACKS"/*.yaml)
if (( ${#actorpacks[@]} != 1 )); then
    echo "FAIL: expected exactly one ActorPack in $ACTORS, found ${#actorpacks[@]}" >&2
    exit 1
fi
if (( ${#tagpacks[@]} == 0 )); then
    echo "FAIL: no TagPacks in $PACKS" >&2
    exit 1
fi
ACTORPACK="${actorpacks[0]}"
status=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# 1. GraphSense: the ActorPack.
if "$GS" -v tagpack-tool actorpack validate "$ACTORPACK" >"$log" 2>&1 \
        && grep -q "1/1 ActorPacks passed" "$log"; then
    echo "ok   actorpack  ${ACTORPACK#$REPO/}"
else
    echo "FAIL actorpack  ${ACTORPACK#$REPO/}"; grep -E "ERROR|FAILED" "$log" | sed 's/^/     /'
    status=1
fi

# 2. GraphSense: the TagPacks, strict actor references against our ActorPack (without
#    --actorpack-path it would try to download GraphSense's pack and skip the check offline).
#    One run over the folder (the CLI takes seconds to start); on failure, one run per pack
#    to name every failing file.
validate_tagpack() {  # $1: file or folder
    "$GS" -v tagpack-tool tagpack validate "$1" --actorpack-path "$ACTORPACK" \
        --strict-actor-references >"$log" 2>&1 \
        && grep -q "passed in" "$log" && ! grep -qE "ERROR|FAILED" "$log" \
        && ! grep -q "possible invalid address" "$log"
}
if validate_tagpack "$PACKS" && grep -q "${#tagpacks[@]}/${#tagpacks[@]} TagPacks passed" "$log"; then
    for pack in "${tagpacks[@]}"; do echo "ok   tagpack    ${pack#$REPO/}"; done
else
    for pack in "${tagpacks[@]}"; do
        if validate_tagpack "$pack"; then
            echo "ok   tagpack    ${pack#$REPO/}"
        else
            echo "FAIL tagpack    ${pack#$REPO/}"
            grep -E "ERROR|FAILED|possible invalid address|NOT FOUND" "$log" | sed 's/^/     /'
            status=1
        fi
    done
fi

# 3. What GraphSense leaves out: addresses per network family (EIP-55 on every EVM chain,
#    Base58Check/bech32 for BTC, Base58Check with version 0x41 for TRON), tag context JSON,
#    the exposure attribute values, and one actor per address within a pack.
"$GS_VENV/bin/python" - "$ACTORPACK" "${tagpacks[@]}" <<'PY' || status=1
import base58, datetime, json, sys, yaml
from graphsenselib.utils.address import validate_address

EVM = {"ETH", "ARB", "OP", "BASE", "BSC", "MATIC", "AVAX"}
FAMILY = {"BTC": "btc", "TRX": "trx", **{n: "eth" for n in EVM}}
ALLOWED = {"serves_mainland": {"yes", "reported", "no", "unknown"},
           "rwa": {"issuer", "token"}, "stablecoin": {"issuer", "token"},
           "grade": {"strong", "moderate", "unverified"}}
problems = []

def check_exposure(where, ctx):
    if ctx is None:
        return
    if isinstance(ctx, str):
        try:
            ctx = json.loads(ctx)
        except ValueError as e:
            problems.append(f"{where}: context is not valid JSON ({e})"); return
    if not isinstance(ctx, dict):
        problems.append(f"{where}: context must be a JSON object"); return
    exp = ctx.get("exposure", {})
    if not isinstance(exp, dict):
        problems.append(f"{where}: context.exposure must be an object"); return
    for k, ok in ALLOWED.items():
        if k in exp and exp[k] not in ok:
            problems.append(f"{where}: exposure.{k}={exp[k]!r} not in {sorted(ok)}")
    if "as_of" in exp:
        try:
            datetime.date.fromisoformat(str(exp["as_of"]))
        except ValueError:
            problems.append(f"{where}: exposure.as_of {exp['as_of']!r} is not YYYY-MM-DD")
    if "decimals" in exp and not (isinstance(exp["decimals"], int) and 0 <= exp["decimals"] <= 36):
        problems.append(f"{where}: exposure.decimals {exp['decimals']!r} is not an integer 0..36")

actorpack, packs = sys.argv[1], sys.argv[2:]
ap = yaml.safe_load(open(actorpack, encoding="utf-8"))
actors = {}
for a in ap["actors"]:
    actors[a["id"]] = a
    for alias in (a.get("aliases") or []) + ((a.get("context") or {}).get("aliases") or []):
        actors.setdefault(alias, a)
    check_exposure(f"{actorpack}: actor {a['id']}", a.get("context"))
n = 0
missing = set()
for path in packs:
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    head = {k: v for k, v in doc.items() if k != "tags"}
    owners = {}
    for i, raw in enumerate(doc.get("tags") or [], 1):
        t = {**head, **raw}
        where = f"{path}: tag {i} ({t.get('address')})"
        n += 1
        net = str(t.get("network") or t.get("currency") or "").upper()
        addr = t.get("address")
        fam = FAMILY.get(net)
        if fam is None:
            problems.append(f"{where}: network {net!r} not one of {sorted(FAMILY)}")
        elif not isinstance(addr, str) or not validate_address(fam, addr):
            problems.append(f"{where}: invalid {net} address (checksum/encoding)")
        elif fam == "trx":
            raw_bytes = base58.b58decode_check(addr)
            if len(raw_bytes) != 21 or raw_bytes[0] != 0x41:
                problems.append(f"{where}: TRON address without version byte 0x41")
        if t.get("actor") and t["actor"] not in actors and (path, t["actor"]) not in missing:
            missing.add((path, t["actor"]))
            problems.append(f"{where}: actor {t['actor']!r} not in {actorpack} (reported once per pack)")
        lm = t.get("lastmod")
        if lm is not None and not isinstance(lm, datetime.date):
            problems.append(f"{where}: lastmod {lm!r} is not a YAML date")
        check_exposure(where, t.get("context"))
        key = (net, addr.lower() if fam == "eth" else addr) if isinstance(addr, str) else None
        if key and t.get("actor"):
            prev = owners.setdefault(key, t["actor"])
            if prev != t["actor"]:
                problems.append(f"{where}: same address tagged with actors {prev!r} and {t['actor']!r}")
for p in problems:
    print("FAIL " + p)
print(f"{'ok  ' if not problems else 'FAIL'} checks     {n} tags in {len(packs)} packs, {len(ap['actors'])} actors"
      + (f": {len(problems)} problem(s)" if problems else ""))
sys.exit(1 if problems else 0)
PY

if (( status == 0 )); then
    echo "all label packs valid"
else
    echo "label pack validation FAILED" >&2
fi
exit $status
