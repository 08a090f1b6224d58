#ifndef CLOISTER_CCBOR_SHIM_H
#define CLOISTER_CCBOR_SHIM_H

#include <cbor.h>

#endif
