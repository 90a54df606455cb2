// Shared by the libFuzzer harnesses (make fuzz): a property that fails aborts, with the
// property named on stderr, so that libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_REQUIRE(cond)                                                                       \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
			std::abort();                                                            \
		}                                                                                \
	} while (0)
