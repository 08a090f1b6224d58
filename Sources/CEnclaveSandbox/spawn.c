/* clone(CLONE_VM | CLONE_VFORK) -> harden -> execveat, as glibc's posix_spawn does: the child borrows the parent's
 * memory on a stack of its own (no page-table copy, which makes fork of a large process slow) while the parent waits
 * for the exec. The child may only run async-signal-safe code: it uses raw syscalls and memory the parent
 * prepared, never allocates, and touches no parent state but errno, which the parent does not read afterwards.
 *
 * Every child is cloned by one thread that lives as long as the process (the spawner). The child asks for SIGKILL
 * when its parent dies (PR_SET_PDEATHSIG), and the kernel sends it when the *thread* that cloned the child exits:
 * cloned from a pool's worker thread, an enclave would be killed when the pool retired that thread. */
#define _GNU_SOURCE
#include "cloister_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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

/* F_SEAL_WRITE fails with EBUSY while the memfd has a writable shared mapping, or while the kernel still holds
 * references to its pages after waiting for them itself (seen once on a freshly written copy in a CI run under load).
 * Retries with a pause of 1 ms doubling to 64 ms, 127 ms in all, then fails with EBUSY. */
int cloister_memfd_seal(int fd) {
    for (int attempt = 0;; attempt++) {
        int result = fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        if (result == 0 || errno != EBUSY || attempt == 7) {
            return result;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000L << attempt};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
    }
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

/* Raises RLIMIT_MEMLOCK to `limit` bytes when it is lower (0: leave it), so that the enclave can lock its resident
 * budget without keeping CAP_IPC_LOCK. Raising the hard limit takes CAP_SYS_RESOURCE; without it (EPERM) the soft
 * limit goes as far as the hard one, and an enclave that needs more reports its memory unlocked. */
static int raise_memory_lock_limit(uint64_t limit) {
    struct rlimit current;
    if (limit == 0) {
        return 0;
    }
    if (getrlimit(RLIMIT_MEMLOCK, &current) != 0) {
        return -1;
    }
    if (current.rlim_cur == RLIM_INFINITY || current.rlim_cur >= limit) {
        return 0;
    }
    struct rlimit raised = {
        .rlim_cur = limit,
        .rlim_max = current.rlim_max == RLIM_INFINITY || current.rlim_max >= limit ? current.rlim_max : limit,
    };
    if (setrlimit(RLIMIT_MEMLOCK, &raised) == 0) {
        return 0;
    }
    if (errno != EPERM) {
        return -1;
    }
    raised.rlim_cur = current.rlim_max;
    raised.rlim_max = current.rlim_max;
    return setrlimit(RLIMIT_MEMLOCK, &raised);
}

/* Empties every capability set: the bounding set (so that exec cannot give root its capabilities back), the ambient
 * set, then permitted, effective and inheritable. Dropping from the bounding set needs CAP_SETPCAP; a launcher
 * without it (EPERM) has no capabilities to hand on, and no_new_privs keeps exec from gaining any. */
static int drop_capabilities(void) {
    enum { MAX_CAPABILITY = 64 };
    for (int capability = 0; capability < MAX_CAPABILITY; capability++) {
        int present = prctl(PR_CAPBSET_READ, capability, 0, 0, 0);
        if (present < 0) {
            if (errno == EINVAL) { /* past the kernel's last capability */
                break;
            }
            return -1;
        }
        if (present == 1 && prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EPERM) {
            return -1;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
        return -1;
    }
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {{0}};
    return (int)syscall(SYS_capset, &header, none);
}

/* Lets the child read its own /proc/<pid> and nothing else of /proc: the rule is added here, where /proc/self is the
 * child (the launcher cannot name a pid before it exists), so other processes' entries, the launcher's
 * /proc/<pid>/environ among them, stay out of reach. */
static int allow_own_proc(int ruleset_fd) {
    int proc_fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd < 0) {
        return -1;
    }
    struct landlock_path_beneath_attr rule = {
        .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
        .parent_fd = proc_fd,
    };
    long status = syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    int saved = errno;
    close(proc_fd);
    errno = saved;
    return status == 0 ? 0 : -1;
}

/* Runs in the child: only async-signal-safe calls, no allocation, no return. `parent` is the launcher's pid. */
static void run_child(const struct cloister_spawn_request *request, int error_fd, pid_t parent) {
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
    /* Die with the launcher. A launcher killed before the request took effect has already orphaned the child: its
     * parent is no longer the launcher, and nobody is left to serve it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_PARENT_DEATH_SIGNAL);
    }
    if (getppid() != parent) {
        _exit(127);
    }

    struct rlimit no_core = {.rlim_cur = 0, .rlim_max = 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_CORE_LIMIT);
    }
    if (raise_memory_lock_limit(request->memory_lock_limit) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_MEMORY_LOCK_LIMIT);
    }
    if (drop_capabilities() != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_CAPABILITIES);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        report_and_exit(error_fd, CLOISTER_SPAWN_NO_NEW_PRIVS);
    }
    int ruleset_fd = request->landlock_ruleset_fd;
    if (ruleset_fd >= 0) {
        if (allow_own_proc(ruleset_fd) != 0 || syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) {
            report_and_exit(error_fd, CLOISTER_SPAWN_LANDLOCK);
        }
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
    pid_t parent;
};

static int child_entry(void *argument) {
    const struct child_arguments *arguments = argument;
    close(arguments->error_read_fd); /* the child's own descriptor table: CLONE_FILES is not set */
    run_child(arguments->request, arguments->error_write_fd, arguments->parent);
    return 127;
}

/* The child's stack while it runs before exec. */
enum { CHILD_STACK_SIZE = 256 * 1024 };

/* Clones the child; runs on the spawner thread, where every signal stays blocked, so no handler of the parent runs in
 * the child before the child resets them. Returns once the child has executed the image or exited. */
static pid_t clone_child(const struct child_arguments *arguments, int *error) {
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *error = errno;
        return -1;
    }
    pid_t pid = clone(child_entry, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD,
                      (void *)arguments);
    *error = errno;
    munmap(stack, CHILD_STACK_SIZE);
    return pid;
}

/* One clone request handed to the spawner thread; it lives on the requester's stack until `done`. */
struct spawner_job {
    const struct child_arguments *arguments;
    pid_t pid;
    int error;
    int done;
};

static pthread_mutex_t spawner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawner_changed = PTHREAD_COND_INITIALIZER;
static struct spawner_job *spawner_pending;
/* The process whose spawner thread is running: a fork without exec copies this state but not the thread. */
static pid_t spawner_process;

static void *spawner_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&spawner_lock);
    for (;;) {
        while (spawner_pending == NULL || spawner_pending->done) {
            pthread_cond_wait(&spawner_changed, &spawner_lock);
        }
        struct spawner_job *job = spawner_pending;
        pthread_mutex_unlock(&spawner_lock);
        job->pid = clone_child(job->arguments, &job->error);
        pthread_mutex_lock(&spawner_lock);
        job->done = 1;
        pthread_cond_broadcast(&spawner_changed);
    }
    return NULL;
}

/* Starts the spawner thread unless it runs in this process; call with spawner_lock held. Returns 0 or an errno. */
static int start_spawner(void) {
    if (spawner_process == getpid()) {
        return 0;
    }
    pthread_attr_t attributes;
    int status = pthread_attr_init(&attributes);
    if (status != 0) {
        return status;
    }
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    /* The thread inherits this mask: every signal blocked, for its whole life. */
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_t thread;
    status = pthread_create(&thread, &attributes, spawner_main, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    pthread_attr_destroy(&attributes);
    if (status == 0) {
        spawner_process = getpid();
    }
    return status;
}

/* Has the spawner thread clone the child; one request at a time. */
static pid_t clone_on_spawner(const struct child_arguments *arguments, int *error) {
    struct spawner_job job = {.arguments = arguments, .pid = -1, .error = 0, .done = 0};
    pthread_mutex_lock(&spawner_lock);
    int status = start_spawner();
    if (status != 0) {
        pthread_mutex_unlock(&spawner_lock);
        *error = status;
        return -1;
    }
    while (spawner_pending != NULL) { /* another request is under way */
        pthread_cond_wait(&spawner_changed, &spawner_lock);
    }
    spawner_pending = &job;
    pthread_cond_broadcast(&spawner_changed);
    while (!job.done) {
        pthread_cond_wait(&spawner_changed, &spawner_lock);
    }
    spawner_pending = NULL;
    pthread_cond_broadcast(&spawner_changed);
    pthread_mutex_unlock(&spawner_lock);
    *error = job.error;
    return job.pid;
}

int cloister_spawn(const struct cloister_spawn_request *request, struct cloister_spawn_result *result) {
    result->pid = -1;
    result->pidfd = -1;
    result->failed_stage = 0;
    result->error = 0;

    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) != 0) {
        return fail(result, CLOISTER_SPAWN_PIPE, errno);
    }
    struct child_arguments arguments = {
        .request = request, .error_read_fd = error_pipe[0], .error_write_fd = error_pipe[1], .parent = getpid()};
    int fork_error = 0;
    pid_t pid = clone_on_spawner(&arguments, &fork_error);
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
