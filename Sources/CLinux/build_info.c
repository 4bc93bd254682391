// The commit this binary was built from, as scripts/stamp-commit.sh recorded it (build_commit.h, not
// tracked); "unknown commit" for a build nothing stamped.
#if __has_include("build_commit.h")
#include "build_commit.h"
#endif
#ifndef PASTA_BUILD_COMMIT
#define PASTA_BUILD_COMMIT "unknown commit"
#endif

const char *CLinux_build_commit(void) { return PASTA_BUILD_COMMIT; }
