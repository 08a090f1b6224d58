// The declaration in include/CFuzzerDriver.h is what this target provides; libFuzzer defines the function.
#include "CFuzzerDriver.h"
