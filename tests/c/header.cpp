// The header in C++: it compiles with the extern "C" guards, and every
// function links against libsscard under its C name. Used by
// tests/libsscard.rs.

#include <sscard.h>

#include <cstdio>

int main() {
    char out[SSCARD_OUT_SIZE];
    static_assert(SSCARD_READ_OUT_SIZE == 20480, "20 KiB");
    static_assert(SSCARD_E_STATUS_WORD(0x6982) == -27010, "-(SW1*256+SW2)");
    // C++ callers pass string literals; a null argument is refused before
    // the library looks for the daemon.
    long rc = iReadCard_HSM_Step1(3, nullptr, "SSSEEF05|07|$", out);
    std::printf("%ld\n", rc);
    return rc == SSCARD_E_PARAM ? 0 : 1;
}
