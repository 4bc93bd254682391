// The declaration in the header is all this module provides; the definition comes from libFuzzer.
#include "LibFuzzerDriver.h"
