#!/usr/bin/env bash
# Checks docker-compose.yml without needing Docker to run it.
#   With a compose plugin (or docker-compose): `docker compose config -q`.
#   Without: validates the file against the Compose Specification JSON schema, the
#   official copy shipped by PyPI's docker-compose 1.29.2 (compose/config/compose_spec.json,
#   fetched once with pip and cached), after interpolating ${VAR}, ${VAR:-default} and
#   ${VAR-default} as compose does (from the environment and a .env file). That 2021 schema
#   predates the top-level `name`, which is checked here by the spec's own rule instead.
#   Then a few checks the schema cannot make: every depends_on names a service, every
#   build target is a stage of the Dockerfile, every healthy-condition has a health check.
# Usage: scripts/check-compose.sh [FILE]   (default docker-compose.yml)
set -euo pipefail
cd "$(dirname "$0")/.."

FILE=${1:-docker-compose.yml}
[ -f "$FILE" ] || { echo "check-compose: no $FILE" >&2; exit 2; }

if docker compose version >/dev/null 2>&1; then
  echo "check-compose: docker compose config -q $FILE"
  docker compose -f "$FILE" config -q
  echo "check-compose: $FILE is valid"
  exit 0
fi
if command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
  echo "check-compose: docker-compose config -q $FILE"
  docker-compose -f "$FILE" config -q
  echo "check-compose: $FILE is valid"
  exit 0
fi

command -v python3 >/dev/null || { echo "check-compose: needs docker compose, or python3" >&2; exit 2; }
if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "check-compose: installing jsonschema and PyYAML (pip)"
  python3 -m pip install --quiet --user jsonschema PyYAML
fi

SCHEMA_VERSION=1.29.2
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pse-check-compose
SCHEMA=$CACHE/compose_spec-docker-compose-$SCHEMA_VERSION.json
if [ ! -s "$SCHEMA" ]; then
  echo "check-compose: fetching the Compose Specification schema (PyPI docker-compose==$SCHEMA_VERSION)"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: "docker-compose==$SCHEMA_VERSION" -d "$tmp"
  python3 - "$tmp" "$SCHEMA" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/docker_compose-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("compose/config/compose_spec.json"))
PY
fi

python3 - "$FILE" "$SCHEMA" <<'PY'
import json, os, re, sys

import jsonschema
import yaml

path, schema_path = sys.argv[1], sys.argv[2]
folder = os.path.dirname(os.path.abspath(path))

# Variables: the environment wins over .env, as with compose.
env = {}
dotenv = os.path.join(folder, ".env")
if os.path.exists(dotenv):
    for line in open(dotenv, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip().strip("'\"")
env.update(os.environ)

PATTERN = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
errors = []

def interpolate(text, where):
    def one(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            errors.append(f"{where}: {name} is required ({arg})")
            return ""
        return value or ""
    return PATTERN.sub(one, text)

def walk(node, where="$"):
    if isinstance(node, dict):
        return {k: walk(v, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        return interpolate(node, where)
    return node

with open(path, encoding="utf-8") as f:
    doc = yaml.safe_load(f)  # also resolves anchors and << merge keys
if not isinstance(doc, dict):
    sys.exit(f"check-compose: {path} is not a mapping")
doc = walk(doc)

# The 2021 schema has no top-level `name`; the spec's rule for it:
name = doc.pop("name", None)
if name is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(name)):
    errors.append(f"$.name: {name!r} must be lower-case letters, digits, '-' and '_'")

schema = json.load(open(schema_path, encoding="utf-8"))
validator = jsonschema.Draft201909Validator(schema)
for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
    errors.append(f"{where}: {e.message}")

services = doc.get("services") or {}
stages = set()
dockerfile = os.path.join(folder, "Dockerfile")
if os.path.exists(dockerfile):
    for line in open(dockerfile, encoding="utf-8"):
        m = re.match(r"\s*FROM\s+\S+\s+AS\s+(\S+)", line, re.I)
        if m:
            stages.add(m.group(1))
for svc, spec in services.items():
    spec = spec or {}
    deps = spec.get("depends_on") or {}
    items = deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)
    for dep, cond in items:
        if dep not in services:
            errors.append(f"$.services.{svc}.depends_on: no service {dep!r}")
        elif (cond or {}).get("condition") == "service_healthy":
            hc = (services[dep] or {}).get("healthcheck")
            built = isinstance((services[dep] or {}).get("build"), dict)
            if (hc or {}).get("disable") or (hc is None and not built):
                errors.append(f"$.services.{svc}.depends_on.{dep}: waits for it to be healthy, but it has no health check")
    build = spec.get("build")
    if isinstance(build, dict) and build.get("target") and stages and build["target"] not in stages:
        errors.append(f"$.services.{svc}.build.target: {build['target']!r} is not a stage of the Dockerfile ({', '.join(sorted(stages))})")

if errors:
    print(f"check-compose: {path} is NOT valid:", file=sys.stderr)
    for e in errors:
        print(f"  - {e}", file=sys.stderr)
    sys.exit(1)
print(f"check-compose: {path} is valid (Compose Specification schema from docker-compose {os.path.basename(schema_path)[len('compose_spec-docker-compose-'):-5]}; "
      f"{len(services)} services: {', '.join(services)})")
PY
