/*
 * hsm_flow: an HSM session as counter software without a PSAM runs it,
 * through include/sscard.h, in one process (the library holds the session
 * between the steps):
 *
 *   hsm_flow bas ITYPE
 *   hsm_flow read ITYPE PCARDINFO PFILEADDR
 *   hsm_flow write ITYPE PCARDINFO PFILEADDR
 *   hsm_flow reload ITYPE PCARDINFO
 *   hsm_flow unblock ITYPE PCARDINFO
 *   hsm_flow lone2 PKEY          (iReadCardBas_HSM_Step2 with no Step1)
 *
 * After each step it prints "<return code>\n<length>\n", pOutInfo's bytes
 * and "\n", and stops at the first code that is not 0. Each later step's
 * pKey is one line of standard input (the back end's answer to the step
 * before); a write's pWriteData is the line after it. pOutInfo is the size
 * the interface promises followed by a guard region, checked as
 * sscard_call.c checks it (exit 3: written past; 4: no NUL).
 *
 * Used by tests/libsscard_hsm.rs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sscard.h>

#define GUARD 4096
#define PATTERN 0xA5
#define LINE 65536

static unsigned char region[SSCARD_READ_OUT_SIZE + GUARD];
static char line[LINE];
static char data[LINE];

static char *out_buffer(void) {
    memset(region, PATTERN, sizeof region);
    return (char *)region;
}

/* Prints one step's answer; answers whether the session goes on. */
static int report(const char *f, long rc, size_t size) {
    for (size_t i = size; i < size + GUARD; i++) {
        if (region[i] != PATTERN) {
            fprintf(stderr, "%s wrote past pOutInfo\n", f);
            exit(3);
        }
    }
    char *end = memchr(region, '\0', size);
    if (end == NULL) {
        fprintf(stderr, "%s left no NUL inside pOutInfo\n", f);
        exit(4);
    }
    size_t len = (size_t)(end - (char *)region);
    printf("%ld\n%zu\n", rc, len);
    fwrite(region, 1, len, stdout);
    printf("\n");
    fflush(stdout);
    return rc == 0;
}

static const char *next_line(char *buffer) {
    if (fgets(buffer, LINE, stdin) == NULL) exit(0);
    buffer[strcspn(buffer, "\r\n")] = '\0';
    return buffer;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: hsm_flow OPERATION ARG...\n");
        return 2;
    }
    const char *op = argv[1];
    int t = (int)strtol(argv[2], NULL, 10);
    char *out;
    if (strcmp(op, "bas") == 0) {
        out = out_buffer();
        if (!report("iReadCardBas_HSM_Step1", iReadCardBas_HSM_Step1(t, out), SSCARD_OUT_SIZE)) return 0;
        const char *key = next_line(line);
        out = out_buffer();
        report("iReadCardBas_HSM_Step2", iReadCardBas_HSM_Step2(key, out), SSCARD_OUT_SIZE);
    } else if (strcmp(op, "read") == 0 && argc == 5) {
        out = out_buffer();
        if (!report("iReadCard_HSM_Step1", iReadCard_HSM_Step1(t, argv[3], argv[4], out), SSCARD_OUT_SIZE)) return 0;
        const char *key = next_line(line);
        out = out_buffer();
        report("iReadCard_HSM_Step2", iReadCard_HSM_Step2(key, out), SSCARD_READ_OUT_SIZE);
    } else if (strcmp(op, "write") == 0 && argc == 5) {
        out = out_buffer();
        if (!report("iWriteCard_HSM_Step1", iWriteCard_HSM_Step1(t, argv[3], argv[4], out), SSCARD_OUT_SIZE)) return 0;
        const char *key = next_line(line);
        const char *write_data = next_line(data);
        out = out_buffer();
        report("iWriteCard_HSM_Step2", iWriteCard_HSM_Step2(key, write_data, out), SSCARD_OUT_SIZE);
    } else if (strcmp(op, "reload") == 0 && argc == 4) {
        out = out_buffer();
        if (!report("iReloadPIN_HSM_Step1", iReloadPIN_HSM_Step1(t, argv[3], out), SSCARD_OUT_SIZE)) return 0;
        const char *key = next_line(line);
        out = out_buffer();
        if (!report("iReloadPIN_HSM_Step2", iReloadPIN_HSM_Step2(key, out), SSCARD_OUT_SIZE)) return 0;
        key = next_line(line);
        out = out_buffer();
        report("iReloadPIN_HSM_Step3", iReloadPIN_HSM_Step3(key, out), SSCARD_OUT_SIZE);
    } else if (strcmp(op, "unblock") == 0 && argc == 4) {
        out = out_buffer();
        if (!report("iUnblockPIN_HSM_Step1", iUnblockPIN_HSM_Step1(t, argv[3], out), SSCARD_OUT_SIZE)) return 0;
        const char *key = next_line(line);
        out = out_buffer();
        if (!report("iUnblockPIN_HSM_Step2", iUnblockPIN_HSM_Step2(key, out), SSCARD_OUT_SIZE)) return 0;
        key = next_line(line);
        out = out_buffer();
        report("iUnblockPIN_HSM_Step3", iUnblockPIN_HSM_Step3(key, out), SSCARD_OUT_SIZE);
    } else if (strcmp(op, "lone2") == 0) {
        out = out_buffer();
        report("iReadCardBas_HSM_Step2", iReadCardBas_HSM_Step2(argv[2], out), SSCARD_OUT_SIZE);
    } else {
        fprintf(stderr, "unknown operation %s\n", op);
        return 2;
    }
    return 0;
}
