/*
 * Thread-local "last error" line. The message is advisory: codes decide
 * control flow, the text is for logs.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"

static _Thread_local char last_error[256];

int vmdb_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return code;
}

void vmdb_error_clear(void)
{
    last_error[0] = '\0';
}

const char *vmdb_error_last(void)
{
    return last_error;
}

const char *vmdb_error_name(int err)
{
    switch (err) {
    case VMDB_OK:
        return "VMDB_OK";
    case VMDB_ENOMEM:
        return "VMDB_ENOMEM";
    case VMDB_EINVAL:
        return "VMDB_EINVAL";
    case VMDB_EPARSE:
        return "VMDB_EPARSE";
    case VMDB_ERANGE:
        return "VMDB_ERANGE";
    case VMDB_ELIMIT:
        return "VMDB_ELIMIT";
    case VMDB_EVERIFY:
        return "VMDB_EVERIFY";
    case VMDB_ENOTFOUND:
        return "VMDB_ENOTFOUND";
    case VMDB_ECRYPTO:
        return "VMDB_ECRYPTO";
    case VMDB_EBUSY:
        return "VMDB_EBUSY";
    case VMDB_EIO:
        return "VMDB_EIO";
    default:
        return "VMDB_E?";
    }
}
