#ifndef CLOISTER_SANDBOX_H
#define CLOISTER_SANDBOX_H

/* Linux isolation syscalls that Swift cannot reach directly (raw syscalls, variadic prctl, BPF structs, cmsg
 * macros), and the fork -> harden -> exec sequence, which must run only async-signal-safe code in the child.
 * Every function returns -1 (or NULL) with errno set on failure unless documented otherwise. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- Landlock (sandbox.c) ---- */

/* The kernel's Landlock ABI version, or -1 with errno set when Landlock is unavailable. */
int cloister_landlock_abi_version(void);

/* Every filesystem access right the given ABI version knows (the ruleset's handled set). */
uint64_t cloister_landlock_fs_rights(int abi);

/* The read-only rights: execute, read files, list directories. */
uint64_t cloister_landlock_fs_read_rights(void);

/* open(path, O_PATH | O_CLOEXEC): a handle for a rule that needs no read permission. */
int cloister_open_path(const char *path);

/* A new ruleset fd (O_CLOEXEC) handling `handled` filesystem rights. */
int cloister_landlock_create_ruleset(uint64_t handled);

/* Allows `access` beneath the file or directory open at `path_fd` (O_PATH is enough); rights that only apply to
 * directories are dropped when `path_fd` is not a directory. */
int cloister_landlock_allow_path(int ruleset_fd, int path_fd, uint64_t access);

/* ---- Spawn (spawn.c) ---- */

/* memfd_create(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC): an executable memfd even where vm.memfd_noexec makes
 * memfds non-executable by default; kernels before 6.3 (no MFD_EXEC) get the flags without it. */
int cloister_memfd_create_executable(const char *name);

/* memfd_create(MFD_CLOEXEC | MFD_ALLOW_SEALING): a memfd for data (a trusted file's sealed copy). */
int cloister_memfd_create_data(const char *name);

/* Seals a memfd against writes, shrinking, growing and further sealing; retries for 127 ms while the kernel answers
 * EBUSY (pages still referenced), then fails with it. */
int cloister_memfd_seal(int fd);

/* pipe2(O_CLOEXEC). */
int cloister_pipe(int fds[2]);

/* Where a failed spawn stopped. */
enum cloister_spawn_stage {
    CLOISTER_SPAWN_PIPE = 1,
    CLOISTER_SPAWN_FORK,
    CLOISTER_SPAWN_SIGNALS,
    CLOISTER_SPAWN_CORE_LIMIT,
    CLOISTER_SPAWN_NO_NEW_PRIVS,
    CLOISTER_SPAWN_PARENT_DEATH_SIGNAL,
    CLOISTER_SPAWN_MEMORY_LOCK_LIMIT,
    CLOISTER_SPAWN_CAPABILITIES,
    CLOISTER_SPAWN_LANDLOCK,
    CLOISTER_SPAWN_DESCRIPTORS,
    CLOISTER_SPAWN_CLOSE_RANGE,
    CLOISTER_SPAWN_EXEC,
};

/* Everything the child needs, prepared by the parent: the child only reads it (and adds one rule to the ruleset). */
struct cloister_spawn_request {
    int image_fd;                 /* executed with execveat(AT_EMPTY_PATH) */
    char *const *argv;            /* NULL-terminated */
    char *const *envp;            /* NULL-terminated */
    int child_fds[5];             /* become fds 0..4 of the child (stdin, stdout, stderr, ECALL, platform) */
    int landlock_ruleset_fd;      /* -1: no Landlock; else the child adds its own /proc/<pid> (read) and applies it */
    uint64_t memory_lock_limit;   /* RLIMIT_MEMLOCK raised to this many bytes when lower and allowed; 0: inherited */
};

struct cloister_spawn_result {
    pid_t pid;
    int pidfd;                    /* -1 when pidfd_open is unavailable */
    int failed_stage;             /* 0 on success, else an enum cloister_spawn_stage */
    int error;                    /* errno of the failed stage */
};

/* Forks (from a spawner thread that lives as long as the process), hardens the child (default signals, SIGKILL when
 * the launcher dies, RLIMIT_CORE 0, RLIMIT_MEMLOCK, no capabilities, no_new_privs, Landlock with its own /proc/<pid>
 * readable, fds 0..4 only) and executes the image. Returns 0 once the exec succeeded; -1 with `failed_stage` and
 * `error` set otherwise (a child that failed has been reaped). */
int cloister_spawn(const struct cloister_spawn_request *request, struct cloister_spawn_result *result);

/* Sends `signal` through a pidfd. */
int cloister_pidfd_send_signal(int pidfd, int signal);

/* ---- Self-hardening after exec (hardening.c) ---- */

/* prctl(PR_SET_DUMPABLE, 0). */
int cloister_set_not_dumpable(void);

/* prctl(PR_GET_DUMPABLE): 0, 1 or 2. */
int cloister_dumpable(void);

/* prctl(PR_GET_NO_NEW_PRIVS): 1 when set. */
int cloister_no_new_privs(void);

/* 1 when both the soft and hard RLIMIT_CORE are 0. */
int cloister_core_limit_is_zero(void);

/* 1 when the permitted, effective and inheritable capability sets are empty (so is the ambient set, which is a
 * subset of them), 0 when not, -1 when capget failed. */
int cloister_capabilities_empty(void);

/* The soft RLIMIT_MEMLOCK in bytes, UINT64_MAX when unlimited. */
uint64_t cloister_memory_lock_limit(void);

/* Has malloc serve blocks up to `largest` bytes from its heaps and keep up to `kept` bytes freed at their top
 * (mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD), instead of mapping and unmapping fresh zeroed pages per block;
 * 0 when malloc refused either. */
int cloister_keep_freed_memory(size_t largest, size_t kept);

/* The x86_64 number of a syscall name, or -1 when unknown or the architecture has no table (syscall_table.c). */
int cloister_syscall_number(const char *name);

/* 1 when this architecture has a syscall table and a seccomp filter can be built. */
int cloister_seccomp_supported(void);

/* Installs a seccomp filter on every thread (TSYNC): a foreign architecture or x32 syscall kills the process, the
 * listed syscalls are allowed, anything else fails with EPERM. Requires no_new_privs. */
int cloister_seccomp_install(const int *syscalls, size_t count);

/* ---- Locked secret memory (hardening.c) ---- */

/* Anonymous private pages of `length` (a multiple of the page size), excluded from core dumps and zeroed in forked
 * children; `*locked` is 1 when mlock succeeded (it may fail for RLIMIT_MEMLOCK, which is not an error). */
void *cloister_secret_map(size_t length, int *locked);

/* Zeroes `length` bytes in a way the compiler cannot elide. */
void cloister_secret_wipe(void *address, size_t length);

/* Wipes, unlocks and unmaps a region from cloister_secret_map. */
void cloister_secret_unmap(void *address, size_t length, int locked);

/* ---- Channel I/O (channel_io.c) ---- */

/* One sendmsg(MSG_NOSIGNAL) of two buffers; passes `pass_fd` with SCM_RIGHTS unless it is -1. Returns bytes sent. */
ssize_t cloister_channel_send(int fd, const void *first, size_t first_length, const void *second,
                              size_t second_length, int pass_fd);

/* One recvmsg(MSG_CMSG_CLOEXEC). Received descriptors are stored in `fds` (up to `max_fds`), their number in
 * `*fd_count`; `*truncated` is 1 when the kernel dropped descriptors that did not fit. Returns bytes read. */
ssize_t cloister_channel_receive(int fd, void *buffer, size_t length, int *fds, int max_fds, int *fd_count,
                                 int *truncated);

#endif
