/*
 * sscard.h: libsscard, the national social security card terminal interface
 * (《社会保障卡读写终端接口规范》, 人社信息函〔2016〕38号) on Linux.
 *
 * The contract is docs/unified-interface.md. Every function is a client of
 * sscardd, the daemon that alone talks to the card; polkit, the audit trail
 * and per-reader queueing apply as for any other client.
 *
 *   cc app.c $(pkg-config --cflags --libs sscard)
 *
 * Conventions (docs/unified-interface.md section 2):
 *   - Every function returns 0 on success or a negative code (SSCARD_E_*).
 *     On failure pOutInfo holds a one-line message in Chinese.
 *   - Text is GBK, or UTF-8 when SSCARD_ENCODING=UTF-8.
 *   - pOutInfo is the caller's buffer of at least SSCARD_READ_OUT_SIZE
 *     bytes for iReadCard and iReadCard_HSM_Step2, SSCARD_OUT_SIZE for every
 *     other function. The library never writes more, the NUL included; a
 *     result that does not fit answers SSCARD_E_PARAM with a short message.
 *   - iType: 1 contact, 2 contactless (answers SSCARD_E_CARD_TYPE), 3 and 4
 *     automatic.
 *   - Calls are serialized within a process; any thread may call.
 *
 * Environment: SSCARD_BUS (system, session or a D-Bus address),
 * SSCARD_READER (a PC/SC reader name), SSCARD_ENCODING, SSCARD_PINENTRY
 * (the pinentry program), SSCARD_PINENTRY_TIMEOUT (seconds a prompt waits;
 * 0 for ever), SSCARD_LOG (a log filter; logs go to stderr).
 *
 * Not safe across fork(): a child process that calls the library must not
 * have been forked while another thread was inside a call, and starts its
 * own connection only if it execs.
 *
 * The library's SONAME is libsscard.so.1.
 */

#ifndef SSCARD_H
#define SSCARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* The smallest pOutInfo of iReadCard and iReadCard_HSM_Step2 (20 KiB). */
#define SSCARD_READ_OUT_SIZE 20480
/* The smallest pOutInfo of every other function. */
#define SSCARD_OUT_SIZE 1024

/* Return codes (docs/unified-interface.md section 6). */
#define SSCARD_OK 0
#define SSCARD_E_CARD_TYPE (-1)             /* 卡类型不对: not this kind of card, or iType 2 */
#define SSCARD_E_NO_CARD (-2)               /* 无卡 */
#define SSCARD_E_NO_ANSWER (-4)             /* 卡无应答: the card timed out */
#define SSCARD_E_READER (-11)               /* 读卡器连接错: sscardd unreachable, or not authorized */
#define SSCARD_E_UNSUPPORTED (-13)          /* 不支持该命令 */
#define SSCARD_E_PARAM (-14)                /* 命令参数错: a malformed argument, or a result too large */
#define SSCARD_E_CARD_ID_FORMAT (-20)       /* 卡识别码格式错 */
#define SSCARD_E_INTERNAL_AUTH (-21)        /* 内部认证失败 */
#define SSCARD_E_MISMATCH (-22)             /* 传入数据与卡内不符: pCardInfo is not this card */
#define SSCARD_E_INVALID_DATA (-23)         /* 传入数据不合法: a rule refuses the data */
#define SSCARD_E_PIN_CANCELLED (-31)        /* the PIN prompt was cancelled */
#define SSCARD_E_PIN_TIMEOUT (-32)          /* the PIN prompt timed out */
#define SSCARD_E_PIN_LENGTH (-33)           /* a PIN of the wrong length */
#define SSCARD_E_PIN_ENTRIES_DIFFER (-34)   /* the two entries of a new PIN differ */
#define SSCARD_E_INITIAL_PIN (-36)          /* 不能改为初始密码 */
#define SSCARD_E_WRONG_PIN (-51)            /* PIN校验失败，剩余次数N次 */
#define SSCARD_E_PIN_BLOCKED (-52)          /* PIN锁定 */
#define SSCARD_E_NO_PSAM (-2201)            /* 无PSAM卡: fall back to the HSM functions */
#define SSCARD_E_NO_READ_KEY (-2203)        /* PSAM卡内没有RKSSSE密钥 */
/* A card's status word SW1SW2 answers -(SW1 * 256 + SW2), e.g. -27010 for 6982. */
#define SSCARD_E_STATUS_WORD(sw) (-(long)(sw))

/* Reads the basic information: eleven fields, each followed by '|':
 * region|SSN|card number|card identifier|name|ATR historical bytes|
 * spec version|issue date|expiry date|terminal number|terminal device|
 * pOutInfo: SSCARD_OUT_SIZE bytes. A gen3 card without a PSAM answers
 * SSCARD_E_NO_PSAM. */
long iReadCardBas(int iType, char *pOutInfo);

/* Reads the items pFileAddr names ("SSSEEF05|07|$SSSEEF06|08|09|$",
 * "SSSEEF08|$" for the photo) of the card pCardInfo names
 * ("card identifier|card number|"). The output mirrors pFileAddr with a
 * value in place of each tag. iAuthType: 1 or 2.
 * pOutInfo: SSCARD_READ_OUT_SIZE bytes. */
long iReadCard(int iType, int iAuthType, const char *pCardInfo, const char *pFileAddr, char *pOutInfo);

/* Writes pWriteData (pFileAddr's form with the new values) into the card
 * pCardInfo names. Every consistency rule applies: a refused write answers
 * SSCARD_E_INVALID_DATA and changes nothing. pOutInfo: SSCARD_OUT_SIZE
 * bytes; empty on success. */
long iWriteCard(int iType, const char *pCardInfo, const char *pFileAddr, const char *pWriteData, char *pOutInfo);

/* Verifies the PIN the holder types (PIN pad, or pinentry). A wrong PIN
 * answers SSCARD_E_WRONG_PIN with the tries left in pOutInfo; a blocked one
 * SSCARD_E_PIN_BLOCKED. pOutInfo: SSCARD_OUT_SIZE bytes. */
long iVerifyPIN(int iType, char *pOutInfo);

/* Changes the PIN: the holder types the old one, then the new one twice.
 * pOutInfo: SSCARD_OUT_SIZE bytes. */
long iChangePIN(int iType, char *pOutInfo);

/* Sets a new PIN (typed twice) on the card pCardInfo names, with the PSAM.
 * pOutInfo: SSCARD_OUT_SIZE bytes. */
long iReloadPIN(int iType, const char *pCardInfo, char *pOutInfo);

/* Unblocks the PIN of the card pCardInfo names (resets its try counter),
 * with the PSAM. pOutInfo: SSCARD_OUT_SIZE bytes. */
long iUnblockPIN(int iType, const char *pCardInfo, char *pOutInfo);

/* HSM mode (section 7): the keys are in the back end's encryption machine.
 * The daemon holds the session between the steps (the reader's transaction
 * included); the library holds its object path, one per process. A Step1
 * abandons the session the process still holds; a later step without its
 * Step1 answers SSCARD_E_PARAM (-14). pOutInfo: SSCARD_OUT_SIZE bytes,
 * SSCARD_READ_OUT_SIZE for iReadCard_HSM_Step2. iReloadPIN_HSM_Step2 asks
 * for the new PIN as iReloadPIN does. */
long iReadCardBas_HSM_Step1(int iType, char *pOutInfo);
long iReadCardBas_HSM_Step2(const char *pKey, char *pOutInfo);
long iReadCard_HSM_Step1(int iType, const char *pCardInfo, const char *pFileAddr, char *pOutInfo);
long iReadCard_HSM_Step2(const char *pKey, char *pOutInfo);
long iWriteCard_HSM_Step1(int iType, const char *pCardInfo, const char *pFileAddr, char *pOutInfo);
long iWriteCard_HSM_Step2(const char *pKey, const char *pWriteData, char *pOutInfo);
long iReloadPIN_HSM_Step1(int iType, const char *pCardInfo, char *pOutInfo);
long iReloadPIN_HSM_Step2(const char *pKey, char *pOutInfo);
long iReloadPIN_HSM_Step3(const char *pKey, char *pOutInfo);
long iUnblockPIN_HSM_Step1(int iType, const char *pCardInfo, char *pOutInfo);
long iUnblockPIN_HSM_Step2(const char *pKey, char *pOutInfo);
long iUnblockPIN_HSM_Step3(const char *pKey, char *pOutInfo);

/* The debit functions: the profile has no debit application, so each
 * answers SSCARD_E_UNSUPPORTED and writes nothing, not even a message (the
 * deployments' argument lists differ, so no buffer is touched). They take
 * no arguments here; a caller that passes the vendor's arguments under the
 * platform C ABI gets the same answer. */
long iDoDebit(void);
long iReadDebitRecord(void);
long iDoDebit_HSM_Step1(void);
long iDoDebit_HSM_Step2(void);

#ifdef __cplusplus
}
#endif

#endif /* SSCARD_H */
