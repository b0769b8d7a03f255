/*
 * Whole-file reads and atomic replacement (see file.h). Reads stop one byte
 * past the cap, so a file that grows while it is read, or one whose size
 * fstat cannot tell (a pipe, /proc), is still bounded by `max`.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "util/log.h"
#include "util/sb.h"

/* Largest read() asked for at once; the buffer grows by at most this. */
#define READ_STEP ((size_t)64 << 10)

int vmdb_file_read(const char *path, vmdb_buf *out, size_t max)
{
    int rc = 0, fd = -1;
    struct stat st;

    out->len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = vmdb_error_set(errno == ENOENT ? VMDB_ENOTFOUND : VMDB_EIO, "%s: %s", path,
                            strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        rc = vmdb_error_set(VMDB_EIO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        rc = vmdb_error_set(VMDB_ELIMIT, "%s: larger than %zu bytes", path, max);
        goto done;
    }
    /* A regular file's size is known: one allocation, one read. */
    size_t hint = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    if ((rc = vmdb_buf_reserve(out, hint + 1)))
        goto done;
    for (;;) {
        ssize_t k;
        if (out->len == max) {
            /* At the cap: anything more is too much. */
            uint8_t extra;
            k = read(fd, &extra, 1);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                rc = vmdb_error_set(VMDB_EIO, "%s: %s", path, strerror(errno));
                goto done;
            }
            if (k > 0) {
                rc = vmdb_error_set(VMDB_ELIMIT, "%s: larger than %zu bytes", path, max);
                goto done;
            }
            break;
        }
        size_t want = max - out->len;
        if (want > READ_STEP)
            want = READ_STEP;
        /* Room for `want` bytes and the NUL, reading what is free anyway. */
        if (out->cap - out->len < 2 && (rc = vmdb_buf_reserve(out, want + 1)))
            goto done;
        if (want > out->cap - out->len - 1)
            want = out->cap - out->len - 1;
        k = read(fd, out->ptr + out->len, want);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = vmdb_error_set(VMDB_EIO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (k == 0)
            break;
        out->len += (size_t)k;
    }
    rc = vmdb_sb_cstr(out);
done:
    if (fd >= 0)
        close(fd);
    if (rc)
        out->len = 0;
    return rc;
}

int vmdb_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    int rc = VMDB_EIO, fd = -1;
    vmdb_buf tmp = VMDB_BUF_INIT;
    char dirbuf[4096];
    if (vmdb_sb_printf(&tmp, "%s.tmp", path) || vmdb_sb_cstr(&tmp))
        return VMDB_ENOMEM;
    fd = open((const char *)tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        goto done;
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            goto done;
        p += k;
        left -= (size_t)k;
    }
    if (fsync(fd) != 0)
        goto done;
    if (close(fd) != 0) {
        fd = -1;
        goto done;
    }
    fd = -1;
    if (rename((const char *)tmp.ptr, path) != 0)
        goto done;
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        goto done;
    int s = fsync(dfd);
    close(dfd);
    if (s != 0)
        goto done;
    rc = 0;
done:
    if (rc)
        LOG_ERROR("cannot write %s durably: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink((const char *)tmp.ptr);
    vmdb_buf_free(&tmp);
    return rc;
}

char *vmdb_file_path(const char *dir, const char *name)
{
    vmdb_buf b = VMDB_BUF_INIT;
    if (vmdb_sb_printf(&b, "%s/%s", dir, name) || vmdb_sb_cstr(&b)) {
        vmdb_buf_free(&b);
        return NULL;
    }
    return (char *)b.ptr;
}
