// The one assertion of the fuzz targets: an invariant that does not hold is
// a crash, with the condition and line, so that libFuzzer keeps the input
// (crash-*) and a later run of the target on that file reproduces it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                              \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);         \
            std::abort();                                                                             \
        }                                                                                             \
    } while (0)
