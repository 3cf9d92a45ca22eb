/* bcryptprimitives.dll for Wine 8, which lacks it: Rust's std (1.78+) imports ProcessPrng
 * from it to fill its random keys, so no current Rust program starts under Wine 8 without
 * it. ProcessPrng fills the buffer from the system RNG and cannot fail; advapi32's
 * SystemFunction036 (RtlGenRandom) is the same generator, at most 4 GiB a call.
 * Only .ci/windows-smoke builds this (x86_64-w64-mingw32-gcc); nothing ships it. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffffu ? 0x7fffffffu : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
