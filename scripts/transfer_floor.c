// The transfer floor behind the aggregation figures (scripts/bench-transfer): 20 batches of 20 MiB moved from one
// process to another through a memfd sealed against writes (a fresh file per batch: a sealed file cannot be written
// again) and through a Unix socket pair with 4 MiB buffers (a child writes, the parent reads), and a plain memcpy.
// Prints `name GB/s` lines.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void check(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(1);
    }
}

int main(void) {
    const size_t size = 20 << 20;
    const int batches = 20;
    char *source = malloc(size), *target = malloc(size);
    check(source && target, "malloc");
    memset(source, 7, size);
    memset(target, 0, size);

    double start = now();
    unsigned long touched = 0;
    for (int b = 0; b < batches; b++) {
        int fd = memfd_create("batch", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        check(fd >= 0 && ftruncate(fd, size) == 0, "memfd");
        char *w = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        check(w != MAP_FAILED, "mmap");
        memcpy(w, source, size);
        munmap(w, size);
        check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0, "seal");
        char *r = mmap(0, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        check(r != MAP_FAILED, "mmap");
        for (size_t i = 0; i < size; i += 4096) touched += r[i];
        munmap(r, size);
        close(fd);
    }
    printf("sealed-memfd %.2f\n", (double)size * batches / (now() - start) / 1e9);

    int ends[2];
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, ends) == 0, "socketpair");
    int buffer = 4 << 20;
    for (int i = 0; i < 2; i++) {
        setsockopt(ends[i], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        setsockopt(ends[i], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    }
    start = now();
    pid_t child = fork();
    check(child >= 0, "fork");
    if (child == 0) {
        for (int b = 0; b < batches; b++)
            for (size_t o = 0; o < size;) {
                ssize_t n = write(ends[0], source + o, size - o);
                if (n <= 0) _exit(1);
                o += n;
            }
        _exit(0);
    }
    for (int b = 0; b < batches; b++)
        for (size_t o = 0; o < size;) {
            ssize_t n = read(ends[1], target + o, size - o);
            check(n > 0, "read");
            o += n;
        }
    waitpid(child, 0, 0);
    printf("socketpair %.2f\n", (double)size * batches / (now() - start) / 1e9);

    start = now();
    for (int b = 0; b < batches; b++) memcpy(target, source, size);
    printf("memcpy %.2f\n", (double)size * batches / (now() - start) / 1e9);
    return touched == 0 && target[0] != 7;
}
