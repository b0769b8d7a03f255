/*
 * Log records are formatted into a stack buffer and written with one
 * fputs so that lines from concurrent threads do not interleave. The text
 * form is "<ts> <level> [<request id>] <message>"; the JSON form one object
 * per line. The request id is the calling thread's (set by the HTTP front
 * end around each request), so lines from deep inside the store carry it
 * without being passed it.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool log_json; /* set once at start-up, before other threads */
static _Thread_local char request_id[65];

void vmdb_log_set_json(bool json)
{
    log_json = json;
}

void vmdb_log_set_request_id(const char *id)
{
    if (!id) {
        request_id[0] = 0;
        return;
    }
    size_t n = strlen(id);
    n = n < sizeof request_id ? n : sizeof request_id - 1;
    memcpy(request_id, id, n);
    request_id[n] = 0;
}

const char *vmdb_log_request_id(void)
{
    return request_id;
}

/* `s` as the inside of a JSON string into dst (at most cap - 1 bytes, NUL
 * ended, never cutting an escape); returns the length written. Bytes >=
 * 0x80 are copied as they are: the messages are UTF-8 or ASCII. */
static size_t json_escape(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[7];
        size_t k = 0;
        if (ch == '"' || ch == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)ch;
        } else if (ch == '\n') {
            esc[k++] = '\\';
            esc[k++] = 'n';
        } else if (ch == '\t') {
            esc[k++] = '\\';
            esc[k++] = 't';
        } else if (ch < 0x20) {
            esc[k++] = '\\';
            esc[k++] = 'u';
            esc[k++] = '0';
            esc[k++] = '0';
            esc[k++] = hex[ch >> 4];
            esc[k++] = hex[ch & 15];
        } else {
            esc[k++] = (char)ch;
        }
        if (n + k + 1 > cap)
            break;
        memcpy(dst + n, esc, k);
        n += k;
    }
    dst[n] = 0;
    return n;
}

void vmdb_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048], msg[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[64];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        msg[0] = 0;
    int n = 0;
    if (log_json) {
        char esc[1800];
        json_escape(esc, sizeof esc, msg);
        n = request_id[0]
                ? snprintf(line, sizeof line,
                           "{\"ts\":\"%s\",\"level\":\"%s\",\"request_id\":\"%s\","
                           "\"msg\":\"%s\"}",
                           stamp, names[level & 3], request_id, esc)
                : snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}",
                           stamp, names[level & 3], esc);
    } else {
        n = request_id[0] ? snprintf(line, sizeof line, "%s %s [%s] %s", stamp, names[level & 3],
                                     request_id, msg)
                          : snprintf(line, sizeof line, "%s %s %s", stamp, names[level & 3], msg);
    }
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len] = '\n';
    line[len + 1] = 0;
    fputs(line, stderr);
}
