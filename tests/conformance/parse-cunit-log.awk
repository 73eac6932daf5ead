# Classify every test of a verbose iscsi-test-cu log (CUnit 2.1, -v).
#
# Usage: awk -v family=ALL -f parse-cunit-log.awk LOG
#
# Output, one line per test:  FAMILY.SUITE.TEST  OUTCOME  [reason]
# where OUTCOME is one of
#   passed     CUnit printed "passed" and no "[SKIPPED]" line came first
#   skipped    "[SKIPPED] reason" appeared before CUnit's "passed": CUnit
#              counts these as passes, so we must not
#   failed     CUnit printed "FAILED"
#   unfinished the log ended (or the next test began) before any verdict,
#              e.g. because the target or iscsi-test-cu died
#
# Shape of the log (what this parser relies on):
#   "Suite: NAME" starts a suite;
#   "  Test: NAME ..." starts a test; the test's own output may follow on
#   the same line and on the next lines;
#   the verdict is "passed" or "FAILED" at the start of a line, or right
#   after the "..." of the test line. Text after the verdict on the same
#   line comes from the suite's cleanup and belongs to no test.

function finish(outcome, reason) {
	if (current == "")
		return
	if (outcome == "passed" && skip_reason != "")
		print current, "skipped", skip_reason
	else if (outcome == "passed")
		print current, "passed"
	else
		print current, outcome, reason
	current = ""
	skip_reason = ""
}

# Look at one piece of text that belongs to the running test; only text
# at the start of a line or right after "..." may be CUnit's verdict.
function consume(text, may_be_verdict,    r) {
	if (may_be_verdict && text ~ /^(passed|FAILED)/) {
		finish(substr(text, 1, 6) == "passed" ? "passed" : "failed",
		       first_failure)
		return
	}
	if (skip_reason == "" && match(text, /\[SKIPPED\][ ]*/)) {
		r = substr(text, RSTART + RLENGTH)
		sub(/[ \t\r]+$/, "", r)
		skip_reason = (r == "" ? "(no reason given)" : r)
	}
	if (first_failure == "" && match(text, /\[FAILED\][ ]*/))
		first_failure = substr(text, RSTART + RLENGTH)
}

BEGIN {
	if (family == "")
		family = "ALL"
	OFS = "\t"
}

{ sub(/\r$/, "") }

/^Suite: / {
	finish("unfinished", "no verdict before the next suite")
	suite = substr($0, 8)
	sub(/[ \t]+$/, "", suite)
	next
}

/^  Test: / {
	finish("unfinished", "no verdict before the next test")
	line = substr($0, 9)
	pos = index(line, " ...")
	if (pos == 0) {
		name = line
		rest = ""
	} else {
		name = substr(line, 1, pos - 1)
		rest = substr(line, pos + 4)
	}
	current = family "." suite "." name
	skip_reason = ""
	first_failure = ""
	if (rest ~ /^(passed|FAILED)/) {
		consume(rest, 1)
		next
	}
	sub(/^[ \t]+/, "", rest)
	if (rest != "")
		consume(rest, 0)
	next
}

/^Run Summary:/ {
	finish("unfinished", "no verdict before the run summary")
	next
}

current != "" {
	if ($0 ~ /^(passed|FAILED)/) {
		consume($0, 1)
		next
	}
	text = $0
	sub(/^[ \t]+/, "", text)
	consume(text, 0)
}

END {
	finish("unfinished", "log ended without a verdict")
}
