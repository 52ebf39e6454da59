/* The per-page cost of fresh anonymous memory that cost/vision/eager_alloc.py charges eager PyTorch for
 * (FAULT_S_PER_PAGE, UNMAP_S_PER_PAGE): a 512 MiB MAP_ANONYMOUS mapping with MADV_NOHUGEPAGE (4 KiB pages, as
 * glibc's mmap of a block above its threshold gets without madvise when the kernel's transparent huge pages are
 * in `madvise` mode, Ubuntu's default; in `always` mode such a mapping may get 2 MiB pages and far fewer faults, and
 * eager_alloc.py's cost is then an upper bound), one byte written per page (first touch:
 * a page fault that allocates, zeroes and maps the page), written again (no fault), then munmap. Best of 6, in
 * process CPU time, so other processes' time slices on a shared machine do not count. One thread: the model
 * divides the fault time by the threads that first touch a buffer, an estimate (concurrent faults of one
 * process contend on its page tables and mmap lock).
 *
 *   cc -O2 -o /tmp/bench_page_faults tools/vision/bench_page_faults.c && /tmp/bench_page_faults
 *
 * Stop 31 (2026-12-05), Linux 6.18 on an AMD EPYC VM core: first touch 1.37 us/page, retouch 0.016 us/page,
 * munmap 0.272-0.280 us/page. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    size_t size_bytes = 512UL << 20, pages = size_bytes / 4096;
    double first = 1e9, again = 1e9, unmap = 1e9;
    for (int r = 0; r < 6; r++) {
        char *p = mmap(0, size_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        if (madvise(p, size_bytes, MADV_NOHUGEPAGE) != 0) perror("madvise");
        double a = cpu_s();
        for (size_t i = 0; i < size_bytes; i += 4096) p[i] = 1;
        double b = cpu_s();
        for (size_t i = 0; i < size_bytes; i += 4096) p[i] = 2;
        double c = cpu_s();
        munmap(p, size_bytes);
        double d = cpu_s();
        if (b - a < first) first = b - a;
        if (c - b < again) again = c - b;
        if (d - c < unmap) unmap = d - c;
    }
    printf("first touch %.3f us/page, retouch %.4f us/page, munmap %.3f us/page\n",
           first / pages * 1e6, again / pages * 1e6, unmap / pages * 1e6);
    return 0;
}
