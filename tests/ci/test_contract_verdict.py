"""scripts/contract_verdict.py tells a finding about the API from a crash of schemathesis."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "contract_verdict.py"
spec = importlib.util.spec_from_file_location("contract_verdict", SCRIPT)
contract_verdict = importlib.util.module_from_spec(spec)
spec.loader.exec_module(contract_verdict)


def report(tmp_path, body):
    path = tmp_path / "junit.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="schemathesis">'
        f"{body}</testsuite></testsuites>"
    )
    return str(path)


def test_clean_report_passes(tmp_path, capsys):
    path = report(tmp_path, '<testcase name="GET /api/v1/leads/"/>')
    assert contract_verdict.main(path, "manager", 0) == 0
    assert "no findings, no tool errors" in capsys.readouterr().out


def test_failed_check_is_reported_as_an_api_finding(tmp_path, capsys):
    path = report(
        tmp_path,
        '<testcase name="GET /api/v1/funnel/">'
        '<failure type="failure" message="500">1. Server error</failure></testcase>',
    )
    assert contract_verdict.main(path, "rep1", 1) == 1
    out = capsys.readouterr().out
    assert "API FINDING (rep1) GET /api/v1/funnel/" in out
    assert "TOOL ERROR" not in out


def test_runtime_error_of_the_tool_is_named_as_the_tools(tmp_path, capsys):
    path = report(
        tmp_path,
        '<testcase name="GET /api/v1/disputes/"><error type="error" message="Runtime Error">'
        "SystemError: AST constructor recursion depth mismatch</error></testcase>",
    )
    assert contract_verdict.main(path, "manager", 1) == 1
    out = capsys.readouterr().out
    assert "TOOL ERROR (manager) GET /api/v1/disputes/" in out
    assert "not a finding about LeadFlow's API" in out
    assert "API FINDING" not in out


@pytest.mark.parametrize("content", [None, "<testsuites"])
def test_missing_or_broken_report_fails_as_a_tool_error(tmp_path, capsys, content):
    path = tmp_path / "junit.xml"
    if content is not None:
        path.write_text(content)
    assert contract_verdict.main(str(path), "manager", 2) == 1
    assert "TOOL ERROR (manager)" in capsys.readouterr().out


def test_nonzero_exit_with_an_empty_report_still_fails(tmp_path, capsys):
    path = report(tmp_path, '<testcase name="GET /api/v1/leads/"/>')
    assert contract_verdict.main(path, "manager", 1) == 1
    assert "exited 1 with nothing in its report" in capsys.readouterr().out
