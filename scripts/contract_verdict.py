"""Say plainly what a schemathesis run of scripts/api_contract.sh found.

Reads the run's JUnit report. A <failure> is a finding about LeadFlow's API (a 5xx or an
answer off the schema). An <error> is schemathesis or hypothesis failing to run an
operation (a runtime error of the tool, a network error): no verdict on the API, but the
operation went untested, so it fails the step too, under its own name.

Usage: contract_verdict.py JUNIT_XML WHO SCHEMATHESIS_EXIT_STATUS; exits 1 on either.
"""

import sys
import xml.etree.ElementTree as ET


def first_lines(text, count=6):
    return "\n".join((text or "").strip().splitlines()[:count])


def main(path, who, run_status):
    try:
        cases = ET.parse(path).getroot().iter("testcase")
    except (OSError, ET.ParseError) as exc:
        print(
            f"TOOL ERROR ({who}): schemathesis wrote no readable report ({exc}); "
            f"it exited {run_status}."
        )
        return 1
    findings, tool_errors = [], []
    for case in cases:
        name = case.get("name", "?")
        findings += [(name, node.text or node.get("message")) for node in case.iter("failure")]
        tool_errors += [(name, node.text or node.get("message")) for node in case.iter("error")]
    for name, text in findings:
        print(f"API FINDING ({who}) {name}:\n{first_lines(text)}")
    for name, text in tool_errors:
        print(
            f"TOOL ERROR ({who}) {name}: schemathesis itself failed here; this is not a "
            f"finding about LeadFlow's API, but the operation went untested.\n"
            f"{first_lines(text)}"
        )
    if findings or tool_errors:
        print(
            f"contract ({who}): {len(findings)} API finding(s), {len(tool_errors)} tool error(s)"
        )
        return 1
    if run_status != 0:
        print(
            f"TOOL ERROR ({who}): schemathesis exited {run_status} with nothing in its "
            "report; see its output above."
        )
        return 1
    print(f"contract ({who}): no findings, no tool errors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
