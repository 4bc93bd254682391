#ifndef LIBFUZZER_DRIVER_H
#define LIBFUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs with a main of their own (compiler-rt FuzzerInterface.h):
/// parses libFuzzer's flags from argc/argv and runs `callback` on every input. Linked in by
/// `-sanitize=fuzzer`; SwiftPM points `main` at the executable's own entry, so libFuzzer's main is unused.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
