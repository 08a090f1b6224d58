/* clone(CLONE_VM | CLONE_VFORK) -> harden -> execveat, as glibc's posix_spawn does: the child borrows the parent's
 * memory on a stack of its own (no page-table copy, which makes fork of a large process slow) while the parent waits
 * for the exec. The child may only run async-signal-safe code: it uses raw syscalls and memory the parent
 * prepared, never allocates, and touches no parent state but errno, which the parent does not read afterwards. */
#define _GNU_SOURCE
#include "cloister_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int cloister_memfd_create_executable(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) {
        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    }
    return fd;
}

int cloister_memfd_create_data(const char *name) {
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int cloister_memfd_seal(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

int cloister_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

/* Child fds 0..4 are the request's fds; 5 and 6 hold the image and the error pipe until exec closes them. */
enum { CHILD_FD_COUNT = 5, IMAGE_FD = 5, ERROR_FD = 6, FIRST_FREE_FD = 7 };

struct child_failure {
    int stage;
    int error;
};

static void report_and_exit(int error_fd, int stage) {
    struct child_failure failure = {.stage = stage, .error = errno};
    /* 8 bytes to a pipe are written atomically; nothing useful can be done if the write fails. */
    ssize_t ignored = write(error_fd, &failure, sizeof failure);
    (void)ignored;
    _exit(127);
}

/* Runs in the child: only async-signal-safe calls, no allocation, no return. */
static void run_child(const struct cloister_spawn_request *request, int error_fd) {
    /* Default dispositions (ignored signals would survive exec), then the empty mask the parent blocked. The raw
     * syscall also reaches the real-time signals libc reserves for itself. An all-zero kernel sigaction is SIG_DFL
     * with no flags and an empty mask; it fails harmlessly for SIGKILL and SIGSTOP. */
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } default_action = {0};
    for (int signal = 1; signal <= 64; signal++) {
        (void)syscall(SYS_rt_sigaction, signal, &default_action, NULL, sizeof default_action.mask);
    }
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_SIGNALS);
    }

    struct rlimit no_core = {.rlim_cur = 0, .rlim_max = 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_CORE_LIMIT);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_NO_NEW_PRIVS);
    }
    int ruleset_fd = request->landlock_ruleset_fd;
    if (ruleset_fd >= 0 && syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_LANDLOCK);
    }

    /* Copy every source above the target range first, so a source that is also a target is never clobbered. */
    int sources[FIRST_FREE_FD];
    for (int index = 0; index < CHILD_FD_COUNT; index++) {
        sources[index] = request->child_fds[index];
    }
    sources[IMAGE_FD] = request->image_fd;
    sources[ERROR_FD] = error_fd;
    int copies[FIRST_FREE_FD];
    for (int index = 0; index < FIRST_FREE_FD; index++) {
        copies[index] = fcntl(sources[index], F_DUPFD_CLOEXEC, FIRST_FREE_FD);
        if (copies[index] < 0) {
            report_and_exit(error_fd, CLOISTER_SPAWN_DESCRIPTORS);
        }
    }
    error_fd = copies[ERROR_FD];
    for (int index = 0; index < FIRST_FREE_FD; index++) {
        if (dup2(copies[index], index) < 0) { /* dup2 clears FD_CLOEXEC on the target */
            report_and_exit(error_fd, CLOISTER_SPAWN_DESCRIPTORS);
        }
    }
    error_fd = ERROR_FD;
    if (fcntl(IMAGE_FD, F_SETFD, FD_CLOEXEC) != 0 || fcntl(ERROR_FD, F_SETFD, FD_CLOEXEC) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_DESCRIPTORS);
    }
    /* Everything else (the parent's fds, the copies, the ruleset) is closed now; 5 and 6 close at exec. */
    if (syscall(SYS_close_range, FIRST_FREE_FD, ~0U, 0) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_CLOSE_RANGE);
    }

    syscall(SYS_execveat, IMAGE_FD, "", request->argv, request->envp, AT_EMPTY_PATH);
    report_and_exit(error_fd, CLOISTER_SPAWN_EXEC);
}

static int fail(struct cloister_spawn_result *result, int stage, int error) {
    result->failed_stage = stage;
    result->error = error;
    errno = error;
    return -1;
}

struct child_arguments {
    const struct cloister_spawn_request *request;
    int error_read_fd;
    int error_write_fd;
};

static int child_entry(void *argument) {
    const struct child_arguments *arguments = argument;
    close(arguments->error_read_fd); /* the child's own descriptor table: CLONE_FILES is not set */
    run_child(arguments->request, arguments->error_write_fd);
    return 127;
}

/* The child's stack while it runs before exec. */
enum { CHILD_STACK_SIZE = 256 * 1024 };

int cloister_spawn(const struct cloister_spawn_request *request, struct cloister_spawn_result *result) {
    result->pid = -1;
    result->pidfd = -1;
    result->failed_stage = 0;
    result->error = 0;

    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) != 0) {
        return fail(result, CLOISTER_SPAWN_PIPE, errno);
    }
    /* Block every signal so no handler of the parent runs in the child before the child resets them. */
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = -1;
    int fork_error = 0;
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        fork_error = errno;
    } else {
        struct child_arguments arguments = {
            .request = request, .error_read_fd = error_pipe[0], .error_write_fd = error_pipe[1]};
        /* Returns once the child has executed the image or exited. */
        pid = clone(child_entry, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &arguments);
        fork_error = errno;
        munmap(stack, CHILD_STACK_SIZE);
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(error_pipe[1]);
    if (pid < 0) {
        close(error_pipe[0]);
        return fail(result, CLOISTER_SPAWN_FORK, fork_error);
    }

    struct child_failure failure;
    ssize_t count;
    do {
        count = read(error_pipe[0], &failure, sizeof failure);
    } while (count < 0 && errno == EINTR);
    close(error_pipe[0]);
    if (count == (ssize_t)sizeof failure) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return fail(result, failure.stage, failure.error);
    }
    result->pid = pid;
    /* The child is unreaped, so its pid cannot have been reused yet. */
    result->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return 0;
}

int cloister_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}
