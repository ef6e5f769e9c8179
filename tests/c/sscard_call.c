/*
 * sscard_call: calls one function of libsscard the way counter software
 * does, through include/sscard.h, and prints what it answered:
 *
 *   sscard_call FUNCTION ARG...      (the function's arguments but pOutInfo)
 *
 * prints "<return code>\n<length>\n" and then pOutInfo's bytes, raw (GBK or
 * UTF-8). pOutInfo is the size the interface promises (SSCARD_OUT_SIZE, or
 * SSCARD_READ_OUT_SIZE for iReadCard) followed by a guard region; every
 * byte starts as a pattern, and after the call the guard must still hold
 * it and a NUL must end the text inside the buffer. Exit status: 0 when the
 * call returned (whatever its code), 2 for a bad command line, 3 when the
 * library wrote past pOutInfo, 4 when it left no NUL inside it, 5 when a
 * function that writes nothing wrote something.
 *
 * Used by tests/libsscard.rs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sscard.h>

#define GUARD 4096
#define PATTERN 0xA5

static int to_int(const char *s) { return (int)strtol(s, NULL, 10); }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sscard_call FUNCTION ARG...\n");
        return 2;
    }
    const char *f = argv[1];
    char **a = argv + 2;
    int n = argc - 2;
    size_t size = strcmp(f, "iReadCard") == 0 ? SSCARD_READ_OUT_SIZE : SSCARD_OUT_SIZE;
    unsigned char *region = malloc(size + GUARD);
    if (region == NULL) return 2;
    memset(region, PATTERN, size + GUARD);
    char *out = (char *)region;
    int writes_nothing = 0;
    long rc;

#define NEED(k) do { if (n != (k)) { fprintf(stderr, "%s takes %d arguments\n", f, (k)); return 2; } } while (0)
    if (strcmp(f, "iReadCardBas") == 0) { NEED(1); rc = iReadCardBas(to_int(a[0]), out); }
    else if (strcmp(f, "iReadCard") == 0) { NEED(4); rc = iReadCard(to_int(a[0]), to_int(a[1]), a[2], a[3], out); }
    else if (strcmp(f, "iWriteCard") == 0) { NEED(4); rc = iWriteCard(to_int(a[0]), a[1], a[2], a[3], out); }
    else if (strcmp(f, "iVerifyPIN") == 0) { NEED(1); rc = iVerifyPIN(to_int(a[0]), out); }
    else if (strcmp(f, "iChangePIN") == 0) { NEED(1); rc = iChangePIN(to_int(a[0]), out); }
    else if (strcmp(f, "iReloadPIN") == 0) { NEED(2); rc = iReloadPIN(to_int(a[0]), a[1], out); }
    else if (strcmp(f, "iUnblockPIN") == 0) { NEED(2); rc = iUnblockPIN(to_int(a[0]), a[1], out); }
    else if (strcmp(f, "iReadCardBas_HSM_Step1") == 0) { NEED(1); rc = iReadCardBas_HSM_Step1(to_int(a[0]), out); }
    else if (strcmp(f, "iReadCardBas_HSM_Step2") == 0) { NEED(1); rc = iReadCardBas_HSM_Step2(a[0], out); }
    else if (strcmp(f, "iReadCard_HSM_Step1") == 0) { NEED(3); rc = iReadCard_HSM_Step1(to_int(a[0]), a[1], a[2], out); }
    else if (strcmp(f, "iWriteCard_HSM_Step2") == 0) { NEED(2); rc = iWriteCard_HSM_Step2(a[0], a[1], out); }
    else if (strcmp(f, "iUnblockPIN_HSM_Step3") == 0) { NEED(1); rc = iUnblockPIN_HSM_Step3(a[0], out); }
    else if (strcmp(f, "iDoDebit") == 0) {
        /* The vendor's arguments, as a caller with its own prototype passes
         * them; the library must touch none of them. */
        NEED(0);
        long (*vendor)(int, char *, char *, char *) = (long (*)(int, char *, char *, char *))(void (*)(void))iDoDebit;
        rc = vendor(3, out, out + 64, out + 128);
        writes_nothing = 1;
    }
    else if (strcmp(f, "iReadDebitRecord") == 0) { NEED(0); rc = iReadDebitRecord(); writes_nothing = 1; }
    else { fprintf(stderr, "unknown function %s\n", f); return 2; }

    for (size_t i = size; i < size + GUARD; i++) {
        if (region[i] != PATTERN) {
            fprintf(stderr, "%s wrote past pOutInfo: byte %zu of the guard\n", f, i - size);
            return 3;
        }
    }
    if (writes_nothing) {
        for (size_t i = 0; i < size; i++) {
            if (region[i] != PATTERN) {
                fprintf(stderr, "%s wrote byte %zu\n", f, i);
                return 5;
            }
        }
        printf("%ld\n0\n", rc);
        return 0;
    }
    char *end = memchr(out, '\0', size);
    if (end == NULL) {
        fprintf(stderr, "%s left no NUL inside pOutInfo\n", f);
        return 4;
    }
    size_t len = (size_t)(end - out);
    printf("%ld\n%zu\n", rc, len);
    fwrite(out, 1, len, stdout);
    free(region);
    return 0;
}
