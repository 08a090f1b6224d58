/* Hardening the enclave applies to itself after exec (exec resets dumpability), and locked secret memory. */
#define _GNU_SOURCE
#include "cloister_sandbox.h"

#include <errno.h>
#include <malloc.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int cloister_set_not_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int cloister_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

int cloister_no_new_privs(void) {
    return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

int cloister_core_limit_is_zero(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_CORE, &limit) != 0) {
        return -1;
    }
    return limit.rlim_cur == 0 && limit.rlim_max == 0;
}

int cloister_capabilities_empty(void) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct sets[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, sets) != 0) {
        return -1;
    }
    for (int index = 0; index < _LINUX_CAPABILITY_U32S_3; index++) {
        if (sets[index].permitted != 0 || sets[index].effective != 0 || sets[index].inheritable != 0) {
            return 0;
        }
    }
    return 1;
}

uint64_t cloister_memory_lock_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
        return UINT64_MAX;
    }
    return limit.rlim_cur;
}

#if defined(__x86_64__)
#define CLOISTER_AUDIT_ARCH AUDIT_ARCH_X86_64
#define CLOISTER_X32_SYSCALL_BIT 0x40000000U
#endif

int cloister_seccomp_supported(void) {
#if defined(CLOISTER_AUDIT_ARCH)
    return 1;
#else
    return 0;
#endif
}

int cloister_seccomp_install(const int *syscalls, size_t count) {
#if defined(CLOISTER_AUDIT_ARCH)
    enum { PROLOGUE = 6, EPILOGUE = 1 };
    if (count > (BPF_MAXINSNS - PROLOGUE - EPILOGUE) / 2) {
        errno = E2BIG;
        return -1;
    }
    size_t length = PROLOGUE + 2 * count + EPILOGUE;
    struct sock_filter *program = calloc(length, sizeof *program);
    if (program == NULL) {
        return -1;
    }
    size_t at = 0;
    /* A syscall made under another ABI (a foreign arch, or x32 numbers with bit 30 on x86_64) has other numbers:
     * kill rather than misjudge it. */
    program[at++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[at++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CLOISTER_AUDIT_ARCH, 1, 0);
    program[at++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    program[at++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    program[at++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, CLOISTER_X32_SYSCALL_BIT, 0, 1);
    program[at++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    for (size_t index = 0; index < count; index++) {
        program[at++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)syscalls[index], 0, 1);
        program[at++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    program[at++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    struct sock_fprog filter = {.len = (unsigned short)at, .filter = program};
    long status = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &filter);
    int saved = errno;
    free(program);
    if (status != 0) {
        /* With TSYNC a positive result is the id of a thread that could not be synchronised. */
        errno = status > 0 ? ESRCH : saved;
        return -1;
    }
    return 0;
#else
    (void)syscalls;
    (void)count;
    errno = ENOSYS;
    return -1;
#endif
}

void *cloister_secret_map(size_t length, int *locked) {
    void *address = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (address == MAP_FAILED) {
        return NULL;
    }
    if (madvise(address, length, MADV_DONTDUMP) != 0 || madvise(address, length, MADV_WIPEONFORK) != 0) {
        int saved = errno;
        munmap(address, length);
        errno = saved;
        return NULL;
    }
    *locked = mlock(address, length) == 0;
    return address;
}

void cloister_secret_wipe(void *address, size_t length) {
    explicit_bzero(address, length);
}

void cloister_secret_unmap(void *address, size_t length, int locked) {
    explicit_bzero(address, length);
    if (locked) {
        munlock(address, length);
    }
    munmap(address, length);
}

int cloister_keep_freed_memory(size_t largest, size_t kept) {
    /* One arena: a thread's own arena would map and trim its heaps apart from these thresholds. */
    return mallopt(M_ARENA_MAX, 1) == 1 && mallopt(M_MMAP_THRESHOLD, (int)largest) == 1
        && mallopt(M_TRIM_THRESHOLD, (int)kept) == 1;
}
