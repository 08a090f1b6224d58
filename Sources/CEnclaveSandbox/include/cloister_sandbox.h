#ifndef CLOISTER_SANDBOX_H
#define CLOISTER_SANDBOX_H

/* Linux isolation syscalls that Swift cannot reach directly (raw syscalls, variadic prctl, BPF structs). */

/* The kernel's Landlock ABI version, or -1 with errno set when Landlock is unavailable. */
int cloister_landlock_abi_version(void);

#endif
