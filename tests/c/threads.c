/*
 * threads: THREADS threads each call iReadCardBas CALLS times in one
 * process, as a counter application with several windows does. Every
 * answer must be 0 and the same line as the first call's, which main()
 * makes before the threads start.
 *
 *   threads THREADS CALLS
 *
 * Prints the first line, then "failures <n>"; exits 0 only when there
 * was none. Used by tests/libsscard.rs.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sscard.h>

static char reference[SSCARD_OUT_SIZE];
static int calls;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void *reader(void *arg) {
    (void)arg;
    char out[SSCARD_OUT_SIZE];
    for (int i = 0; i < calls; i++) {
        long rc = iReadCardBas(3, out);
        if (rc != 0 || strcmp(out, reference) != 0) {
            pthread_mutex_lock(&lock);
            failures++;
            fprintf(stderr, "call %d: %ld\n", i, rc);
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: threads THREADS CALLS\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    calls = atoi(argv[2]);
    if (threads < 1 || threads > 64 || calls < 1) return 2;
    long rc = iReadCardBas(1, reference);
    if (rc != 0) {
        fprintf(stderr, "first call: %ld\n", rc);
        return 1;
    }
    pthread_t ids[64];
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&ids[t], NULL, reader, NULL) != 0) return 1;
    }
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    printf("%s\nfailures %d\n", reference, failures);
    return failures == 0 ? 0 : 1;
}
