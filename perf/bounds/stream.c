/* STREAM-like triad a[i] = b[i] + s * c[i] with OpenMP: the machine's memory bandwidth bound.
 *
 *   stream [--n ELEMENTS] [--threads T] [--reps R]
 *
 * For each thread count 1..T prints one JSON line with the best of R triads, counting
 * 3 x 8 bytes per element as STREAM does (no write-allocate traffic).
 * The arrays are first touched in parallel, as the triad touches them, outside the timing. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    long n = 1L << 26; /* 3 arrays x 512 MiB: far beyond any cache */
    int threads = 2, reps = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = (long)atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 1; }
    const double s = 3.0;

    for (int t = 1; t <= threads; t++) {
        omp_set_num_threads(t);
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) { a[i] = 0.0; b[i] = 1.0; c[i] = 2.0; }
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
            for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i];
            double dt = omp_get_wtime() - t0;
            if (dt < best) best = dt;
        }
        if (a[n / 2] != 7.0) { fprintf(stderr, "triad gave a wrong answer\n"); return 1; }
        double bytes = 3.0 * sizeof(double) * n;
        printf("{\"bound\": \"stream_triad\", \"threads\": %d, \"n\": %ld, \"seconds\": %.9g, "
               "\"gb_per_s\": %.3f}\n", t, n, best, bytes / best / 1e9);
    }
    free(a); free(b); free(c);
    return 0;
}
