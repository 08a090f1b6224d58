#define _GNU_SOURCE
#include "cloister_sandbox.h"

#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

int cloister_landlock_abi_version(void) {
    return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}
