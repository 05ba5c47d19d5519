#!/usr/bin/env bash
# The wmsim binary under valgrind memcheck, for `make test-valgrind`: the
# end-to-end suites run it in place of wmsim (WMSIM_BIN). Reports go to
# files, so the suites' exact-output checks still see wmsim's own output;
# any error or definite leak makes the run exit 97, which fails the suite.
set -euo pipefail
: "${WMSIM_REAL_BIN:?set by make test-valgrind}" "${VALGRIND_LOG_DIR:?set by make test-valgrind}"
exec valgrind --quiet --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --track-fds=no --suppressions="$(dirname "$0")/valgrind.supp" \
  --log-file="$VALGRIND_LOG_DIR/wmsim.%p.log" \
  "$WMSIM_REAL_BIN" "$@"
