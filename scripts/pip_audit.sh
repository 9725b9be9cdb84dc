#!/usr/bin/env bash
# Audit the installed environment for known vulnerabilities (pip-audit, PyPI's advisory
# data). A vulnerable package fails the run. pip-audit reports a package it could not look
# up as "skipped" and still prints "No known vulnerabilities found"; this script says
# plainly how many were skipped instead, so a network that blocks the lookups (PyPI's
# per-release JSON API) is never mistaken for a clean audit. AUDIT_STRICT=1 makes skipped
# packages fail the run as well.
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
.venv/bin/pip-audit --skip-editable --progress-spinner off --desc off -f json -o "$report" \
  >/dev/null 2>&1 || status=$?
.venv/bin/python - "$report" "$status" <<'PY'
import json
import os
import sys

path, status = sys.argv[1], int(sys.argv[2])
try:
    deps = json.load(open(path))["dependencies"]
except (OSError, ValueError, KeyError):
    print(f"pip-audit produced no report (exit {status})")
    sys.exit(1)
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if "skip_reason" in d]
audited = len(deps) - len(skipped)
for dep in vulnerable:
    ids = ", ".join(v["id"] + (f" (fixed in {', '.join(v['fix_versions'])})"
                               if v.get("fix_versions") else "") for v in dep["vulns"])
    print(f"VULNERABLE {dep['name']} {dep['version']}: {ids}")
print(f"pip-audit: {len(deps)} packages, {audited} audited, {len(vulnerable)} vulnerable, "
      f"{len(skipped)} could not be looked up")
if skipped:
    print("NOT AUDITED:", ", ".join(sorted(d["name"] for d in skipped)))
if vulnerable:
    sys.exit(1)
if skipped and os.environ.get("AUDIT_STRICT") == "1":
    sys.exit(1)
PY
